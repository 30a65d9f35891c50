// test_reaper_lease.cpp — reaping goes on when a broker dies or stops, and
// an arena is never unlinked under a live holder (arena_lifecycle.cpp).
//
// The waits poll with generous bounds: these tests check that things
// happen, never how fast.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <functional>
#include <thread>

#include "shoal/arena.hpp"
#include "shoal/broker.hpp"
#include "shoal/errors.hpp"
#include "shoal/holder.hpp"
#include "test_support.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;
using testing::fork_child;
using testing::kill_and_reap;
using testing::ScopedName;
using testing::Signal;
using testing::wait_child;

constexpr auto kGenerous = 30s;

bool eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + kGenerous;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return condition();
}

bool exists(const std::string& name) {
  struct stat st {};
  return ::stat(("/dev/shm/" + Arena::segment_name(name)).c_str(), &st) == 0;
}

// A child that claims the lease and then waits (killed by the caller).
pid_t lease_holding_child(const std::string& name, const Signal& claimed) {
  return fork_child([&]() -> int {
    auto arena = Arena::attach(name);
    if (!arena->claim_reaper_lease(1, std::chrono::hours(1))) return 1;
    claimed.post();
    for (;;) pause();
  });
}

TEST(ReaperLease, OneHolderAtATimeAndALiveHoldersLeaseIsKept) {
  ScopedName n("lease");
  auto arena = Arena::create(n.name, 16ull << 20);
  Signal claimed;
  const pid_t child = lease_holding_child(n.name, claimed);
  ASSERT_EQ(claimed.wait(), 'x');
  EXPECT_FALSE(arena->claim_reaper_lease(7, 1h));  // alive, deadline ahead: not ours
  kill_and_reap(child);
  EXPECT_TRUE(arena->claim_reaper_lease(7, 1h));   // its holder died: taken over
  EXPECT_TRUE(arena->claim_reaper_lease(7, 1h));   // and renewed
  EXPECT_FALSE(arena->claim_reaper_lease(8, 1h));  // a sibling reaper of ours stands by
  arena->release_reaper_lease(7);
  EXPECT_TRUE(arena->claim_reaper_lease(8, 1h));
}

TEST(ReaperLease, AnExpiredLeaseIsTakenOver) {
  ScopedName n("expired");
  auto arena = Arena::create(n.name, 16ull << 20);
  Signal claimed;
  const pid_t child = fork_child([&]() -> int {
    auto mine = Arena::attach(n.name);
    if (!mine->claim_reaper_lease(1, 1ms)) return 1;
    claimed.post();
    for (;;) pause();
  });
  ASSERT_EQ(claimed.wait(), 'x');
  EXPECT_TRUE(eventually([&] { return arena->claim_reaper_lease(2, 1h); }));  // alive but stopped renewing
  kill_and_reap(child);
}

TEST(ReaperLease, AStandbyReapsOnceTheBrokerIsGone) {
  ScopedName n("standby");
  auto arena = Arena::create(n.name, 64ull << 20);
  Signal claimed;
  const pid_t broker = lease_holding_child(n.name, claimed);  // the broker, until killed
  ASSERT_EQ(claimed.wait(), 'x');
  Signal holding;
  const pid_t doomed = fork_child([&]() -> int {
    auto mine = Arena::attach(n.name);
    auto holder = mine->attach_holder();
    HeldBlock block = holder->allocate(2ull << 20);
    holding.post();
    for (;;) pause();
  });
  ASSERT_EQ(holding.wait(), 'x');
  const std::uint64_t held = arena->stats().used_bytes;

  Broker standby(arena, Broker::kDefaultInterval, Broker::Role::standby);
  kill_and_reap(broker);
  kill_and_reap(doomed);
  EXPECT_TRUE(eventually([&] { return arena->stats().holders == 0; })) << "the dead holder was never reaped";
  EXPECT_TRUE(standby.holds_lease());
  EXPECT_EQ(standby.reaped(), 1u);
  EXPECT_LT(arena->stats().used_bytes + (2ull << 20), held + 1);
  EXPECT_TRUE(arena->check().empty());
}

TEST(ReaperLease, AStoppedBrokerHandsTheLeaseToAStandby) {
  ScopedName n("handover");
  auto arena = Arena::create(n.name, 16ull << 20);
  auto serving = std::make_unique<Broker>(arena);
  EXPECT_TRUE(eventually([&] { return serving->holds_lease(); }));
  Broker standby(arena, Broker::kDefaultInterval, Broker::Role::standby);
  serving.reset();  // gives the lease up
  EXPECT_TRUE(eventually([&] { return standby.holds_lease(); }));
}

