// test_in_flight.cpp — the arena's in-flight table: references held for
// pickles (include/shoal/in_flight.hpp). A ticket keeps its block alive
// after every holder let go, can be redeemed any number of times until it
// ends, ends at its deadline or when cancelled, and a process killed inside
// either change leaves a state repair restores exactly.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "shoal/arena.hpp"
#include "shoal/errors.hpp"
#include "shoal/holder.hpp"
#include "shoal/in_flight.hpp"
#include "test_hooks.hpp"
#include "test_support.hpp"

namespace shoal {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using test_hooks::Point;
using testing::Signal;

std::string describe(const std::vector<std::string>& problems) {
  std::string text;
  for (const auto& p : problems) text += "\n  " + p;
  return text;
}

struct Fixture {
  explicit Fixture(const char* tag) : name(tag), arena(Arena::create(name.name, 32ull << 20)) {
    holder = arena->attach_holder();
    HeldBlock warm = holder->allocate(64 << 10);  // the ledger exists before the baseline
    warm.reset();
    baseline = arena->stats().used_bytes;
  }
  void expect_sound_at_baseline() {
    const auto problems = arena->check();
    EXPECT_TRUE(problems.empty()) << describe(problems);
    EXPECT_EQ(arena->stats().used_bytes, baseline);
  }
  testing::ScopedName name;
  std::shared_ptr<Arena> arena;
  std::unique_ptr<Holder> holder;
  std::uint64_t baseline = 0;
};

TEST(InFlight, ATicketKeepsItsBlockAliveForAnyNumberOfRedeemers) {
  Fixture f("tickets");
  HeldBlock block = f.holder->allocate(100'000, layout::BlockKind::blob);
  std::memset(block.bytes().data(), 7, block.bytes().size());
  const Ticket ticket = InFlight::issue(*f.arena, block.handle(), seconds(60));
  EXPECT_TRUE(block.frozen());  // a pickled block is published
  block.reset();                // the sender lets go at once
  EXPECT_EQ(f.arena->block_info(ticket.block).refcount, 1u);

  auto other = f.arena->attach_holder();
  HeldBlock first = InFlight::redeem(*other, ticket);
  HeldBlock second = InFlight::redeem(*f.holder, ticket);
  EXPECT_EQ(first.bytes().size(), 100'000u);
  EXPECT_EQ(std::to_integer<int>(first.bytes()[99'999]), 7);
  EXPECT_EQ(f.arena->block_info(ticket.block).refcount, 3u);
  EXPECT_TRUE(f.arena->check().empty());

  EXPECT_TRUE(InFlight::cancel(*f.arena, ticket));
  EXPECT_FALSE(InFlight::cancel(*f.arena, ticket));  // once
  EXPECT_THROW(InFlight::redeem(*other, ticket), TicketExpired);
  first.reset();
  second.reset();
  other.reset();
  f.expect_sound_at_baseline();
}

TEST(InFlight, ATicketEndsAtItsDeadlineAndIsRefusedAfter) {
  Fixture f("deadline");
  HeldBlock block = f.holder->allocate(5000);
  const Ticket ticket = InFlight::issue(*f.arena, block.handle(), milliseconds(20));
  block.reset();
  EXPECT_EQ(InFlight::expire(*f.arena), 0u);  // not yet
  std::this_thread::sleep_for(milliseconds(40));
  try {
    InFlight::redeem(*f.holder, ticket);
    FAIL() << "an expired ticket was redeemed";
  } catch (const TicketExpired& e) {
    EXPECT_NE(std::string(e.what()).find("lifetime ran out"), std::string::npos) << e.what();
  }
  EXPECT_EQ(InFlight::expire(*f.arena), 0u);  // redeem ended it already
  EXPECT_TRUE(InFlight::list(*f.arena).empty());
  f.expect_sound_at_baseline();
}

TEST(InFlight, TheBrokersRoundEndsExpiredTickets) {
  Fixture f("expire");
  std::vector<Ticket> tickets;
  for (int i = 0; i < 10; ++i) {
    HeldBlock block = f.holder->allocate(1000 + static_cast<std::uint64_t>(i));
    tickets.push_back(InFlight::issue(*f.arena, block.handle(), milliseconds(i < 5 ? 10 : 60'000)));
  }
  std::this_thread::sleep_for(milliseconds(30));
  EXPECT_EQ(InFlight::expire(*f.arena), 5u);
  EXPECT_EQ(InFlight::list(*f.arena).size(), 5u);
  EXPECT_TRUE(f.arena->check().empty());
  for (const Ticket& t : tickets) InFlight::cancel(*f.arena, t);
  f.expect_sound_at_baseline();
}

TEST(InFlight, AForgedOrStaleTicketNeverBindsToOtherMemory) {
  Fixture f("forged");
  HeldBlock a = f.holder->allocate(256);
  HeldBlock b = f.holder->allocate(256);
  const Ticket ticket = InFlight::issue(*f.arena, a.handle(), seconds(60));
  Ticket other_block = ticket;
  other_block.block = b.handle();
  EXPECT_THROW(InFlight::redeem(*f.holder, other_block), TicketExpired);
  Ticket other_number = ticket;
  other_number.number += 1;
  EXPECT_THROW(InFlight::redeem(*f.holder, other_number), TicketExpired);
  Ticket out_of_range = ticket;
  out_of_range.entry = layout::kInFlightEntries;
  EXPECT_THROW(InFlight::redeem(*f.holder, out_of_range), InvalidHandle);
  EXPECT_FALSE(InFlight::cancel(*f.arena, other_number));
  EXPECT_THROW(InFlight::issue(*f.arena, Handle{a.handle().offset, a.handle().generation + 1}, seconds(1)),
               InvalidHandle);
  EXPECT_THROW(InFlight::issue(*f.arena, a.handle(), seconds(0)), InvalidArgument);
  EXPECT_TRUE(InFlight::cancel(*f.arena, ticket));
  a.reset();
  b.reset();
  f.expect_sound_at_baseline();
}

TEST(InFlight, AFullTableSaysSoAndLeavesNothingAllocated) {
  Fixture f("full");
  HeldBlock block = f.holder->allocate(64);
  std::vector<Ticket> tickets;
  for (std::uint64_t i = 0; i < layout::kInFlightEntries; ++i) {
    tickets.push_back(InFlight::issue(*f.arena, block.handle(), seconds(60), /*shared=*/false));
  }
  EXPECT_EQ(f.arena->block_info(block.handle()).refcount, 1u + layout::kInFlightEntries);
  try {
    InFlight::issue(*f.arena, block.handle(), seconds(60), /*shared=*/false);
    FAIL() << "the table has no room";
  } catch (const ArenaFull& e) {
    EXPECT_NE(std::string(e.what()).find("in-flight references"), std::string::npos) << e.what();
  }
  EXPECT_EQ(f.arena->block_info(block.handle()).refcount, 1u + layout::kInFlightEntries);
  EXPECT_TRUE(InFlight::cancel(*f.arena, tickets[17]));
  tickets[17] = InFlight::issue(*f.arena, block.handle(), seconds(60), /*shared=*/false);  // its entry, reused
  EXPECT_EQ(tickets[17].entry, 17u);
  for (const Ticket& t : tickets) EXPECT_TRUE(InFlight::cancel(*f.arena, t));
  block.reset();
  f.expect_sound_at_baseline();
}

TEST(InFlight, PicklesOfOneBlockShareAnEntryUnlessPrivate) {
  Fixture f("shared");
  HeldBlock block = f.holder->allocate(4096);
  HeldBlock other = f.holder->allocate(4096);
  const Ticket first = InFlight::issue(*f.arena, block.handle(), milliseconds(500));
  const Ticket again = InFlight::issue(*f.arena, block.handle(), seconds(60));
  EXPECT_EQ(again.entry, first.entry);
  EXPECT_EQ(again.number, first.number);
  EXPECT_GT(again.expires_boot_ns, first.expires_boot_ns);  // the later bound wins
  EXPECT_EQ(InFlight::issue(*f.arena, block.handle(), milliseconds(1)).expires_boot_ns, again.expires_boot_ns);
  const Ticket mine = InFlight::issue(*f.arena, block.handle(), seconds(60), /*shared=*/false);
  EXPECT_NE(mine.entry, first.entry);
  EXPECT_NE(InFlight::issue(*f.arena, other.handle(), seconds(60)).entry, first.entry);
  EXPECT_EQ(f.arena->block_info(block.handle()).refcount, 3u);  // the holder, the shared entry, the private one
  std::this_thread::sleep_for(milliseconds(600));
  EXPECT_NO_THROW(InFlight::redeem(*f.holder, first));  // extended past its own bound
  EXPECT_TRUE(InFlight::cancel(*f.arena, mine));
  EXPECT_TRUE(InFlight::cancel(*f.arena, first));
  EXPECT_TRUE(InFlight::list(*f.arena).size() == 1u);
  for (const auto& e : InFlight::list(*f.arena)) InFlight::cancel(*f.arena, e.ticket);
  block.reset();
  other.reset();
  f.expect_sound_at_baseline();
}

TEST(InFlight, APrivateEntryLastsWhileItsCreatorLives) {
  Fixture f("private");
  HeldBlock block = f.holder->allocate(4096);
  const Ticket mine = InFlight::issue(*f.arena, block.handle(), milliseconds(10), /*shared=*/false);
  Signal issued;
  const pid_t other = testing::fork_child([&] {
    auto a = Arena::attach(f.name.name);
    (void)InFlight::issue(*a, block.handle(), milliseconds(10), /*shared=*/false);
    issued.post('i');
    return 0;  // exits: its entry is an orphan once past its deadline
  });
  ASSERT_EQ(issued.wait(), 'i');
  EXPECT_EQ(testing::wait_child(other), 0);
  std::this_thread::sleep_for(milliseconds(30));
  EXPECT_EQ(InFlight::expire(*f.arena), 1u);  // the dead creator's; ours lives on
  EXPECT_NO_THROW(InFlight::redeem(*f.holder, mine));
  EXPECT_TRUE(InFlight::cancel(*f.arena, mine));
  block.reset();
  f.expect_sound_at_baseline();
}

TEST(InFlight, AStrayDeadlineDoesNotPinABlockForEver) {
  Fixture f("stray");
  HeldBlock block = f.holder->allocate(4096);
  const Ticket t = InFlight::issue(*f.arena, block.handle(), seconds(60));
  block.reset();
  auto* entry = reinterpret_cast<layout::InFlightEntry*>(f.arena->base() + layout::kInFlightOffset +
                                                         sizeof(layout::InFlightTableHeader)) + t.entry;
  entry->expires_boot_ns = ~std::uint64_t{0} - 5;  // a stray write
  EXPECT_FALSE(f.arena->check().empty());          // reported
  EXPECT_EQ(InFlight::expire(*f.arena), 1u);       // and ended as past
  f.expect_sound_at_baseline();
}

TEST(InFlight, ATicketOutlivesTheProcessThatIssuedIt) {
  Fixture f("outlive");
  Signal issued;
  const pid_t sender = testing::fork_child([&] {
    auto a = Arena::attach(f.name.name);
    auto h = a->attach_holder();
    HeldBlock block = h->allocate(3 << 20, layout::BlockKind::blob);
    std::memset(block.bytes().data(), 5, block.bytes().size());
    const Ticket t = InFlight::issue(*a, block.handle(), seconds(60));
    issued.post(static_cast<char>(t.entry));
    for (;;) pause();
    return 0;
  });
  const char entry = issued.wait();
  kill(sender, SIGKILL);
  testing::wait_child(sender);
  EXPECT_EQ(f.arena->reap_dead_holders(), 1u);
  const auto listed = InFlight::list(*f.arena);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].ticket.entry, static_cast<std::uint64_t>(entry));
  EXPECT_EQ(listed[0].creator_pid, sender);
  HeldBlock got = InFlight::redeem(*f.holder, listed[0].ticket);
  EXPECT_EQ(std::to_integer<int>(got.bytes()[12345]), 5);
  EXPECT_TRUE(InFlight::cancel(*f.arena, listed[0].ticket));
  got.reset();
  f.expect_sound_at_baseline();
}

// A process killed inside issue (entry committed, refcount not raised) or
// inside the end of an entry (cleared, reference not dropped).
class DeathInsideInFlight : public ::testing::TestWithParam<Point> {};

TEST_P(DeathInsideInFlight, RepairRestoresExactCounts) {
  Fixture f("inflight-death");
  HeldBlock mine = f.holder->allocate(20'000);
  const Handle target = mine.handle();
  Signal reached;
  const pid_t victim = testing::fork_child([&] {
    auto a = Arena::attach(f.name.name);
    testing::pause_at(GetParam(), reached);
    const Ticket t = InFlight::issue(*a, target, seconds(60));  // after_commit stops here
    InFlight::cancel(*a, t);                                     // after_end here
    return 50;
  });
  ASSERT_EQ(reached.wait(), 'p') << "the victim never reached its hook point";
  kill(victim, SIGKILL);
  EXPECT_EQ(testing::wait_child(victim), -SIGKILL);

  // The next locker repairs: the entry owns a reference (after_commit) or
  // none (after_end), and the counts say exactly that.
  const auto problems = f.arena->check();
  EXPECT_TRUE(problems.empty()) << describe(problems);
  EXPECT_EQ(f.arena->stats().repairs, 1u);
  const auto listed = InFlight::list(*f.arena);
  if (GetParam() == Point::in_flight_after_commit) {
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(f.arena->block_info(target).refcount, 2u);
    mine.reset();  // the entry alone keeps it now
    EXPECT_EQ(f.arena->block_info(target).refcount, 1u);
    EXPECT_TRUE(InFlight::cancel(*f.arena, listed[0].ticket));
  } else {
    EXPECT_TRUE(listed.empty());
    EXPECT_EQ(f.arena->block_info(target).refcount, 1u);
    mine.reset();
  }
  f.expect_sound_at_baseline();
}

INSTANTIATE_TEST_SUITE_P(BothPoints, DeathInsideInFlight,
                         ::testing::Values(Point::in_flight_after_commit, Point::in_flight_after_end));

TEST(ArenaIdentity, EachArenaHasItsOwnIdAndNamesItsHost) {
  testing::ScopedName a("id-a");
  testing::ScopedName b("id-b");
  auto first = Arena::create(a.name, 4ull << 20);
  auto second = Arena::create(b.name, 4ull << 20);
  EXPECT_NE(first->identity().id, second->identity().id);
  EXPECT_EQ(Arena::attach(a.name)->identity(), first->identity());
  std::ifstream file("/proc/sys/kernel/random/boot_id");
  std::string boot;
  std::getline(file, boot);
  EXPECT_EQ(first->identity().boot_id, boot);
  EXPECT_EQ(boot.size(), 36u);
}

}  // namespace
}  // namespace shoal
