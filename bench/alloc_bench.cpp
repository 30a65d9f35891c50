// alloc_bench.cpp — arena allocate+free latency beside malloc/free.
//
// Each iteration allocates one block and frees it again. For shoal, blocks
// of up to 4 KiB are recycled by the holder's attaching thread without the
// lock (holder.hpp, "Recycling"): the free marks the block cached, the next
// allocation takes it back. Larger blocks, and every block in the
// "locked" variant (a holder attached by another thread, so this one takes
// the shared path), pay Holder::allocate (lock, find a fit, split, record
// in the ledger) and the release (lock, clear the entry, free, merge).
// Payloads are not touched by either side, so first-touch page faults are
// not measured.
//
// Variants: one thread alone; and "two processes", where a forked process
// runs the same loop on the same arena at the same time (the arena lock is
// then contended across cores). malloc's two-process variant runs a second
// process too, for the same machine load, though malloc shares nothing.
#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "shoal/arena.hpp"
#include "shoal/holder.hpp"

namespace {

// Anonymous shared flag to stop the background process.
std::atomic<int>* shared_flag() {
  static auto* flag = static_cast<std::atomic<int>*>(
      mmap(nullptr, sizeof(std::atomic<int>), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  return flag;
}

std::string arena_name() { return "bench-alloc-" + std::to_string(getpid()); }

struct ArenaUnderTest {
  std::shared_ptr<shoal::Arena> arena;
  std::unique_ptr<shoal::Holder> holder;
  // attached_here: false attaches the holder from another thread, so that
  // this one takes the locked path even for small blocks.
  explicit ArenaUnderTest(bool attached_here = true) {
    shoal::Arena::destroy(arena_name());
    arena = shoal::Arena::create(arena_name(), 1ull << 30);
    if (attached_here) {
      holder = arena->attach_holder();
    } else {
      std::thread([&] { holder = arena->attach_holder(); }).join();
    }
  }
};

// A second process doing `work` until told to stop.
template <typename Work>
pid_t start_background(Work work) {
  shared_flag()->store(0);
  const pid_t pid = fork();
  if (pid == 0) {
    while (shared_flag()->load(std::memory_order_relaxed) == 0) work();
    _exit(0);
  }
  return pid;
}

void stop_background(pid_t pid) {
  shared_flag()->store(1);
  waitpid(pid, nullptr, 0);
}

void shoal_alloc_free(benchmark::State& state, bool recycling) {
  const auto bytes = static_cast<std::uint64_t>(state.range(0));
  const bool two_processes = state.range(1) == 2;
  ArenaUnderTest t(recycling);
  pid_t other = 0;
  if (two_processes) {
    const std::string name = t.arena->name();
    other = start_background([name, bytes, arena = std::shared_ptr<shoal::Arena>(),
                              holder = std::shared_ptr<shoal::Holder>()]() mutable {
      if (!arena) {
        arena = shoal::Arena::attach(name);
        holder = arena->attach_holder();
      }
      shoal::HeldBlock b = holder->allocate(bytes);
      benchmark::DoNotOptimize(b.bytes().data());
    });
  }
  for (auto _ : state) {
    shoal::HeldBlock b = t.holder->allocate(bytes);
    benchmark::DoNotOptimize(b.bytes().data());
  }
  if (two_processes) stop_background(other);
}

void BM_shoal_alloc_free(benchmark::State& state) { shoal_alloc_free(state, /*recycling=*/true); }
void BM_shoal_alloc_free_locked(benchmark::State& state) { shoal_alloc_free(state, /*recycling=*/false); }

void BM_malloc_free(benchmark::State& state) {
  const auto bytes = static_cast<std::size_t>(state.range(0));
  const bool two_processes = state.range(1) == 2;
  pid_t other = 0;
  if (two_processes) {
    other = start_background([bytes] {
      void* p = std::malloc(bytes);
      benchmark::DoNotOptimize(p);
      std::free(p);
    });
  }
  for (auto _ : state) {
    void* p = std::malloc(bytes);
    benchmark::DoNotOptimize(p);
    std::free(p);
  }
  if (two_processes) stop_background(other);
}

void sizes_and_processes(benchmark::internal::Benchmark* b) {
  for (std::int64_t processes : {1, 2}) {
    for (std::int64_t bytes : {64, 4096, 1 << 20, 64 << 20}) b->Args({bytes, processes});
  }
  b->ArgNames({"bytes", "processes"});
}

}  // namespace

BENCHMARK(BM_shoal_alloc_free)->Apply(sizes_and_processes);
BENCHMARK(BM_shoal_alloc_free_locked)->Apply(sizes_and_processes);
BENCHMARK(BM_malloc_free)->Apply(sizes_and_processes);

BENCHMARK_MAIN();
