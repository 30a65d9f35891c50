// arena_demo.cpp — what the arena does today, in one run.
//
//  1. Creates an arena with an embedded broker (a reaper thread).
//  2. A producer process fills a 256 MiB block; a consumer process, given
//     only its handle (16 bytes through a pipe), reads it in place: no copy.
//  3. A process holding 64 MiB is killed with SIGKILL; the broker releases
//     what it held, and used bytes return to where they were.
//
// Run it with `bash scripts/demo.sh`, or directly: build/examples/arena_demo
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <string>
#include <thread>

#include "shoal/arena.hpp"
#include "shoal/broker.hpp"
#include "shoal/holder.hpp"
#include "shoal/size.hpp"

using namespace shoal;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

void show(const char* when, Arena& arena) {
  const ArenaStats s = arena.stats();
  std::printf("  %-44s used %10s  blocks %3llu  holders %llu  reaped %llu\n", when, format_size(s.used_bytes).c_str(),
              static_cast<unsigned long long>(s.used_blocks), static_cast<unsigned long long>(s.holders),
              static_cast<unsigned long long>(s.reaped_holders));
}

// Producer: makes a block, fills it, sends its handle, waits to be told to exit.
int producer(const std::string& name, int handle_pipe, int done_pipe, std::uint64_t bytes) {
  auto arena = Arena::attach(name);
  auto holder = arena->attach_holder();
  HeldBlock block = holder->allocate(bytes, layout::BlockKind::blob);
  auto* words = reinterpret_cast<std::uint64_t*>(block.bytes().data());
  for (std::uint64_t i = 0; i < bytes / 8; ++i) words[i] = i;
  const Handle h = block.handle();
  if (write(handle_pipe, &h, sizeof h) != sizeof h) return 1;
  char c;
  return read(done_pipe, &c, 1) == 1 ? 0 : 1;
}

// Consumer: retains the block by handle and sums it where it lies.
int consumer(const std::string& name, Handle h) {
  auto arena = Arena::attach(name);
  auto holder = arena->attach_holder();
  const auto start = Clock::now();
  HeldBlock block = holder->retain(h);
  const double handoff_ms = ms_since(start);
  const auto* words = reinterpret_cast<const std::uint64_t*>(block.bytes().data());
  const std::uint64_t n = block.bytes().size() / 8;
  const auto sum_start = Clock::now();
  const std::uint64_t sum = std::accumulate(words, words + n, std::uint64_t{0});
  std::printf("  consumer (pid %d): took the %s block in %.3f ms, summed it in place in %.0f ms: %s\n", getpid(),
              format_size(block.bytes().size()).c_str(), handoff_ms, ms_since(sum_start),
              sum == n * (n - 1) / 2 ? "correct" : "WRONG");
  std::fflush(stdout);  // the child leaves with _exit, which does not flush
  return sum == n * (n - 1) / 2 ? 0 : 1;
}

}  // namespace

int main() {
  const std::string name = "demo-" + std::to_string(getpid());
  auto arena = Arena::create(name, 1ull << 30);
  Broker broker(arena, std::chrono::milliseconds(50));
  std::printf("arena '%s': %s at /dev/shm/%s, broker reaping every 50 ms\n", name.c_str(),
              format_size(arena->size()).c_str(), Arena::segment_name(name).c_str());
  show("empty", *arena);

  std::printf("\n1. zero-copy hand-off between processes\n");
  int handles[2], done[2];
  if (pipe(handles) != 0 || pipe(done) != 0) return 1;
  std::fflush(stdout);  // or the children would print it again
  const pid_t p = fork();
  if (p == 0) _exit(producer(name, handles[1], done[0], 256ull << 20));
  Handle h;
  if (read(handles[0], &h, sizeof h) != sizeof h) return 1;
  show("producer filled 256 MiB", *arena);
  std::fflush(stdout);
  const pid_t c = fork();
  if (c == 0) _exit(consumer(name, h));
  int status = 0;
  waitpid(c, &status, 0);
  const bool consumer_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (write(done[1], "x", 1) != 1) return 1;
  waitpid(p, &status, 0);
  show("both exited: the block is freed", *arena);

  std::printf("\n2. a holder killed with SIGKILL\n");
  const std::uint64_t baseline = arena->stats().used_bytes;
  std::fflush(stdout);
  const pid_t victim = fork();
  if (victim == 0) {
    auto a = Arena::attach(name);
    auto holder = a->attach_holder();
    HeldBlock big = holder->allocate(64ull << 20);
    std::memset(big.bytes().data(), 1, big.bytes().size());
    if (write(handles[1], &h, sizeof h) != sizeof h) _exit(1);
    for (;;) pause();
  }
  if (read(handles[0], &h, sizeof h) != sizeof h) return 1;
  show("victim holds 64 MiB", *arena);
  kill(victim, SIGKILL);
  waitpid(victim, nullptr, 0);
  const auto killed = Clock::now();
  while (arena->stats().used_bytes != baseline && ms_since(killed) < 5000) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::printf("  broker reclaimed the victim's memory %.0f ms after the kill\n", ms_since(killed));
  show("after reaping", *arena);
  const auto problems = arena->check();
  std::printf("  consistency check: %s\n", problems.empty() ? "sound" : problems.front().c_str());
  return consumer_ok && problems.empty() && arena->stats().used_bytes == baseline ? 0 : 1;
}
