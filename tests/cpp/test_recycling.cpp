// test_recycling.cpp — a holder's cache of small blocks (holder.hpp,
// "Recycling"): reuse without the lock, stale handles refused, nothing
// recycled while someone else holds it, given back when the arena is full,
// and crash-safe: a process killed at any instant of its lock-free
// alloc/free loop, and a lock owner dying meanwhile, leave a sound arena
// whose used bytes return to their baseline.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "shoal/arena.hpp"
#include "shoal/channel.hpp"
#include "shoal/errors.hpp"
#include "shoal/holder.hpp"
#include "test_hooks.hpp"
#include "test_support.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;

class Recycling : public testing::ArenaTest {
 protected:
  Recycling() : ArenaTest("recycle") {}
};

TEST_F(Recycling, AFreedSmallBlockIsReusedUnderAFreshGeneration) {
  HeldBlock first = holder->allocate(64);
  const Handle stale = first.handle();
  const std::uint64_t block_bytes = arena->block_info(stale).size;
  first.reset();
  ArenaStats s = arena->stats();
  EXPECT_EQ(s.cached_blocks, 1u);
  EXPECT_EQ(s.cached_bytes, block_bytes);
  EXPECT_EQ(s.used_bytes, baseline);  // cached is not used
  EXPECT_EQ(holder->refs_held(), 0u);
  EXPECT_THROW(arena->block_info(stale), InvalidHandle);  // the old name is dead at once
  EXPECT_THROW(holder->retain(stale), InvalidHandle);
  expect_sound();

  HeldBlock second = holder->allocate(40);  // the same size class
  EXPECT_EQ(second.handle().offset, stale.offset);
  EXPECT_NE(second.handle().generation, stale.generation);
  EXPECT_EQ(second.bytes().size(), 40u);
  const BlockInfo info = arena->block_info(second.handle());
  EXPECT_EQ(info.kind, layout::BlockKind::raw);
  EXPECT_EQ(info.refcount, 1u);
  EXPECT_EQ(info.requested, 40u);
  EXPECT_FALSE(info.frozen);
  EXPECT_EQ(arena->stats().cached_blocks, 0u);
  expect_sound();
  second.reset();
  holder->flush_cache();
  EXPECT_EQ(arena->stats().cached_bytes, 0u);
  EXPECT_EQ(arena->stats().used_bytes, baseline);
  expect_sound();
}

TEST_F(Recycling, LargeBlocksAndOtherThreadsGoThroughTheHeap) {
  HeldBlock large = holder->allocate(Holder::kMaxCachedPayload + 1);
  large.reset();
  EXPECT_EQ(arena->stats().cached_blocks, 0u);

  HeldBlock small = holder->allocate(64);
  std::thread([&] { small.reset(); }).join();  // not the attaching thread: the locked path
  EXPECT_EQ(arena->stats().cached_blocks, 0u);
  HeldBlock made_elsewhere;
  std::thread([&] { made_elsewhere = holder->allocate(64); }).join();
  made_elsewhere.reset();  // made by another thread, dropped by ours: cached
  EXPECT_EQ(arena->stats().cached_blocks, 1u);
  EXPECT_EQ(arena->stats().used_bytes, baseline);
  expect_sound();
}

TEST_F(Recycling, TheLockFreeHalvesOnTheirOwn) {
  // try_allocate_cached and try_recycle (what Python uses while it holds
  // the GIL) do only what needs no lock, and say when they could not.
  EXPECT_FALSE(holder->try_allocate_cached(64, layout::BlockKind::blob)) << "nothing cached yet";
  HeldBlock block = holder->allocate(64, layout::BlockKind::blob);
  const Handle first = block.handle();
  HeldBlock other_ref = holder->retain(first);
  EXPECT_FALSE(block.try_recycle()) << "another reference exists";
  EXPECT_TRUE(block) << "a refused recycle changes nothing";
  other_ref.reset();
  bool elsewhere = true;
  std::thread([&] { elsewhere = block.try_recycle(); }).join();
  EXPECT_FALSE(elsewhere) << "only the attaching thread recycles";
  EXPECT_TRUE(block.try_recycle());
  EXPECT_FALSE(block) << "emptied";
  EXPECT_EQ(arena->stats().cached_blocks, 1u);

  HeldBlock again = holder->try_allocate_cached(64, layout::BlockKind::blob, 7);
  ASSERT_TRUE(again);
  EXPECT_EQ(again.handle().offset, first.offset);
  EXPECT_NE(again.handle().generation, first.generation);
  EXPECT_EQ(again.kind(), layout::BlockKind::blob);
  EXPECT_FALSE(holder->try_allocate_cached(64, layout::BlockKind::blob)) << "the cache is empty again";
  EXPECT_FALSE(holder->try_allocate_cached(Holder::kMaxCachedPayload + 1, layout::BlockKind::blob));
  again.reset();
  holder->flush_cache();
  EXPECT_EQ(arena->stats().used_bytes, baseline);
  expect_sound();
}

