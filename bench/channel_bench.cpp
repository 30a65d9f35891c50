// channel_bench.cpp — round trip of a small item through two channels,
// between two threads of one process and between two processes; and the
// one-way hand-off to a receiver that has been asleep.
//
// Each iteration sends one 8-byte block on `ping` and waits for it to come
// back on `pong` from an echo peer: send, receive, send, receive, with the
// arena lock, the ledger moves and the wake-ups of both sides. The waiting
// side spins briefly before it sleeps, so on two free cores this measures
// the spin path; on a loaded machine, futex wake-ups.
#include <benchmark/benchmark.h>
#include <sys/wait.h>
#include <unistd.h>

#include <time.h>

#include <chrono>
#include <cstring>
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

double monotonic_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// One way, to a receiver asleep for 2 ms (its spin long over), between two
// processes: from just before the send to the receiver holding the item,
// as the receiver's own clock reading sent back says. After sending, the
// sender either waits for that reading on a channel (spinning first), or,
// with sender_computes:1, computes for 200 µs first. The kernel here often
// queues the woken receiver on the sender's CPU (spin.hpp): a spinning
// waiter's periodic yield covers the first case, the sender's yield right
// after a wake the second (without it, the receiver waited out the 200 µs).
void BM_channel_one_way_to_sleeper(benchmark::State& state) {
  const bool sender_computes = state.range(0) == 1;
  const std::string name = "bench-oneway-" + std::to_string(getpid());
  shoal::Arena::destroy(name);
  auto arena = shoal::Arena::create(name, 64ull << 20);
  auto holder = arena->attach_holder();
  shoal::Channel items = shoal::Channel::create(*holder, 4);
  shoal::Channel stamps = shoal::Channel::create(*holder, 4);
  const pid_t receiver = fork();
  if (receiver == 0) {
    auto mine = shoal::Arena::attach(name);
    auto h = mine->attach_holder();
    shoal::Channel in = shoal::Channel::open(*h, items.handle());
    shoal::Channel out = shoal::Channel::open(*h, stamps.handle());
    try {
      for (;;) {
        in.receive();
        const double received = monotonic_seconds();
        std::uint64_t bits = 0;
        std::memcpy(&bits, &received, sizeof bits);
        out.send_inline({shoal::layout::InlineTag::float64, bits});
      }
    } catch (const shoal::ChannelClosed&) {
    }
    _exit(0);
  }
  for (auto _ : state) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    const double sent = monotonic_seconds();
    items.send_inline({shoal::layout::InlineTag::int64, 1});
    if (sender_computes) {
      std::uint64_t work = 0;
      while (monotonic_seconds() - sent < 200e-6) benchmark::DoNotOptimize(++work);
    }
    const shoal::Channel::Item stamp = stamps.receive();
    double received = 0;
    std::memcpy(&received, &stamp.value.word, sizeof received);
    state.SetIterationTime(received - sent);
  }
  items.close();
  waitpid(receiver, nullptr, 0);
  arena.reset();
  shoal::Arena::destroy(name);
}

}  // namespace

BENCHMARK(BM_channel_round_trip)->Arg(0)->Arg(1)->ArgName("processes")->UseRealTime();
BENCHMARK(BM_channel_one_way_to_sleeper)->Arg(0)->Arg(1)->ArgName("sender_computes")->UseManualTime()
    ->Iterations(300);

BENCHMARK_MAIN();
