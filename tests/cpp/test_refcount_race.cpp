// test_refcount_race.cpp — a retain racing a recycle (layout.hpp's
// refcount rule; docs/architecture.md, "Refcounts").
//
// A holder's owner thread recycles a block without the lock when its own
// reference is the last one; at the same time another thread, holding the
// lock, may be turning a handle to that block into a new reference
// (Holder::retain). Either the retain wins (the recycle sees a second
// reference and takes the locked path) or the recycle wins (the retain
// throws InvalidHandle): never both, which would leave a reference on a
// block its owner reuses. The first two tests stage each interleaving with
// test hooks; the third races them for real, for ThreadSanitizer.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "shoal/arena.hpp"
#include "shoal/channel.hpp"
#include "shoal/in_flight.hpp"
#include "shoal/errors.hpp"
#include "shoal/holder.hpp"
#include "test_hooks.hpp"
#include "test_support.hpp"

namespace shoal {
namespace {

class RefcountRace : public testing::ArenaTest {
 protected:
  RefcountRace() : ArenaTest("refcount-race") {}
  void TearDown() override { test_hooks::install(nullptr); }
};

// One staged interleaving: at `pause_point` the hooked thread runs `meanwhile`
// (on this thread, the hook's own), once.
std::atomic<test_hooks::Point> g_pause_point;
std::atomic<bool> g_paused_once;
void (*g_meanwhile)() = nullptr;

void run_meanwhile_once(test_hooks::Point point) {
  if (point != g_pause_point.load() || g_paused_once.exchange(true)) return;
  g_meanwhile();
}

// Set by the tests for g_meanwhile, which cannot capture.
Holder* g_owner = nullptr;
HeldBlock* g_owned = nullptr;
Holder* g_other = nullptr;
Handle g_handle;
std::atomic<int> g_retain_result;  // 0 not run, 1 retained, 2 InvalidHandle
HeldBlock g_retained;

TEST_F(RefcountRace, ARecycleBetweenRetainsResolveAndIncrementMakesTheRetainFail) {
  // The retain resolves the handle; before it raises the count, the owner
  // thread frees its only reference, which recycles the block under a new
  // generation. The retain must then refuse the handle: its block is gone.
  auto other = arena->attach_holder();
  HeldBlock block = holder->allocate(64);
  const Handle h = block.handle();
  g_owner = holder.get();
  g_owned = &block;
  g_pause_point = test_hooks::Point::retain_after_resolve;
  g_paused_once = false;
  // The retain runs on another thread, holding the lock at the hook; the
  // recycler (this test's thread, the owner) needs no lock, so it runs
  // from that hook by waiting for a flag.
  std::atomic<int> stage{0};
  static std::atomic<int>* s_stage;
  s_stage = &stage;
  g_meanwhile = [] {
    s_stage->store(1);
    while (s_stage->load() != 2) std::this_thread::yield();
  };
  test_hooks::install(run_meanwhile_once);
  int outcome = 0;
  std::thread retainer([&] {
    try {
      HeldBlock got = other->retain(h);
      outcome = 1;
    } catch (const InvalidHandle&) {
      outcome = 2;
    }
  });
  while (stage.load() != 1) std::this_thread::yield();
  block.reset();  // the owner's only reference: recycled without the lock
  stage.store(2);
  retainer.join();
  test_hooks::install(nullptr);
  EXPECT_EQ(arena->stats().cached_blocks, 1u) << "recycled while the retain waited";
  EXPECT_EQ(outcome, 2) << "a handle whose block was recycled meanwhile must not be retained";
  expect_sound();
  EXPECT_EQ(other->refs_held(), 0u);
  other.reset();
  holder->flush_cache();
  EXPECT_EQ(arena->stats().used_bytes, baseline);
  expect_sound();
}

TEST_F(RefcountRace, ARetainWhileTheRecyclerClaimsTheBlockFailsOrStopsTheRecycle) {
  // The recycler has found its reference the only one; before it renews the
  // generation, another holder retains the handle under the lock. Either
  // the retain is refused, or the recycle does not happen: the retained
  // reference must stay on a live block of that handle.
  auto other = arena->attach_holder();
  HeldBlock block = holder->allocate(64);
  const Handle h = block.handle();
  std::memset(block.bytes().data(), 0x5A, 64);
  g_other = other.get();
  g_handle = h;
  g_retain_result = 0;
  g_pause_point = test_hooks::Point::recycle_after_claim;
  g_paused_once = false;
  g_meanwhile = [] {
    // On the owner thread, mid-recycle: another thread retains the handle
    // (it takes the lock, which nobody holds).
    std::thread([] {
      try {
        g_retained = g_other->retain(g_handle);
        g_retain_result = 1;
      } catch (const InvalidHandle&) {
        g_retain_result = 2;
      }
    }).join();
  };
  test_hooks::install(run_meanwhile_once);
  block.reset();
  test_hooks::install(nullptr);
  ASSERT_NE(g_retain_result.load(), 0) << "the hook was not reached";
  if (g_retain_result == 1) {
    // The retain won: the block must still be the one the handle names,
    // not a cached one the owner may hand out again.
    EXPECT_EQ(arena->stats().cached_blocks, 0u) << "recycled under a live reference";
    EXPECT_EQ(arena->block_info(h).refcount, 1u);
    EXPECT_EQ(g_retained.handle(), h);
    HeldBlock reused = holder->allocate(64);  // must not be the retained block
    EXPECT_NE(reused.handle().offset, h.offset);
    EXPECT_EQ(static_cast<unsigned char>(g_retained.bytes()[0]), 0x5A);
    reused.reset();
  }
  expect_sound();
  g_retained.reset();
  other.reset();
  holder->flush_cache();
  EXPECT_EQ(arena->stats().used_bytes, baseline);
  expect_sound();
}

// The other references made from a handle alone, each refused while the
// block's owner thread holds it claimed (count 0, old generation still
// resolving): each had already committed its owner (the slot, the child
// table, the in-flight entry) and must take it back.
Channel* g_channel = nullptr;
int g_refusals = 0;

TEST_F(RefcountRace, CopySendObjectChildAndTicketOfABlockBeingRecycledAreRefusedAndUndone) {
  auto other = arena->attach_holder();
  Channel ch = Channel::create(*other, 4);
  HeldBlock block = holder->allocate(64);
  g_other = other.get();
  g_channel = &ch;
  g_handle = block.handle();
  g_refusals = 0;
  g_pause_point = test_hooks::Point::recycle_after_claim;
  g_paused_once = false;
  g_meanwhile = [] {
    std::thread([] {
      try {
        g_channel->send(g_handle);
      } catch (const InvalidHandle&) {
        ++g_refusals;
      }
      const Handle children[] = {g_handle};
      try {
        HeldBlock parent = g_other->allocate_object(children, 64);
      } catch (const InvalidHandle&) {
        ++g_refusals;
      }
      try {
        (void)InFlight::issue(g_other->arena(), g_handle, std::chrono::seconds(60));
      } catch (const InvalidHandle&) {
        ++g_refusals;
      }
    }).join();
  };
  const std::uint64_t used_before = arena->stats().used_bytes;
  test_hooks::install(run_meanwhile_once);
  block.reset();
  test_hooks::install(nullptr);
  EXPECT_EQ(g_refusals, 3);
  EXPECT_EQ(ch.size(), 0u) << "the refused send's slot was taken back";
  EXPECT_EQ(arena->stats().cached_blocks, 1u);
  EXPECT_EQ(arena->stats().used_bytes + arena->stats().cached_bytes, used_before) << "the refused object was freed";
  expect_sound();
}

TEST(RefcountRaceThreads, RetainsRacingRecyclesNeverHoldAReusedBlock) {
  // The owner thread allocates and frees small blocks in a loop (each free
  // recycles), writing each block's generation into its payload and then
  // publishing the handle; retainers, a holder each, retain whatever handle
  // is published. A retain either fails (InvalidHandle) or holds a block
  // that stays the one its handle named while it is held.
  testing::ScopedName name("refcount-race-threads");
  const auto arena = Arena::create(name.name, 16ull << 20);
  auto owner = arena->attach_holder();
  const std::uint64_t baseline = arena->stats().used_bytes;
  constexpr int kRetainers = 2;
  constexpr int kRounds = 200000;
  std::atomic<std::uint64_t> published_offset{0};
  std::atomic<std::uint64_t> published_generation{0};
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> retained{0};
  std::atomic<std::uint64_t> refused{0};
  std::atomic<std::uint64_t> wrong{0};
  std::vector<std::unique_ptr<Holder>> holders;
  for (int i = 0; i < kRetainers; ++i) holders.push_back(arena->attach_holder());
  std::vector<std::thread> retainers;
  for (int i = 0; i < kRetainers; ++i) {
    retainers.emplace_back([&, i] {
      Holder& mine = *holders[i];
      while (!done.load(std::memory_order_acquire)) {
        // A torn pair is a stale handle: it must be refused, never retained wrongly.
        const Handle h{published_offset.load(std::memory_order_acquire),
                       published_generation.load(std::memory_order_acquire)};
        if (h.offset == 0) continue;
        try {
          HeldBlock got = mine.retain(h);
          auto* word = reinterpret_cast<std::uint64_t*>(got.bytes().data());
          if (std::atomic_ref(*word).load(std::memory_order_relaxed) != h.generation) ++wrong;
          std::this_thread::yield();
          if (std::atomic_ref(*word).load(std::memory_order_relaxed) != h.generation) ++wrong;
          ++retained;
        } catch (const InvalidHandle&) {
          ++refused;
        }
      }
    });
  }
  for (int round = 0; round < kRounds; ++round) {
    HeldBlock block = owner->allocate(64);
    auto* word = reinterpret_cast<std::uint64_t*>(block.bytes().data());
    std::atomic_ref(*word).store(block.handle().generation, std::memory_order_relaxed);
    published_generation.store(block.handle().generation, std::memory_order_release);
    published_offset.store(block.handle().offset, std::memory_order_release);
    if (round % 64 == 0) std::this_thread::yield();
  }
  done.store(true, std::memory_order_release);
  for (std::thread& t : retainers) t.join();
  EXPECT_EQ(wrong.load(), 0u) << "a retained block was reused while held";
  EXPECT_GT(retained.load() + refused.load(), 0u);
  const auto problems = arena->check();
  EXPECT_TRUE(problems.empty()) << problems.front();
  holders.clear();
  owner->flush_cache();
  EXPECT_EQ(arena->stats().used_bytes, baseline);
  const auto after = arena->check();
  EXPECT_TRUE(after.empty()) << after.front();
}

}  // namespace
}  // namespace shoal
