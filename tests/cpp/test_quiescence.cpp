// test_quiescence.cpp — intents and the lock-free gate (broker/quiescence.hpp):
// a lock holder that needs the whole arena still waits until no live
// holder is halfway through a lock-free operation; a holder that died
// halfway is handed back to it, one that is stopped ends the wait in
// LockTimeout naming its pid; and `check` holds the gate and the intents
// to their rules.
//
// No operation writes an intent yet, so the tests write them as an owner
// thread would (publish_intent, clear_intent).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "arena_lock.hpp"
#include "core_internals.hpp"
#include "quiescence.hpp"
#include "shoal/arena.hpp"
#include "shoal/errors.hpp"
#include "shoal/holder.hpp"
#include "test_support.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;

layout::HolderSlot& slot_of(Arena& arena, const Holder& holder) {
  return ArenaInternals::header(arena)->holders[holder.slot()];
}

layout::Intent an_intent(std::uint64_t target) {
  return layout::Intent{static_cast<std::uint32_t>(layout::IntentOp::send), 7, target, 1, 0, 0};
}

bool has(const std::vector<std::string>& problems, const std::string& text) {
  for (const std::string& p : problems) {
    if (p.find(text) != std::string::npos) return true;
  }
  return false;
}

class Quiescence : public testing::ArenaTest {
 protected:
  Quiescence() : ArenaTest("quiescence") {}
};

TEST_F(Quiescence, AnIdleArenaIsQuiescentAndTheGateOpensAgain) {
  ArenaLock lock(*arena);
  {
    LockFreeGate gate(*arena);
    EXPECT_TRUE(gate.dead().empty());
    EXPECT_FALSE(gate_open(*ArenaInternals::header(*arena)));
  }
  EXPECT_TRUE(gate_open(*ArenaInternals::header(*arena)));
}

TEST_F(Quiescence, TheGateWaitsForALiveIntentToClear) {
  // Another thread of this process is halfway through an operation; the
  // gate closes, waits, and goes on once the intent clears.
  layout::HolderSlot& slot = slot_of(*arena, *holder);
  publish_intent(slot, an_intent(4096));
  std::atomic<bool> closed{false};
  std::thread closer([&] {
    ArenaLock lock(*arena);
    LockFreeGate gate(*arena);
    EXPECT_TRUE(gate.dead().empty());
    closed = true;
  });
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(closed.load()) << "the gate did not wait for the intent";
  clear_intent(slot);
  closer.join();
  EXPECT_TRUE(closed.load());
  expect_sound();
}

TEST_F(Quiescence, AnIntentOnAnotherStructureDoesNotHoldAWaitOnOne) {
  layout::HolderSlot& slot = slot_of(*arena, *holder);
  publish_intent(slot, an_intent(4096));
  {
    ArenaLock lock(*arena);
    EXPECT_TRUE(wait_for_quiescence_locked(*arena, 8192).empty());  // returns at once
  }
  clear_intent(slot);
}

TEST_F(Quiescence, AHolderKilledWithItsIntentSetIsHandedBackThenReaped) {
  // A child writes an intent and is killed there; the parent closes the
  // gate: the dead holder is reported (its intent for the caller to
  // resolve), not waited for; reaping then frees its slot and clears it.
  testing::Signal written;
  const pid_t child = testing::fork_child([&] {
    auto mine = Arena::attach(name.name);
    auto h = mine->attach_holder();
    publish_intent(slot_of(*mine, *h), an_intent(4096));
    written.post('w');
    for (;;) pause();
    return 0;
  });
  ASSERT_EQ(written.wait(), 'w');
  testing::kill_and_reap(child);
  {
    ArenaLock lock(*arena);
    LockFreeGate gate(*arena);
    ASSERT_EQ(gate.dead().size(), 1u);
    EXPECT_EQ(gate.dead()[0].intent.op, static_cast<std::uint32_t>(layout::IntentOp::send));
    EXPECT_EQ(gate.dead()[0].intent.target_offset, 4096u);
    EXPECT_EQ(gate.dead()[0].intent.ledger_index, 7u);
  }
  expect_sound();  // a dead holder's intent awaits its reaping: not damage
  EXPECT_EQ(arena->reap_dead_holders(), 1u);
  for (std::uint32_t i = 0; i < layout::kMaxHolders; ++i) {
    EXPECT_EQ(ArenaInternals::header(*arena)->holders[i].intent.op, 0u) << "slot " << i;
  }
  expect_sound();
}

