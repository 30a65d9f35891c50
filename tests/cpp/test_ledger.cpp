// test_ledger.cpp — a holder's ledger gives its blocks back when they empty
// (holder.hpp, "Ledger blocks"): one live reference no longer pins every
// ledger block made before it, an allocate/free loop at a ledger-block
// boundary does not allocate and free a ledger block each time, and a death
// between unlinking an empty ledger block and freeing it is repaired
// exactly.
#include <gtest/gtest.h>
#include <unistd.h>

#include <vector>

#include "shoal/arena.hpp"
#include "shoal/errors.hpp"
#include "shoal/holder.hpp"
#include "test_hooks.hpp"
#include "test_support.hpp"

namespace shoal {
namespace {

using test_hooks::Point;
using testing::Signal;

// A ledger block: its header and a chunk of kLedgerChunkEntries entries.
constexpr std::uint64_t kLedgerBlockBytes =
    layout::kBlockHeaderBytes + sizeof(layout::LedgerChunk) + layout::kLedgerChunkEntries * sizeof(layout::LedgerEntry);

// The probe of issue 22: many small buffers, all freed but one. (104 bytes
// is shoal.empty((13,), "float64")'s data; these are raw blocks past the
// recycling cache's reach, so every one takes the heap path.)
class Ledger : public testing::ArenaTest {
 protected:
  Ledger() : ArenaTest("ledger", 9ull << 20) {}
};

TEST_F(Ledger, OneLiveReferenceDoesNotPinTheEmptyLedgerBlocks) {
  std::vector<HeldBlock> held;
  for (int i = 0; i < 25'000; ++i) held.push_back(holder->allocate(104, layout::BlockKind::raw));
  ASSERT_GT(arena->stats().used_bytes, baseline + 20 * kLedgerBlockBytes);  // ~25 ledger blocks grew
  HeldBlock kept = std::move(held.back());
  held.clear();  // in allocation order, as a Python list drops its items
  holder->flush_cache();  // the cache's blocks are free memory too

  const ArenaStats s = arena->stats();
  const std::uint64_t kept_bytes = arena->block_info(kept.handle()).size;
  // Back to the baseline (the first ledger block, which stays) plus one
  // ledger block's worth: the one holding `kept`'s entry.
  EXPECT_LE(s.used_bytes, baseline + kLedgerBlockBytes + kept_bytes);
  expect_sound();
  // The heap is whole again: a big block fits.
  EXPECT_NO_THROW(holder->allocate(4ull << 20));
  expect_sound();
}

// The ledger block after the first one in holder `slot`'s chain, as
// (offset, generation); {0, 0} if none.
Handle second_ledger_block(Arena& arena, std::uint32_t slot) {
  auto* header = reinterpret_cast<layout::ArenaHeader*>(arena.base());
  const std::uint64_t head = header->holders[slot].ledger_head;
  const auto* chunk = reinterpret_cast<const layout::LedgerChunk*>(arena.base() + head + layout::kBlockHeaderBytes);
  if (chunk->next == 0) return {};
  const auto* block = reinterpret_cast<const layout::BlockHeader*>(arena.base() + chunk->next);
  return {chunk->next, block->generation};
}

TEST_F(Ledger, AnAllocateFreeLoopAtABoundaryKeepsOneSpareBlock) {
  // Fill the first ledger block exactly, then allocate and free one more
  // again and again: the second ledger block is made once and kept, not
  // freed and made again each time.
  std::vector<HeldBlock> held;
  while (holder->refs_held() < layout::kLedgerChunkEntries) held.push_back(holder->allocate(5000));
  const std::uint64_t before = arena->stats().used_bytes;
  EXPECT_EQ(second_ledger_block(*arena, holder->slot()), Handle{});
  Handle spare;
  for (int i = 0; i < 100; ++i) {
    HeldBlock extra = holder->allocate(5000);
    if (i == 0) spare = second_ledger_block(*arena, holder->slot());
    EXPECT_EQ(second_ledger_block(*arena, holder->slot()), spare);
    EXPECT_EQ(arena->stats().used_bytes, before + kLedgerBlockBytes + arena->block_info(extra.handle()).size);
  }
  EXPECT_NE(spare, Handle{});
  EXPECT_EQ(second_ledger_block(*arena, holder->slot()), spare);
  EXPECT_EQ(arena->stats().used_bytes, before + kLedgerBlockBytes);  // the spare
  expect_sound();
  // Plenty of room in the first block again: the spare goes back.
  for (std::size_t i = 0; i < layout::kLedgerChunkEntries / 2; ++i) held.pop_back();
  EXPECT_EQ(second_ledger_block(*arena, holder->slot()), Handle{});
  held.clear();
  EXPECT_EQ(arena->stats().used_bytes, baseline);
  expect_sound();
}

TEST_F(Ledger, AFailedAllocationGivesBackTheLedgerBlockItGrew) {
  std::vector<HeldBlock> held;
  while (holder->refs_held() < layout::kLedgerChunkEntries) held.push_back(holder->allocate(64, layout::BlockKind::raw));
  const std::uint64_t before = arena->stats().used_bytes;
  EXPECT_THROW(holder->allocate(64ull << 20), ArenaFull);
  EXPECT_EQ(arena->stats().used_bytes, before);
  expect_sound();
}

TEST(LedgerCrash, ADeathBetweenUnlinkAndFreeIsRepairedExactly) {
  testing::ScopedName n("ledger-death");
  auto arena = Arena::create(n.name, 64ull << 20);
  auto holder = arena->attach_holder();
  HeldBlock mine = holder->allocate(777);
  const std::uint64_t baseline = arena->stats().used_bytes;

  Signal reached;
  const pid_t victim = testing::fork_child([&] {
    auto a = Arena::attach(n.name);
    auto h = a->attach_holder();
    std::vector<HeldBlock> held;
    for (std::uint32_t i = 0; i < 3 * layout::kLedgerChunkEntries; ++i) held.push_back(h->allocate(200));
    HeldBlock last = std::move(held.back());
    testing::pause_at(Point::ledger_after_unlink, reached);
    held.clear();  // empties the first blocks: the second is unlinked, then freed
    reached.post('n');  // the hook never fired
    return 50;
  });
  ASSERT_EQ(reached.wait(), 'p') << "the victim never reached its hook point";
  kill(victim, SIGKILL);
  EXPECT_EQ(testing::wait_child(victim), -SIGKILL);

  EXPECT_NO_THROW(holder->allocate(100));  // repairs: the unlinked ledger block is freed
  EXPECT_EQ(arena->stats().repairs, 1u);
  EXPECT_EQ(arena->reap_dead_holders(), 1u);
  const auto problems = arena->check();
  EXPECT_TRUE(problems.empty()) << problems.front();
  EXPECT_EQ(arena->stats().used_bytes, baseline);
  EXPECT_EQ(arena->block_info(mine.handle()).refcount, 1u);
}

}  // namespace
}  // namespace shoal