TEST_F(Recycling, ABlockSomeoneElseHoldsIsNotRecycled) {
  auto other = arena->attach_holder();
  HeldBlock mine = holder->allocate(64);
  HeldBlock theirs = other->retain(mine.handle());
  const Handle h = mine.handle();
  mine.reset();  // refcount 2: ours is not the last
  EXPECT_EQ(arena->stats().cached_blocks, 0u);
  EXPECT_EQ(arena->block_info(h).refcount, 1u);
  theirs.reset();  // the last reference, from a holder that did not make it: freed
  EXPECT_EQ(arena->stats().cached_blocks, 0u);
  EXPECT_THROW(arena->block_info(h), InvalidHandle);

  // Sent through a channel: the receiver's reference is an ordinary one.
  Channel ch = Channel::create(*holder, 4);
  HeldBlock sent = holder->allocate(64);
  ch.send(std::move(sent));
  Channel theirs_too = Channel::open(*other, ch.handle());
  HeldBlock got = theirs_too.recv(1s);
  const Handle received = got.handle();
  got.reset();
  EXPECT_EQ(arena->stats().cached_blocks, 0u);
  EXPECT_THROW(arena->block_info(received), InvalidHandle);  // freed, not kept
  expect_sound();
}

TEST_F(Recycling, AFullArenaTakesBackTheCallersCache) {
  testing::ScopedName small_name("recycle-full");
  auto small = Arena::create(small_name.name, 1 << 20);
  auto h = small->attach_holder();
  std::vector<HeldBlock> blocks;
  for (std::size_t i = 0; i < Holder::kCachedPerClass; ++i) blocks.push_back(h->allocate(64));
  HeldBlock rest = h->allocate(small->stats().largest_free);  // the arena is full now
  EXPECT_THROW(h->allocate(4 * 1024), ArenaFull);
  blocks.clear();  // into the cache, not the heap
  EXPECT_EQ(small->stats().cached_blocks, Holder::kCachedPerClass);
  HeldBlock big = h->allocate(4 * 1024);  // fits once the cache is given back and merged
  EXPECT_EQ(small->stats().cached_blocks, 0u);
  EXPECT_TRUE(small->check().empty());
}

// A child recycling in a tight loop is killed at a random instant, round
// after round; now and then a second child dies holding the arena lock
// while the recycler runs, so repair runs beside lock-free recycling.
TEST_F(Recycling, KilledAtAnyInstantOfRecyclingLeavesASoundArena) {
  const int rounds = testing::env_int("SHOAL_RECYCLE_ROUNDS", 40);
  const std::string n = name.name;
  std::mt19937 rng(1234);
  for (int round = 0; round < rounds; ++round) {
    testing::Signal started;
    const pid_t recycler = testing::fork_child([&] {
      auto a = Arena::attach(n);
      auto h = a->attach_holder();
      std::vector<HeldBlock> keep;
      std::mt19937 local(static_cast<unsigned>(getpid()));
      started.post('s');
      for (std::uint64_t i = 0;; ++i) {
        HeldBlock b = h->allocate(local() % 3000);
        std::memset(b.bytes().data(), 0x5A, b.bytes().size());
        if (local() % 4 == 0) keep.push_back(std::move(b));
        if (keep.size() > 40) keep.erase(keep.begin(), keep.begin() + 20);
      }
      return 0;
    });
    ASSERT_EQ(started.wait(), 's');
    pid_t dying_owner = 0;
    if (round % 4 == 3) {
      testing::Signal reached;
      dying_owner = testing::fork_child([&] {
        auto a = Arena::attach(n);
        auto h = a->attach_holder();
        testing::pause_at(test_hooks::Point::alloc_after_split_header, reached);
        HeldBlock b = h->allocate(100000);  // too large to recycle: the locked path
        return 50;
      });
      ASSERT_EQ(reached.wait(), 'p');
      testing::kill_and_reap(dying_owner);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200 + rng() % 3000));
    testing::kill_and_reap(recycler);
    arena->reap_dead_holders();
    const auto problems = arena->check();
    ASSERT_TRUE(problems.empty()) << "round " << round << ": " << problems.front();
    ASSERT_EQ(arena->stats().used_bytes, baseline) << "round " << round;
    ASSERT_EQ(arena->stats().cached_bytes, 0u) << "round " << round;
  }
}

}  // namespace
}  // namespace shoal
