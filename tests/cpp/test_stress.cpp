// test_stress.cpp — several processes times several threads allocating,
// sharing and freeing at once. Run it under ThreadSanitizer (README) to
// check the in-process side; the cross-process side is checked by the
// consistency check and exact refcounts at the end.
#include <gtest/gtest.h>

#include <random>
#include <thread>
#include <vector>

#include "shoal/arena.hpp"
#include "shoal/errors.hpp"
#include "shoal/holder.hpp"
#include "test_support.hpp"

namespace shoal {
namespace {

constexpr int kProcesses = 3;
constexpr int kThreads = 3;

void churn(Arena& arena, const std::vector<Handle>& shared, std::uint64_t seed, int ops) {
  // One holder per thread, as each interpreter has its own.
  auto holder = arena.attach_holder(static_cast<std::int64_t>(seed % 1000));
  std::mt19937_64 rng(seed);
  std::vector<HeldBlock> held;
  for (int i = 0; i < ops; ++i) {
    const unsigned op = static_cast<unsigned>(rng() % 10);
    try {
      if (op < 4 && held.size() < 200) {
        held.push_back(holder->allocate(rng() % 8192));
      } else if (op < 7 && held.size() < 200) {
        held.push_back(holder->retain(shared[rng() % shared.size()]));
      } else if (!held.empty()) {
        std::swap(held[rng() % held.size()], held.back());
        held.pop_back();
      }
    } catch (const ArenaFull&) {
      held.clear();
    }
  }
}

void run_threads(Arena& arena, const std::vector<Handle>& shared, std::uint64_t seed, int ops) {
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] { churn(arena, shared, seed * 100 + static_cast<std::uint64_t>(t), ops); });
  }
  for (auto& thread : threads) thread.join();
}

TEST(Stress, ProcessesTimesThreadsKeepExactCounts) {
  const int ops = testing::env_int("SHOAL_STRESS_OPS", 20000);
  testing::ScopedName n("stress");
  auto arena = Arena::create(n.name, 128ull << 20);
  auto holder = arena->attach_holder();
  std::vector<HeldBlock> shared_blocks;
  std::vector<Handle> shared;
  for (int i = 0; i < 16; ++i) {
    shared_blocks.push_back(holder->allocate(100));
    shared.push_back(shared_blocks.back().handle());
  }
  const std::uint64_t baseline = arena->stats().used_bytes;

  // Fork before this process starts threads of its own.
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses - 1; ++p) {
    children.push_back(testing::fork_child([&, p] {
      auto mine = Arena::attach(n.name);
      run_threads(*mine, shared, static_cast<std::uint64_t>(p + 1), ops);
      return 0;
    }));
  }
  run_threads(*arena, shared, 99, ops);
  for (pid_t pid : children) EXPECT_EQ(testing::wait_child(pid), 0);

  const auto problems = arena->check();
  EXPECT_TRUE(problems.empty()) << problems.front();
  EXPECT_EQ(arena->stats().used_bytes, baseline);
  for (const Handle& h : shared) EXPECT_EQ(arena->block_info(h).refcount, 1u);
  EXPECT_EQ(arena->stats().repairs, 0u);
}

}  // namespace
}  // namespace shoal
