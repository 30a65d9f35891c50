// channel_bench.cpp — round trip of a small item through two channels,
// between two threads of one process and between two processes.
//
// Each iteration sends one 8-byte block on `ping` and waits for it to come
// back on `pong` from an echo peer: send, receive, send, receive, with the
// arena lock, the ledger moves and the wake-ups of both sides. The waiting
// side spins briefly before it sleeps, so on two free cores this measures
// the spin path; on a loaded machine, futex wake-ups.
#include <benchmark/benchmark.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "shoal/arena.hpp"
#include "shoal/channel.hpp"
#include "shoal/errors.hpp"
#include "shoal/holder.hpp"

namespace {

// Echoes every item from `ping` back on `pong` until `ping` is closed.
void echo(shoal::Arena& arena, shoal::Handle ping_handle, shoal::Handle pong_handle) {
  auto holder = arena.attach_holder();
  shoal::Channel ping = shoal::Channel::open(*holder, ping_handle);
  shoal::Channel pong = shoal::Channel::open(*holder, pong_handle);
  try {
    for (;;) {
      shoal::HeldBlock item = ping.recv();
      pong.send(item.handle());
    }
  } catch (const shoal::ChannelClosed&) {
  }
}

void BM_channel_round_trip(benchmark::State& state) {
  const bool processes = state.range(0) == 1;
  const std::string name = "bench-channel-" + std::to_string(getpid());
  shoal::Arena::destroy(name);
  auto arena = shoal::Arena::create(name, 64ull << 20);
  auto holder = arena->attach_holder();
  shoal::Channel ping = shoal::Channel::create(*holder, 4);
  shoal::Channel pong = shoal::Channel::create(*holder, 4);
  shoal::HeldBlock item = holder->allocate(8);

  pid_t peer_process = 0;
  std::thread peer_thread;
  if (processes) {
    peer_process = fork();
    if (peer_process == 0) {
      auto mine = shoal::Arena::attach(name);
      echo(*mine, ping.handle(), pong.handle());
      _exit(0);
    }
  } else {
    peer_thread = std::thread([&] { echo(*arena, ping.handle(), pong.handle()); });
  }
  for (auto _ : state) {
    ping.send(item.handle());
    shoal::HeldBlock back = pong.recv();
    benchmark::DoNotOptimize(back.bytes().data());
  }
  ping.close();
  if (processes) {
    waitpid(peer_process, nullptr, 0);
  } else {
    peer_thread.join();
  }
}

}  // namespace

BENCHMARK(BM_channel_round_trip)->Arg(0)->Arg(1)->ArgName("processes")->UseRealTime();

BENCHMARK_MAIN();
