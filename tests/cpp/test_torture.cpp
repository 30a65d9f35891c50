// test_torture.cpp — a mixed workload (allocate, retain, parents owning
// children, passing blocks through a channel, release) in several
// processes, one of them killed with SIGKILL at a random instant, round
// after round. After every round: a full consistency check, used bytes
// back to baseline, every shared refcount exact. Reports rounds passed and
// the longest a survivor waited for the lock.
//
// SHOAL_TORTURE_ROUNDS sets the number of rounds (default 200; 10000 for a
// long run). SHOAL_TORTURE_SEED fixes the random seed.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "shoal/arena.hpp"
#include "shoal/channel.hpp"
#include "shoal/errors.hpp"
#include "shoal/holder.hpp"
#include "test_support.hpp"

namespace shoal {
namespace {

constexpr int kWorkers = 3;
constexpr int kShared = 32;

// Anonymous shared memory (not an arena) for the test's own bookkeeping.
struct Board {
  std::atomic<int> stop;
  std::atomic<std::int64_t> max_wait_ns;
  std::atomic<std::int64_t> ops;
};

void note_wait(Board* board, const Arena& arena) {
  std::int64_t waited = arena.max_lock_wait().count();
  std::int64_t seen = board->max_wait_ns.load();
  while (waited > seen && !board->max_wait_ns.compare_exchange_weak(seen, waited)) {
  }
}

int worker(const std::string& name, const std::vector<Handle>& shared, Handle channel, Board* board,
           std::uint64_t seed) {
  auto arena = Arena::attach(name);
  auto holder = arena->attach_holder();
  Channel queue = Channel::open(*holder, channel);
  std::mt19937_64 rng(seed);
  std::vector<HeldBlock> held;
  std::int64_t ops = 0;
  while (board->stop.load(std::memory_order_relaxed) == 0) {
    const unsigned op = static_cast<unsigned>(rng() % 10);
    try {
      if (op < 4 && held.size() < 300) {
        const std::uint64_t size = rng() % 8 == 0 ? rng() % (1 << 20) : rng() % 4096;
        held.push_back(holder->allocate(size));
      } else if (op < 6 && held.size() < 300) {
        held.push_back(holder->retain(shared[rng() % shared.size()]));
      } else if (op < 7 && !held.empty() && held.size() < 300) {
        // A parent owning up to three of what we hold (and maybe a shared block).
        std::vector<Handle> children;
        for (int c = 0; c < 3; ++c) children.push_back(held[rng() % held.size()].handle());
        if (rng() % 2) children.push_back(shared[rng() % shared.size()]);
        held.push_back(holder->allocate_object(children, rng() % 512));
      } else if (op < 8 && !held.empty()) {
        if (rng() % 2) {
          queue.try_send(held[rng() % held.size()].handle());  // adds a reference
        } else {
          HeldBlock moving = holder->allocate(rng() % 256);
          queue.try_send(std::move(moving));  // moves this one (kept if the channel is full)
        }
      } else if (op < 9 && held.size() < 300) {
        if (auto got = queue.try_recv()) held.push_back(std::move(*got));
      } else if (!held.empty()) {
        std::swap(held[rng() % held.size()], held.back());
        held.pop_back();
      }
    } catch (const ArenaFull&) {
      held.resize(held.size() / 2);
    }
    ++ops;
  }
  board->ops.fetch_add(ops);
  note_wait(board, *arena);
  return 0;  // the holder releases what is left
}

TEST(Torture, RandomKillsNeverHangOrCorrupt) {
  const int rounds = testing::env_int("SHOAL_TORTURE_ROUNDS", 200);
  const auto seed = static_cast<std::uint64_t>(testing::env_int("SHOAL_TORTURE_SEED", static_cast<int>(time(nullptr))));
  testing::ScopedName n("torture");
  auto arena = Arena::create(n.name, 128ull << 20);
  auto holder = arena->attach_holder();
  std::vector<HeldBlock> shared_blocks;
  std::vector<Handle> shared;
  for (int i = 0; i < kShared; ++i) {
    shared_blocks.push_back(holder->allocate(256));
    shared.push_back(shared_blocks.back().handle());
  }
  Channel queue = Channel::create(*holder, 64);  // workers pass blocks through it
  const std::uint64_t baseline = arena->stats().used_bytes;

  auto* board = static_cast<Board*>(
      mmap(nullptr, sizeof(Board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(board, MAP_FAILED);
  new (board) Board{};

  std::mt19937_64 rng(seed);
  int passed = 0;
  std::int64_t slowest_round_ns = 0;
  for (int round = 0; round < rounds; ++round) {
    board->stop = 0;
    std::vector<pid_t> pids;
    for (int w = 0; w < kWorkers; ++w) {
      const std::uint64_t worker_seed = rng();
      pids.push_back(
          testing::fork_child([&] { return worker(n.name, shared, queue.handle(), board, worker_seed); }));
    }
    const auto victim = static_cast<std::size_t>(rng() % kWorkers);
    usleep(static_cast<useconds_t>(rng() % 20'000));
    kill(pids[victim], SIGKILL);
    usleep(2'000);
    const auto stop_at = std::chrono::steady_clock::now();
    board->stop = 1;
    bool ok = true;
    for (std::size_t w = 0; w < pids.size(); ++w) {
      const int status = testing::wait_child(pids[w]);
      if (w != victim && status != 0) {
        ADD_FAILURE() << "round " << round << ": survivor exited with " << status;
        ok = false;
      }
    }
    slowest_round_ns = std::max<std::int64_t>(
        slowest_round_ns, (std::chrono::steady_clock::now() - stop_at).count());
    arena->reap_dead_holders();
    while (queue.try_recv()) {
    }  // what the workers left in the channel goes back
    const auto problems = arena->check();
    const ArenaStats stats = arena->stats();
    if (!problems.empty() || stats.used_bytes != baseline || stats.holders != 1) {
      ADD_FAILURE() << "round " << round << " (seed " << seed << "): " << problems.size() << " problems"
                    << (problems.empty() ? "" : ", first: " + problems.front()) << "; used " << stats.used_bytes
                    << " vs baseline " << baseline << "; holders " << stats.holders;
      ok = false;
    }
    for (const Handle& h : shared) {
      if (arena->block_info(h).refcount != 1) {
        ADD_FAILURE() << "round " << round << ": shared block refcount " << arena->block_info(h).refcount;
        ok = false;
      }
    }
    if (!ok) break;
    ++passed;
  }
  const ArenaStats stats = arena->stats();
  std::printf("torture: %d/%d rounds passed (seed %llu), %lld operations, %llu lock repairs, "
              "longest survivor wait for the lock %.3f ms, slowest shutdown %.1f ms\n",
              passed, rounds, static_cast<unsigned long long>(seed), static_cast<long long>(board->ops.load()),
              static_cast<unsigned long long>(stats.repairs), static_cast<double>(board->max_wait_ns.load()) / 1e6,
              static_cast<double>(slowest_round_ns) / 1e6);
  RecordProperty("rounds_passed", passed);
  RecordProperty("max_wait_ns", std::to_string(board->max_wait_ns.load()));
  EXPECT_EQ(passed, rounds);
  EXPECT_LT(board->max_wait_ns.load(), 1'000'000'000);
  munmap(board, sizeof(Board));
}

}  // namespace
}  // namespace shoal
