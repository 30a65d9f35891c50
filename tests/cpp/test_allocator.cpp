// test_allocator.cpp — allocation patterns in one process: sizes, alignment,
// fragmentation and coalescing, exhaustion then recovery, stale handles.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "shoal/arena.hpp"
#include "shoal/errors.hpp"
#include "shoal/holder.hpp"
#include "test_support.hpp"

namespace shoal {
namespace {

class Allocator : public testing::ArenaTest {
 protected:
  Allocator() : ArenaTest("alloc") {}
};

TEST_F(Allocator, EveryPayloadIs64ByteAlignedAndWritable) {
  std::vector<HeldBlock> blocks;
  for (std::uint64_t size : {0ull, 1ull, 63ull, 64ull, 65ull, 100ull, 4095ull, 4096ull, 65537ull, 1ull << 20}) {
    blocks.push_back(holder->allocate(size));
    const HeldBlock& b = blocks.back();
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.bytes().data()) % 64, 0u) << size;
    EXPECT_EQ(b.bytes().size(), size);
    std::memset(b.bytes().data(), 0xAB, b.bytes().size());
  }
  expect_sound();  // writing whole payloads damaged no neighbour header
  blocks.clear();
  EXPECT_EQ(arena->stats().used_bytes, baseline);
  expect_sound();
}

TEST_F(Allocator, ManySizesInRandomOrderStaySound) {
  std::mt19937_64 rng(42);
  std::vector<HeldBlock> live;
  for (int step = 0; step < 20000; ++step) {
    if (live.empty() || rng() % 3 != 0) {
      const int shape = static_cast<int>(rng() % 10);
      const std::uint64_t size = shape < 6 ? rng() % 256 : shape < 9 ? rng() % 16384 : rng() % (1 << 20);
      try {
        live.push_back(holder->allocate(size));
      } catch (const ArenaFull&) {
        live.erase(live.begin(), live.begin() + static_cast<long>(live.size() / 2));
      }
    } else {
      std::swap(live[rng() % live.size()], live.back());
      live.pop_back();
    }
    if (step % 5000 == 0) expect_sound();
  }
  expect_sound();
  live.clear();
  EXPECT_EQ(arena->stats().used_bytes, baseline);  // the holder's cache does not count as used
  expect_sound();
  holder->flush_cache();
  EXPECT_EQ(arena->stats().used_bytes, baseline);
  EXPECT_EQ(arena->stats().cached_bytes, 0u);
  expect_sound();
}

TEST_F(Allocator, FreeingEverythingCoalescesBackToOneBlock) {
  const ArenaStats empty = arena->stats();
  std::vector<HeldBlock> blocks;
  for (int i = 0; i < 2000; ++i) blocks.push_back(holder->allocate(static_cast<std::uint64_t>(i % 700)));
  std::shuffle(blocks.begin(), blocks.end(), std::mt19937(7));
  blocks.clear();
  holder->flush_cache();  // small blocks wait in the holder's cache until then
  const ArenaStats after = arena->stats();
  EXPECT_EQ(after.used_bytes, empty.used_bytes);
  EXPECT_EQ(after.free_blocks, empty.free_blocks);
  EXPECT_EQ(after.largest_free, empty.largest_free);
  expect_sound();
}

TEST_F(Allocator, FragmentationBlocksALargeRequestUntilNeighboursAreFreed) {
  // Fill the arena with 1 MiB blocks, free every other one: plenty of free
  // space, but no 2 MiB hole, until the neighbours go too.
  std::vector<HeldBlock> blocks;
  try {
    for (;;) blocks.push_back(holder->allocate(1ull << 20));
  } catch (const ArenaFull&) {
  }
  ASSERT_GT(blocks.size(), 40u);
  for (std::size_t i = 0; i < blocks.size(); i += 2) blocks[i].reset();
  EXPECT_GT(arena->stats().free_bytes, 20ull << 20);
  EXPECT_THROW(holder->allocate(2ull << 20), ArenaFull);
  for (std::size_t i = 1; i < 8; i += 2) blocks[i].reset();
  EXPECT_NO_THROW(holder->allocate(2ull << 20));
  expect_sound();
}

TEST_F(Allocator, ExhaustionIsTypedLeavesNothingBehindAndRecovers) {
  std::vector<HeldBlock> blocks;
  try {
    for (;;) blocks.push_back(holder->allocate(256 * 1024));
  } catch (const ArenaFull& e) {
    EXPECT_NE(std::string(e.what()).find(name.name), std::string::npos) << e.what();
  }
  const ArenaStats full = arena->stats();
  for (int i = 0; i < 10; ++i) EXPECT_THROW(holder->allocate(256 * 1024), ArenaFull);
  EXPECT_THROW(holder->allocate(1ull << 40), ArenaFull);
  const ArenaStats still_full = arena->stats();
  EXPECT_EQ(still_full.used_bytes, full.used_bytes);  // a failed call allocated nothing
  EXPECT_EQ(still_full.used_blocks, full.used_blocks);
  expect_sound();
  blocks.clear();
  EXPECT_EQ(arena->stats().used_bytes, baseline);
  EXPECT_NO_THROW(blocks.push_back(holder->allocate(32ull << 20)));  // fully usable again
  expect_sound();
}