TEST(QuiescenceStopped, AStoppedHolderInsideAnOperationEndsTheWaitInLockTimeout) {
  testing::ScopedName name("quiescence-stopped");
  const auto arena = Arena::create(name.name, 16ull << 20, ArenaOptions{.lock_timeout = 200ms});
  testing::Signal written;
  const pid_t child = testing::fork_child([&] {
    auto mine = Arena::attach(name.name);
    auto h = mine->attach_holder();
    publish_intent(slot_of(*mine, *h), an_intent(4096));
    written.post('w');
    for (;;) pause();
    return 0;
  });
  ASSERT_EQ(written.wait(), 'w');
  kill(child, SIGSTOP);
  try {
    (void)arena->check();
    ADD_FAILURE() << "check waited past the lock timeout without a word";
  } catch (const LockTimeout& e) {
    EXPECT_NE(std::string(e.what()).find("process " + std::to_string(child)), std::string::npos) << e.what();
  }
  EXPECT_TRUE(gate_open(*ArenaInternals::header(*arena))) << "a wait that gave up opens the gate again";
  kill(child, SIGCONT);
  testing::kill_and_reap(child);
  EXPECT_EQ(arena->reap_dead_holders(), 1u);
  const auto problems = arena->check();
  EXPECT_TRUE(problems.empty()) << problems.front();
}

TEST_F(Quiescence, TheCheckHoldsIntentsAndTheGateToTheirRules) {
  layout::ArenaHeader* header = ArenaInternals::header(*arena);
  // A free slot with an intent (a stray write, or a slot released wrongly).
  layout::HolderSlot& free_slot = header->holders[layout::kMaxHolders - 1];
  ASSERT_EQ(free_slot.state, static_cast<std::uint32_t>(layout::SlotState::free));
  free_slot.intent.op = static_cast<std::uint32_t>(layout::IntentOp::recv);
  EXPECT_TRUE(has(check_image(arena->base(), arena->stats().size), "a free slot has an intent"));
  free_slot.intent.op = 0;
  // An operation nobody knows.
  slot_of(*arena, *holder).intent.op = 0x77;
  EXPECT_TRUE(has(check_image(arena->base(), arena->stats().size), "intent of unknown operation"));
  slot_of(*arena, *holder).intent.op = 0;
  // The gate left closed with nobody holding the lock.
  header->lf_gate = 12345;
  EXPECT_TRUE(has(check_image(arena->base(), arena->stats().size), "lock-free gate is closed"));
  header->lf_gate = 0;
  EXPECT_TRUE(check_image(arena->base(), arena->stats().size).empty());
  expect_sound();
}

TEST_F(Quiescence, RepairOpensAGateItsDeadLockOwnerLeftClosed) {
  // A lock owner killed while it held the gate closed (inside the check):
  // the next locker repairs, and the gate is open after.
  testing::Signal reached;
  const pid_t child = testing::fork_child([&] {
    auto mine = Arena::attach(name.name);
    ArenaLock lock(*mine);
    LockFreeGate gate(*mine);
    reached.post('g');
    for (;;) pause();
    return 0;
  });
  ASSERT_EQ(reached.wait(), 'g');
  EXPECT_FALSE(gate_open(*ArenaInternals::header(*arena)));
  testing::kill_and_reap(child);
  expect_sound();  // the check takes the lock: repair runs first
  EXPECT_EQ(arena->stats().repairs, 1u);
  EXPECT_TRUE(gate_open(*ArenaInternals::header(*arena)));
}

}  // namespace
}  // namespace shoal