TEST(Retire, NeverUnlinksUnderALiveHolderAndTheLastToLeaveUnlinks) {
  ScopedName n("retire");
  auto arena = Arena::create(n.name, 16ull << 20);
  arena->set_unlink_on_close(false);
  auto other = Arena::attach(n.name);
  auto holder = other->attach_holder();

  EXPECT_EQ(arena->retire(/*force=*/false), Arena::RetireOutcome::refused);
  EXPECT_EQ(arena->lifecycle(), layout::ArenaLifecycle::open);
  EXPECT_EQ(arena->retire(/*force=*/true), Arena::RetireOutcome::closing);
  EXPECT_TRUE(exists(n.name));
  EXPECT_THROW(Arena::create(n.name, 16ull << 20), ArenaExists);  // never two arenas of one name
  try {
    (void)other->attach_holder();
    ADD_FAILURE() << "a closing arena took a new holder";
  } catch (const ArenaNotFound& e) {
    EXPECT_NE(std::string(e.what()).find("being destroyed"), std::string::npos) << e.what();
  }
  HeldBlock block = holder->allocate(1000);  // the live holder works on
  block.reset();
  holder.reset();  // the last holder leaves
  EXPECT_FALSE(exists(n.name));
  EXPECT_EQ(arena->lifecycle(), layout::ArenaLifecycle::unlinked);
}

TEST(Retire, TheReaperOfTheLastDeadHolderUnlinks) {
  ScopedName n("retire-dead");
  auto arena = Arena::create(n.name, 16ull << 20);
  arena->set_unlink_on_close(false);
  Signal holding;
  const pid_t child = fork_child([&]() -> int {
    auto mine = Arena::attach(n.name);
    auto holder = mine->attach_holder();
    holding.post();
    for (;;) pause();
  });
  ASSERT_EQ(holding.wait(), 'x');
  EXPECT_EQ(arena->retire(true), Arena::RetireOutcome::closing);
  kill_and_reap(child);
  EXPECT_EQ(arena->reap_dead_holders(), 1u);
  EXPECT_FALSE(exists(n.name));
}

TEST(Retire, TheCreatorClosingLeavesTheNameToItsHolders) {
  ScopedName n("creator");
  auto creator = Arena::create(n.name, 16ull << 20);
  auto other = Arena::attach(n.name);
  auto holder = other->attach_holder();
  creator.reset();
  EXPECT_TRUE(exists(n.name));
  holder.reset();
  EXPECT_FALSE(exists(n.name));
}

TEST(Abandoned, RemovedOnlyWhenNobodyIsLeft) {
  ScopedName n("abandoned");
  // Created by a child that dies, with a holder that dies too.
  Signal created;
  const pid_t creator = fork_child([&]() -> int {
    auto arena = Arena::create(n.name, 16ull << 20);
    arena->set_unlink_on_close(false);
    auto holder = arena->attach_holder();
    HeldBlock block = holder->allocate(4096);
    created.post();
    for (;;) pause();
  });
  ASSERT_EQ(created.wait(), 'x');
  auto arena = Arena::attach(n.name);
  EXPECT_FALSE(arena->remove_if_abandoned());  // its creator lives
  kill_and_reap(creator);

  // A live reaper keeps it.
  Signal claimed;
  const pid_t reaper = lease_holding_child(n.name, claimed);
  ASSERT_EQ(claimed.wait(), 'x');
  EXPECT_FALSE(arena->remove_if_abandoned());
  EXPECT_TRUE(exists(n.name));
  kill_and_reap(reaper);

  EXPECT_TRUE(arena->remove_if_abandoned());
  EXPECT_FALSE(exists(n.name));
  EXPECT_FALSE(arena->remove_if_abandoned());  // once
}

TEST(Abandoned, ALiveHolderKeepsIt) {
  ScopedName n("held");
  Signal created;
  const pid_t creator = fork_child([&]() -> int {
    auto arena = Arena::create(n.name, 16ull << 20);
    arena->set_unlink_on_close(false);
    created.post();
    return 0;
  });
  ASSERT_EQ(created.wait(), 'x');
  ASSERT_EQ(wait_child(creator), 0);
  auto arena = Arena::attach(n.name);
  auto holder = arena->attach_holder();  // this process
  EXPECT_FALSE(arena->remove_if_abandoned());
  EXPECT_TRUE(exists(n.name));
}

}  // namespace
}  // namespace shoal