TEST(AllocatorEdge, AFailedAllocationLeavesNoLedgerGrowthBehind) {
  // The ledger's first block is full and the arena has room for a new
  // ledger block but not for the block asked for: the failed call must not
  // keep the ledger block it grew.
  testing::ScopedName name("ledgerfull");
  auto arena = Arena::create(name.name, 1ull << 20);
  auto holder = arena->attach_holder();
  std::vector<HeldBlock> blocks;
  for (std::uint32_t i = 0; i + 1 < layout::kLedgerChunkEntries; ++i) blocks.push_back(holder->allocate(64));
  blocks.push_back(holder->allocate(arena->stats().largest_free - 20000));  // fills the last entry
  const std::uint64_t before = arena->stats().used_bytes;
  EXPECT_THROW(holder->allocate(100000), ArenaFull);
  EXPECT_EQ(arena->stats().used_bytes, before);
  EXPECT_NO_THROW(blocks.push_back(holder->allocate(64)));  // the ledger can still grow when it fits
  EXPECT_TRUE(arena->check().empty());
}

TEST_F(Allocator, AStrayWriteIntoAFreeListIsCaughtNotFollowed) {
  // Larger than the holder's cache takes, so a free goes to the heap.
  constexpr std::uint64_t kSize = Holder::kMaxCachedPayload + 300;
  HeldBlock keep_apart = holder->allocate(kSize);
  HeldBlock victim = holder->allocate(kSize);
  HeldBlock fence = holder->allocate(kSize);  // so the victim cannot merge when freed
  const Handle h = victim.handle();
  victim.reset();
  // A buggy writer scribbles over the freed block's free-list link.
  auto* links = reinterpret_cast<layout::FreeLinks*>(arena->base() + h.offset + layout::kBlockHeaderBytes);
  links->next = 12345;
  EXPECT_THROW(holder->allocate(kSize), CorruptArena);  // refused, not followed
  EXPECT_FALSE(arena->check().empty());               // and the checker sees it
}

TEST_F(Allocator, StaleAndBogusHandlesAreRejected) {
  HeldBlock first = holder->allocate(1000);
  const Handle stale = first.handle();
  first.reset();
  HeldBlock second = holder->allocate(1000);  // very likely the same offset
  EXPECT_EQ(second.handle().offset, stale.offset);
  EXPECT_NE(second.handle().generation, stale.generation);
  EXPECT_THROW(holder->retain(stale), InvalidHandle);
  EXPECT_THROW(arena->payload(stale), InvalidHandle);

  const Handle h = second.handle();
  for (Handle bogus : {Handle{0, h.generation}, Handle{h.offset + 64, h.generation}, Handle{h.offset + 1, h.generation},
                       Handle{arena->size(), h.generation}, Handle{~0ull, h.generation}, Handle{64, h.generation}}) {
    EXPECT_THROW(holder->retain(bogus), InvalidHandle) << to_string(bogus);
    EXPECT_THROW(arena->block_info(bogus), InvalidHandle) << to_string(bogus);
  }
  expect_sound();
}

TEST_F(Allocator, RefcountsFollowRetainAndRelease) {
  HeldBlock a = holder->allocate(10);
  EXPECT_EQ(arena->block_info(a.handle()).refcount, 1u);
  HeldBlock b = holder->retain(a.handle());
  HeldBlock c = holder->retain(a.handle());
  EXPECT_EQ(arena->block_info(a.handle()).refcount, 3u);
  const Handle h = a.handle();
  a.reset();
  b.reset();
  EXPECT_EQ(arena->block_info(h).refcount, 1u);
  HeldBlock moved = std::move(c);
  EXPECT_EQ(arena->block_info(h).refcount, 1u);
  moved.reset();
  EXPECT_THROW(arena->block_info(h), InvalidHandle);
  EXPECT_EQ(arena->stats().used_bytes, baseline);
}

TEST_F(Allocator, TheLedgerGrowsPastOneChunk) {
  std::vector<HeldBlock> blocks;
  for (int i = 0; i < 5000; ++i) blocks.push_back(holder->allocate(8));
  EXPECT_EQ(holder->refs_held(), 5000u);
  expect_sound();
  blocks.clear();
  EXPECT_EQ(holder->refs_held(), 0u);
  expect_sound();
  holder.reset();  // detaching frees the ledger blocks too
  EXPECT_EQ(arena->stats().used_bytes, 0u);
}

TEST_F(Allocator, DetachingAHolderReleasesWhatItStillHeld) {
  auto other = arena->attach_holder();
  // Simulates an interpreter torn down with references outstanding: the
  // HeldBlocks are deliberately leaked (never destroyed), so only the
  // holder's own destructor can release what its ledger lists.
  static auto* forgotten = new std::vector<HeldBlock>;  // static: reachable, not a leak report
  for (int i = 0; i < 100; ++i) forgotten->push_back(other->allocate(1000));
  HeldBlock shared = holder->allocate(1);
  for (int i = 0; i < 10; ++i) forgotten->push_back(other->retain(shared.handle()));
  EXPECT_EQ(arena->block_info(shared.handle()).refcount, 11u);
  other.reset();
  EXPECT_EQ(arena->block_info(shared.handle()).refcount, 1u);
  shared.reset();
  EXPECT_EQ(arena->stats().used_bytes, baseline);
  expect_sound();
}

}  // namespace
}  // namespace shoal
