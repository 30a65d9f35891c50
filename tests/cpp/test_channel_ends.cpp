// test_channel_ends.cpp — a channel's sender and receiver ends: the channel
// closes when the last end of a role goes, by release or by the death of
// its holder (reaped), and a death inside the count leaves what repair
// restores exactly.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "shoal/arena.hpp"
#include "shoal/channel.hpp"
#include "shoal/errors.hpp"
#include "shoal/holder.hpp"
#include "test_hooks.hpp"
#include "test_support.hpp"

namespace shoal {
namespace {

using Clock = std::chrono::steady_clock;
using layout::EndRole;
using namespace std::chrono_literals;

class Ends : public testing::ArenaTest {
 protected:
  Ends() : ArenaTest("ends") {}
  static Channel::InlineValue value(std::uint64_t v) { return {layout::InlineTag::int64, v}; }
  std::string closed_message(Channel& ch) {
    try {
      ch.receive(1s);
    } catch (const ChannelClosed& e) {
      return e.what();
    }
    return "(not closed)";
  }
};

TEST_F(Ends, TheLastSenderEndClosesTheChannelAfterWhatIsPending) {
  Channel ch = Channel::create(*holder, 4, 0, "frames");
  HeldBlock tx = ch.make_end(EndRole::sender);
  HeldBlock copy = holder->retain(tx.handle());  // another reference to the same end (a clone)
  HeldBlock other = ch.make_end(EndRole::sender);
  EXPECT_EQ(ch.end_counts().senders, 2u);
  ch.send_inline(value(1));
  ch.send_inline(value(2));
  tx.reset();
  other.reset();
  EXPECT_FALSE(ch.closed()) << "a reference to the first end is left";
  EXPECT_EQ(ch.end_counts().senders, 1u);
  copy.reset();
  EXPECT_TRUE(ch.closed());
  EXPECT_EQ(ch.end_counts().senders, 0u);
  EXPECT_THROW(ch.send_inline(value(3)), ChannelClosed);
  EXPECT_EQ(ch.receive(1s).value.word, 1u);  // drained first
  EXPECT_EQ(ch.receive(1s).value.word, 2u);
  const std::string why = closed_message(ch);
  EXPECT_NE(why.find("'frames'"), std::string::npos) << why;
  EXPECT_NE(why.find("every sender end was closed or its holder died"), std::string::npos) << why;
  expect_sound();
}

TEST_F(Ends, ABlockedReceiverLearnsAtOnceWhenTheLastSenderGoes) {
  Channel ch = Channel::create(*holder, 4);
  HeldBlock tx = ch.make_end(EndRole::sender);
  std::atomic<bool> ended{false};
  Clock::duration took{};
  std::thread receiver([&] {
    auto h = arena->attach_holder();
    Channel mine = Channel::open(*h, ch.handle());
    const auto start = Clock::now();
    try {
      mine.receive(30s);
    } catch (const ChannelClosed&) {
      ended = true;
    } catch (...) {
    }
    took = Clock::now() - start;
  });
  std::this_thread::sleep_for(100ms);  // let it block (if not yet, it finds the channel closed: same outcome)
  tx.reset();
  receiver.join();
  EXPECT_TRUE(ended);
  EXPECT_LT(took, 10s) << "woken by the close, not by its 30 s timeout";
}

TEST_F(Ends, ABlockedSenderLearnsWhenTheLastReceiverGoes) {
  Channel ch = Channel::create(*holder, 1);
  HeldBlock rx = ch.make_end(EndRole::receiver);
  ch.send_inline(value(7));  // full now
  std::string why;
  std::thread sender([&] {
    auto h = arena->attach_holder();
    Channel mine = Channel::open(*h, ch.handle());
    try {
      mine.send_inline(value(8), 30s);
    } catch (const ChannelClosed& e) {
      why = e.what();
    } catch (...) {
    }
  });
  std::this_thread::sleep_for(100ms);
  rx.reset();
  sender.join();
  EXPECT_NE(why.find("every receiver end was closed or its holder died"), std::string::npos) << why;
  expect_sound();
}

// With no receiver left, what is pending can never be received: it goes
// when the last receiver end goes, not when the senders let the channel go.
TEST_F(Ends, TheLastReceiverEndDropsWhatIsPending) {
  Channel ch = Channel::create(*holder, 4);
  HeldBlock rx = ch.make_end(EndRole::receiver);
  const std::uint64_t used_before = arena->stats().used_bytes;
  HeldBlock big = holder->allocate(1 << 20);
  const Handle sent = big.handle();
  ch.send(std::move(big));
  ch.send_inline(value(5));
  EXPECT_EQ(ch.size(), 2u);
  rx.reset();
  EXPECT_TRUE(ch.closed());
  EXPECT_EQ(ch.size(), 0u);
  EXPECT_THROW(arena->block_info(sent), InvalidHandle) << "the pending block outlived every receiver";
  EXPECT_LT(arena->stats().used_bytes, used_before + 4096);
  EXPECT_THROW(ch.receive(1s), ChannelClosed);
  expect_sound();
}

// A holder killed inside the lock after disowning the pending items of a
// channel whose last receiver end it dropped, one item dropped, the rest
// not: repair frees the rest (nobody owns them), the channel is closed and
// empty.
TEST_F(Ends, ADeathWhileDroppingWhatNoOneCanReceiveIsRepaired) {
  Channel ch = Channel::create(*holder, 4);
  HeldBlock rx = ch.make_end(EndRole::receiver);
  const std::uint64_t used_before = arena->stats().used_bytes;
  for (int i = 0; i < 3; ++i) ch.send(holder->allocate(4096));
  testing::Signal reached;
  testing::Signal go;
  const pid_t victim = testing::fork_child([&] {
    auto a = Arena::attach(name.name);
    auto h = a->attach_holder();
    Channel::End mine = Channel::open_end(*h, rx.handle());
    reached.post('o');
    if (go.wait() != 'g') return 51;
    testing::pause_at(test_hooks::Point::ends_mid_drop, reached);
    mine.end.reset();
    return 50;  // the hook never fired
  });
  ASSERT_EQ(reached.wait(), 'o');
  rx.reset();  // the victim's is the last receiver end now
  go.post('g');
  ASSERT_EQ(reached.wait(), 'p') << "the victim never reached its hook point";
  kill(victim, SIGKILL);
  EXPECT_EQ(testing::wait_child(victim), -SIGKILL);
  EXPECT_TRUE(ch.closed());  // takes the lock: repairs
  EXPECT_EQ(arena->stats().repairs, 1u);
  EXPECT_EQ(ch.size(), 0u);
  arena->reap_dead_holders();
  EXPECT_LT(arena->stats().used_bytes, used_before + 4096) << "the undropped items leaked";
  expect_sound();
}

TEST_F(Ends, RolesAreTrackedOnlyOnceAnEndIsMade) {
  Channel ch = Channel::create(*holder, 2);
  HeldBlock rx = ch.make_end(EndRole::receiver);
  const Channel::EndCounts counts = ch.end_counts();
  EXPECT_FALSE(counts.senders_tracked);
  EXPECT_TRUE(counts.receivers_tracked);
  ch.send_inline(value(1));  // no sender end ever made: the channel itself sends
  EXPECT_FALSE(ch.closed());
}

TEST_F(Ends, AnEndOpensAsItsChannelAndFreesEverythingWhenAllIsReleased) {
  {
    Channel ch = Channel::create(*holder, 2);
    HeldBlock tx = ch.make_end(EndRole::sender);
    Channel::End opened = Channel::open_end(*holder, tx.handle());
    EXPECT_EQ(opened.channel.handle(), ch.handle());
    EXPECT_EQ(opened.role, EndRole::sender);
    EXPECT_THROW(Channel::open_end(*holder, ch.handle()), InvalidHandle);
    HeldBlock item = holder->allocate(64);
    opened.channel.send(item.handle());
  }
  EXPECT_EQ(arena->stats().used_bytes, baseline);
  expect_sound();
}

TEST_F(Ends, AnEndCannotBeSentIntoItsOwnChannel) {
  Channel ch = Channel::create(*holder, 2);
  HeldBlock tx = ch.make_end(EndRole::sender);
  EXPECT_THROW(ch.send(tx.handle()), ReferenceCycle);
  Channel other = Channel::create(*holder, 2);
  EXPECT_NO_THROW(other.send(tx.handle()));  // another channel may carry it
  tx.reset();
  EXPECT_FALSE(ch.closed()) << "the end pending in `other` is alive";
  other.poison();  // drops it
  EXPECT_TRUE(ch.closed());
  expect_sound();
}

TEST_F(Ends, AKilledProcessHoldingTheLastSenderEndIsReapedAndTheChannelCloses) {
  Channel ch = Channel::create(*holder, 4);
  HeldBlock tx = ch.make_end(EndRole::sender);
  testing::Signal ready;
  const pid_t child = testing::fork_child([&]() -> int {
    auto a = Arena::attach(name.name);
    auto h = a->attach_holder();
    Channel::End mine = Channel::open_end(*h, tx.handle());
    mine.channel.send_inline(value(42));
    ready.post('r');
    for (;;) pause();
  });
  ASSERT_EQ(ready.wait(), 'r');
  tx.reset();  // the child's is the last sender end now
  EXPECT_FALSE(ch.closed());
  kill(child, SIGKILL);
  for (int i = 0; i < 100 && arena->reap_dead_holders() == 0; ++i) std::this_thread::sleep_for(10ms);
  testing::wait_child(child);
  EXPECT_TRUE(ch.closed());
  EXPECT_EQ(ch.receive(1s).value.word, 42u);
  EXPECT_THROW(ch.receive(1s), ChannelClosed);
  expect_sound();
}

TEST_F(Ends, CheckReportsAnEndCountThatDisagreesWithTheEnds) {
  Channel ch = Channel::create(*holder, 2);
  HeldBlock tx = ch.make_end(EndRole::sender);
  auto* header = reinterpret_cast<layout::ChannelHeader*>(arena->base() + ch.handle().offset + layout::kBlockHeaderBytes);
  header->senders = 3;
  const auto problems = arena->check();
  ASSERT_FALSE(problems.empty());
  EXPECT_NE(problems.front().find("channel ends"), std::string::npos) << problems.front();
  header->senders = 1;
  expect_sound();
}

// A holder killed inside the lock, after counting the last sender end out
// of its channel and before closing it: the next locker repairs, and the
// channel is closed exactly as if the death had not happened.
TEST_F(Ends, ADeathBetweenTheCountAndTheCloseIsRepaired) {
  Channel ch = Channel::create(*holder, 4);
  HeldBlock tx = ch.make_end(EndRole::sender);
  testing::Signal reached;
  testing::Signal go;
  const pid_t victim = testing::fork_child([&] {
    auto a = Arena::attach(name.name);
    auto h = a->attach_holder();
    Channel::End mine = Channel::open_end(*h, tx.handle());
    reached.post('o');
    if (go.wait() != 'g') return 51;
    testing::pause_at(test_hooks::Point::end_after_count, reached);
    mine.end.reset();
    return 50;  // the hook never fired
  });
  ASSERT_EQ(reached.wait(), 'o');
  tx.reset();  // the victim's is the last now
  go.post('g');
  ASSERT_EQ(reached.wait(), 'p') << "the victim never reached its hook point";
  kill(victim, SIGKILL);
  EXPECT_EQ(testing::wait_child(victim), -SIGKILL);
  EXPECT_TRUE(ch.closed());  // takes the lock: repairs
  EXPECT_EQ(arena->stats().repairs, 1u);
  EXPECT_EQ(ch.end_counts().senders, 0u);
  arena->reap_dead_holders();
  expect_sound();
}

// A holder killed inside make_end, its end allocated but not yet written
// or counted: repair frees the orphan without counting it out, and the
// channel neither closes nor counts an end nobody has.
TEST_F(Ends, ADeathInsideMakingAnEndLeavesTheChannelAsItWas) {
  Channel ch = Channel::create(*holder, 4);
  HeldBlock rx = ch.make_end(EndRole::receiver);
  const std::uint64_t used_before = arena->stats().used_bytes;
  testing::Signal reached;
  const pid_t victim = testing::fork_child([&] {
    auto a = Arena::attach(name.name);
    auto h = a->attach_holder();
    Channel mine = Channel::open(*h, ch.handle());
    testing::pause_at(test_hooks::Point::alloc_after_mark_used, reached);
    HeldBlock made = mine.make_end(EndRole::sender);
    return 50;  // the hook never fired
  });
  ASSERT_EQ(reached.wait(), 'p') << "the victim never reached its hook point";
  kill(victim, SIGKILL);
  EXPECT_EQ(testing::wait_child(victim), -SIGKILL);
  EXPECT_FALSE(ch.closed());  // takes the lock: repairs
  EXPECT_EQ(arena->stats().repairs, 1u);
  const Channel::EndCounts counts = ch.end_counts();
  EXPECT_EQ(counts.senders, 0u);
  EXPECT_FALSE(counts.senders_tracked);
  EXPECT_EQ(counts.receivers, 1u);
  arena->reap_dead_holders();
  EXPECT_EQ(arena->stats().used_bytes, used_before);
  expect_sound();
}

}  // namespace
}  // namespace shoal
