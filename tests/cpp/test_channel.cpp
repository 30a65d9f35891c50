// test_channel.cpp — channels of handles: order, bounds, close, ownership of
// pending items, many processes sending and receiving exactly once, and
// deaths in the middle of a send or a receive.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "shoal/arena.hpp"
#include "shoal/arena_image.hpp"
#include "shoal/channel.hpp"
#include "shoal/errors.hpp"
#include "shoal/holder.hpp"
#include "test_hooks.hpp"
#include "test_support.hpp"

namespace shoal {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

class Channels : public testing::ArenaTest {
 protected:
  Channels() : ArenaTest("channel") {}

  HeldBlock item(std::uint64_t value) {
    HeldBlock b = holder->allocate(sizeof value);
    std::memcpy(b.bytes().data(), &value, sizeof value);
    return b;
  }
  static std::uint64_t value_of(const HeldBlock& b) {
    std::uint64_t v = 0;
    std::memcpy(&v, b.bytes().data(), sizeof v);
    return v;
  }
};

TEST_F(Channels, ItemsArriveInOrderAndOwnershipMoves) {
  Channel ch = Channel::create(*holder, 4);
  std::vector<Handle> sent;
  for (std::uint64_t i = 0; i < 3; ++i) {
    HeldBlock b = item(i);
    ch.send(b.handle());
    sent.push_back(b.handle());
    EXPECT_EQ(arena->block_info(b.handle()).refcount, 2u);  // ours and the slot's
  }  // our references go: each item is now owned by its slot only
  EXPECT_EQ(ch.size(), 3u);
  EXPECT_TRUE(arena->block_info(sent[0]).frozen);  // sent: its bytes are final
  expect_sound();
  for (std::uint64_t i = 0; i < 3; ++i) {
    HeldBlock got = ch.recv();
    EXPECT_EQ(got.handle(), sent[i]);
    EXPECT_EQ(value_of(got), i);
    EXPECT_EQ(arena->block_info(got.handle()).refcount, 1u);  // moved, not copied
  }
  EXPECT_EQ(ch.size(), 0u);
  expect_sound();
}

TEST_F(Channels, SendingAHeldBlockMovesItsReference) {
  Channel ch = Channel::create(*holder, 2);
  HeldBlock a = item(5);
  const Handle h = a.handle();
  const std::uint64_t refs = holder->refs_held();
  ch.send(std::move(a));
  EXPECT_FALSE(a);                                 // moved, not copied
  EXPECT_EQ(holder->refs_held(), refs - 1);        // the ledger entry went with it
  EXPECT_EQ(arena->block_info(h).refcount, 1u);    // the slot's, and only it
  EXPECT_TRUE(arena->block_info(h).frozen);
  expect_sound();
  HeldBlock b = item(6);
  HeldBlock c = item(7);
  EXPECT_TRUE(ch.try_send(std::move(b)));
  EXPECT_FALSE(ch.try_send(std::move(c)));  // full: c keeps its reference
  EXPECT_TRUE(c);
  EXPECT_THROW(ch.send(std::move(c), 10ms), WaitTimeout);
  EXPECT_TRUE(c);
  EXPECT_EQ(value_of(ch.recv()), 5u);
  EXPECT_EQ(value_of(ch.recv()), 6u);
  expect_sound();
}

// A send takes the caller's block only when it succeeds: a failed one
// hands it back whole (still the caller's ledger entry, refcount, bytes
// writable), whether the channel was full or had ended.
TEST_F(Channels, AFailedSendHandsTheBlockBack) {
  Channel ch = Channel::create(*holder, 1);
  ch.send(item(1).handle());  // now full
  HeldBlock mine = item(7);
  const Handle h = mine.handle();
  const std::uint64_t refs = holder->refs_held();
  const auto still_mine = [&] {
    EXPECT_TRUE(mine);
    EXPECT_EQ(mine.handle(), h);
    EXPECT_EQ(holder->refs_held(), refs);
    EXPECT_EQ(arena->block_info(h).refcount, 1u);
    EXPECT_FALSE(arena->block_info(h).frozen);
  };
  EXPECT_THROW(ch.send(std::move(mine), 0ns), WaitTimeout);  // full, timeout 0
  still_mine();
  EXPECT_FALSE(ch.try_send(std::move(mine)));  // full
  still_mine();
  ch.close();
  EXPECT_THROW(ch.send(std::move(mine), 0ns), ChannelClosed);
  still_mine();
  EXPECT_THROW(ch.send(std::move(mine)), ChannelClosed);
  still_mine();
  EXPECT_THROW(ch.try_send(std::move(mine)), ChannelClosed);
  still_mine();
  EXPECT_EQ(value_of(mine), 7u);  // and its bytes are intact
  mine.reset();
  EXPECT_THROW(arena->block_info(h), InvalidHandle);  // our reference was the only one
  expect_sound();
}

TEST_F(Channels, FullAndEmptyAreReportedOrWaitedOut) {
  Channel ch = Channel::create(*holder, 2);
  EXPECT_FALSE(ch.try_recv().has_value());
  HeldBlock a = item(1);
  EXPECT_TRUE(ch.try_send(a.handle()));
  EXPECT_TRUE(ch.try_send(a.handle()));
  EXPECT_FALSE(ch.try_send(a.handle()));
  const auto started = Clock::now();
  EXPECT_THROW(ch.send(a.handle(), 50ms), WaitTimeout);
  EXPECT_GE(Clock::now() - started, 50ms);
  ch.try_recv();
  ch.try_recv();
  EXPECT_THROW(ch.recv(20ms), WaitTimeout);
  EXPECT_EQ(arena->block_info(a.handle()).refcount, 1u);
}

TEST_F(Channels, CloseDrainsThenRefuses) {
  Channel ch = Channel::create(*holder, 8);
  HeldBlock a = item(7);
  ch.send(a.handle());
  ch.close();
  ch.close();  // idempotent
  EXPECT_TRUE(ch.closed());
  EXPECT_THROW(ch.send(a.handle()), ChannelClosed);
  EXPECT_EQ(value_of(ch.recv()), 7u);
  EXPECT_THROW(ch.recv(), ChannelClosed);
  EXPECT_THROW(ch.try_recv(), ChannelClosed);
}

TEST_F(Channels, CloseWakesABlockedReceiver) {
  Channel ch = Channel::create(*holder, 8);
  std::thread closer([&] {
    std::this_thread::sleep_for(50ms);
    auto other = arena->attach_holder();
    Channel mine = Channel::open(*other, ch.handle());
    mine.close();
  });
  const auto started = Clock::now();
  EXPECT_THROW(ch.recv(5s), ChannelClosed);
  EXPECT_LT(Clock::now() - started, 2s);
  closer.join();
}

TEST_F(Channels, ANameIsKeptShownAndInEveryError) {
  Channel named = Channel::create(*holder, 2, 0, "frames");
  EXPECT_EQ(named.name(), "frames");
  auto other = arena->attach_holder();
  Channel opened = Channel::open(*other, named.handle());
  EXPECT_EQ(opened.name(), "frames") << "stored in the arena: every opener sees it";
  opened.close();
  try {
    HeldBlock a = item(1);
    named.send(a.handle());
    FAIL() << "a closed channel accepted a send";
  } catch (const ChannelClosed& e) {
    EXPECT_NE(std::string(e.what()).find("channel 'frames' (" + to_string(named.handle()) + ") is closed"),
              std::string::npos)
        << e.what();
  }
  Channel unnamed = Channel::create(*holder, 2);
  EXPECT_EQ(unnamed.name(), "");
  EXPECT_EQ(unnamed.describe(), "channel " + to_string(unnamed.handle()));
  // The CLI's reader finds it too, bounded by the block.
  ArenaImage image(arena->base(), arena->size());
  std::vector<std::string> names;
  image.walk([&](const ArenaImage::Block& b) {
    if (auto c = image.channel(b)) names.push_back(image.channel_name(*c));
  });
  EXPECT_EQ(names, (std::vector<std::string>{"frames", ""}));
  expect_sound();
}

TEST_F(Channels, BadNamesAreRefusedAndAHostileNameIsNotRead) {
  EXPECT_THROW(Channel::create(*holder, 2, 0, std::string(layout::kMaxChannelName + 1, 'x')), InvalidArgument);
  EXPECT_THROW(Channel::create(*holder, 2, 0, "\xFF\xFE"), InvalidArgument);
  Channel ch = Channel::create(*holder, 2, 0, std::string(layout::kMaxChannelName, 'n'));
  // A stray write claims a name running past the block: no reader follows it.
  auto* header = reinterpret_cast<layout::ChannelHeader*>(arena->base() + ch.handle().offset + layout::kBlockHeaderBytes);
  header->name_bytes = 0xFFFF;
  ArenaImage image(arena->base(), arena->size());
  image.walk([&](const ArenaImage::Block& b) {
    if (auto c = image.channel(b)) {
      EXPECT_EQ(image.channel_name(*c), "");
    }
  });
  auto other = arena->attach_holder();
  EXPECT_EQ(Channel::open(*other, ch.handle()).name(), "");
  header->name_bytes = layout::kMaxChannelName;
}

TEST_F(Channels, PendingItemsAreFreedWithTheChannel) {
  {
    Channel ch = Channel::create(*holder, 16);
    for (std::uint64_t i = 0; i < 10; ++i) ch.send(item(i).handle());
    EXPECT_GT(arena->stats().used_bytes, baseline);
  }
  EXPECT_EQ(arena->stats().used_bytes, baseline);
  expect_sound();
}

TEST_F(Channels, BadItemsAndCapacitiesAreRefused) {
  EXPECT_THROW(Channel::create(*holder, 0), InvalidArgument);
  Channel ch = Channel::create(*holder, 2);
  EXPECT_THROW(ch.send(Handle{ch.handle().offset + 64, 1}), InvalidHandle);
  EXPECT_THROW(ch.send(ch.handle()), ReferenceCycle);  // not into itself
  HeldBlock raw = holder->allocate(8);
  EXPECT_THROW(Channel::open(*holder, raw.handle()), InvalidHandle);
  EXPECT_THROW(holder->allocate(100, layout::BlockKind::channel), InvalidArgument);
}

// Shared board for the multi-process tests (anonymous shared memory).
struct Board {
  std::atomic<std::uint64_t> received;
  std::atomic<std::uint64_t> sum;
};

TEST_F(Channels, ManyProcessesSendAndReceiveEveryItemExactlyOnce) {
  constexpr int kProducers = 2;
  constexpr int kConsumers = 2;
  constexpr std::uint64_t kPerProducer = 3000;
  Channel ch = Channel::create(*holder, 16);
  const Handle channel = ch.handle();
  auto* board = static_cast<Board*>(
      mmap(nullptr, sizeof(Board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  new (board) Board{};
  const std::string n = name.name;
  std::vector<pid_t> producers;
  std::vector<pid_t> consumers;
  for (int p = 0; p < kProducers; ++p) {
    producers.push_back(testing::fork_child([&, p] {
      auto a = Arena::attach(n);
      auto h = a->attach_holder();
      Channel mine = Channel::open(*h, channel);
      for (std::uint64_t i = 0; i < kPerProducer; ++i) {
        HeldBlock b = h->allocate(8);
        const std::uint64_t value = static_cast<std::uint64_t>(p) * kPerProducer + i + 1;
        std::memcpy(b.bytes().data(), &value, 8);
        mine.send(b.handle(), 10s);
      }
      return 0;
    }));
  }
  for (int c = 0; c < kConsumers; ++c) {
    consumers.push_back(testing::fork_child([&] {
      auto a = Arena::attach(n);
      auto h = a->attach_holder();
      Channel mine = Channel::open(*h, channel);
      for (;;) {
        try {
          HeldBlock b = mine.recv(10s);
          board->sum += value_of(b);
          ++board->received;
        } catch (const ChannelClosed&) {
          return 0;
        }
      }
    }));
  }
  for (pid_t pid : producers) EXPECT_EQ(testing::wait_child(pid), 0);
  ch.close();
  for (pid_t pid : consumers) EXPECT_EQ(testing::wait_child(pid), 0);
  const std::uint64_t total = kProducers * kPerProducer;
  EXPECT_EQ(board->received.load(), total);
  EXPECT_EQ(board->sum.load(), total * (total + 1) / 2);
  munmap(board, sizeof(Board));
  expect_sound();
}

TEST_F(Channels, ThreadsSendAndReceiveEveryItemExactlyOnce) {
  // The in-process side of the same guarantee, for ThreadSanitizer: each
  // thread has its own holder, as each interpreter would.
  constexpr std::uint64_t kPerProducer = 2000;
  Channel ch = Channel::create(*holder, 8);
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> sum{0};
  std::vector<std::thread> threads;
  for (std::uint64_t p = 0; p < 2; ++p) {
    threads.emplace_back([&, p] {
      auto h = arena->attach_holder();
      Channel mine = Channel::open(*h, ch.handle());
      for (std::uint64_t i = 0; i < kPerProducer; ++i) {
        HeldBlock b = h->allocate(8);
        const std::uint64_t value = p * kPerProducer + i + 1;
        std::memcpy(b.bytes().data(), &value, 8);
        mine.send(b.handle(), 10s);
      }
    });
  }
  for (int c = 0; c < 2; ++c) {
    threads.emplace_back([&] {
      auto h = arena->attach_holder();
      Channel mine = Channel::open(*h, ch.handle());
      try {
        for (;;) {
          HeldBlock b = mine.recv(10s);
          sum += value_of(b);
          ++received;
        }
      } catch (const ChannelClosed&) {
      }
    });
  }
  threads[0].join();
  threads[1].join();
  ch.close();
  threads[2].join();
  threads[3].join();
  EXPECT_EQ(received.load(), 2 * kPerProducer);
  EXPECT_EQ(sum.load(), (2 * kPerProducer) * (2 * kPerProducer + 1) / 2);
  expect_sound();
}

TEST_F(Channels, AReceiverKilledMidReceiveLeavesTheItemInTheChannel) {
  Channel ch = Channel::create(*holder, 4);
  ch.send(item(42).handle());
  const Handle channel = ch.handle();
  const std::string n = name.name;
  testing::Signal reached;
  const pid_t victim = testing::fork_child([&] {
    auto a = Arena::attach(n);
    auto h = a->attach_holder();
    Channel mine = Channel::open(*h, channel);
    testing::pause_at(test_hooks::Point::ledger_after_add, reached);  // owns it; the slot still does too
    mine.recv();
    return 50;
  });
  ASSERT_EQ(reached.wait(), 'p');
  testing::kill_and_reap(victim);
  EXPECT_EQ(arena->reap_dead_holders(), 1u);
  expect_sound();
  EXPECT_EQ(ch.size(), 1u);
  EXPECT_EQ(value_of(ch.recv(1s)), 42u);  // exactly once, here
  EXPECT_EQ(ch.size(), 0u);
  expect_sound();
}

TEST_F(Channels, ASenderKilledAfterSendingLosesNothing) {
  Channel ch = Channel::create(*holder, 8);
  testing::Signal sent;
  const pid_t sender = testing::fork_channel_user(name.name, ch.handle(), [&](Holder& h, Channel& mine) -> int {
    for (std::uint64_t i = 1; i <= 5; ++i) {
      HeldBlock b = h.allocate(8);
      std::memcpy(b.bytes().data(), &i, 8);
      mine.send(b.handle());
    }
    sent.post('s');
    for (;;) pause();
  });
  ASSERT_EQ(sent.wait(), 's');
  testing::kill_and_reap(sender);
  EXPECT_EQ(arena->reap_dead_holders(), 1u);
  std::uint64_t sum = 0;
  for (int i = 0; i < 5; ++i) sum += value_of(ch.recv(1s));
  EXPECT_EQ(sum, 15u);
  expect_sound();
}

TEST_F(Channels, ASenderKilledMidSendIsRepaired) {
  Channel ch = Channel::create(*holder, 8);
  testing::Signal reached;
  const pid_t victim = testing::fork_channel_user(name.name, ch.handle(), [&](Holder& h, Channel& mine) {
    HeldBlock b = h.allocate(8);
    const std::uint64_t v = 9;
    std::memcpy(b.bytes().data(), &v, 8);
    testing::pause_at(test_hooks::Point::send_after_commit, reached);  // in the slot, refcount not yet raised
    mine.send(b.handle());
    return 50;
  });
  ASSERT_EQ(reached.wait(), 'p');
  testing::kill_and_reap(victim);
  EXPECT_EQ(arena->reap_dead_holders(), 1u);  // repair recounted: the slot's reference survives
  EXPECT_EQ(arena->stats().repairs, 1u);
  expect_sound();
  EXPECT_EQ(value_of(ch.recv(1s)), 9u);
  expect_sound();
}

// Inline items: small values in the slot itself, owning nothing.
TEST_F(Channels, InlineValuesTravelInTheSlotAndAllocateNothing) {
  Channel ch = Channel::create(*holder, 8);
  const std::uint64_t used = arena->stats().used_bytes;
  ch.send_inline({layout::InlineTag::int64, 42});
  ASSERT_TRUE(ch.try_send_inline({layout::InlineTag::float64, 0x3FF8000000000000u}));  // 1.5
  HeldBlock b = item(7);
  const Handle block = b.handle();
  ch.send(std::move(b));  // a block between inline items keeps its place
  ch.send_inline({layout::InlineTag::none, 0});
  EXPECT_EQ(ch.size(), 4u);
  EXPECT_EQ(arena->stats().used_bytes, used + arena->block_info(block).size);  // only the block
  expect_sound();

  Channel::Item first = ch.receive(1s);
  ASSERT_TRUE(first.is_inline());
  EXPECT_EQ(first.value.tag, layout::InlineTag::int64);
  EXPECT_EQ(first.value.word, 42u);
  std::optional<Channel::Item> second = ch.try_receive();
  ASSERT_TRUE(second && second->is_inline());
  EXPECT_EQ(second->value.tag, layout::InlineTag::float64);
  EXPECT_EQ(second->value.word, 0x3FF8000000000000u);
  Channel::Item third = ch.receive(1s);
  ASSERT_FALSE(third.is_inline());
  EXPECT_EQ(third.block.handle(), block);
  EXPECT_EQ(value_of(third.block), 7u);
  // recv() returns blocks only: an inline item is refused and stays.
  EXPECT_THROW(ch.recv(1s), InvalidArgument);
  EXPECT_THROW(ch.try_recv(), InvalidArgument);
  EXPECT_EQ(ch.size(), 1u);
  EXPECT_EQ(ch.receive(1s).value.tag, layout::InlineTag::none);
  third.block.reset();
  EXPECT_EQ(arena->stats().used_bytes, used);
  expect_sound();
}

TEST_F(Channels, InlineValuesObeyBoundsCloseAndPoison) {
  Channel ch = Channel::create(*holder, 2);
  EXPECT_THROW(ch.send_inline({static_cast<layout::InlineTag>(0), 1}), InvalidArgument);
  EXPECT_THROW(ch.send_inline({static_cast<layout::InlineTag>(layout::kMaxInlineTag + 1), 1}), InvalidArgument);
  ch.send_inline({layout::InlineTag::boolean, 1});
  ch.send_inline({layout::InlineTag::boolean, 0});
  EXPECT_FALSE(ch.try_send_inline({layout::InlineTag::int64, 3}));
  EXPECT_THROW(ch.send_inline({layout::InlineTag::int64, 3}, 20ms), WaitTimeout);
  ch.close();
  EXPECT_THROW(ch.send_inline({layout::InlineTag::int64, 3}), ChannelClosed);
  EXPECT_EQ(ch.receive(1s).value.word, 1u);
  expect_sound();
  ch.poison();  // the pending inline item goes; it owned nothing
  EXPECT_EQ(ch.size(), 0u);
  EXPECT_THROW(ch.receive(1s), ChannelPoisoned);
  expect_sound();
}

// The lock-free readiness look (Channel::Probe) that async waiters decide
// by: "not ready" only when the operation would certainly block.
TEST_F(Channels, AProbeSaysNotReadyOnlyWhenTheOperationWouldBlock) {
  Channel ch = Channel::create(*holder, 2);
  const Channel::Probe receive = ch.probe(Channel::Want::receive);
  const Channel::Probe send = ch.probe(Channel::Want::send);
  EXPECT_FALSE(receive.may_be_ready());  // empty
  EXPECT_TRUE(send.may_be_ready());
  ch.send_inline({layout::InlineTag::int64, 1});
  EXPECT_TRUE(receive.may_be_ready());
  EXPECT_TRUE(send.may_be_ready());
  ch.send_inline({layout::InlineTag::int64, 2});
  EXPECT_FALSE(send.may_be_ready());  // full
  ch.receive(1s);
  EXPECT_TRUE(send.may_be_ready());
  ch.receive(1s);
  EXPECT_FALSE(receive.may_be_ready());
  ch.close();  // ended: both would raise at once, so both are "ready"
  EXPECT_TRUE(receive.may_be_ready());
  EXPECT_TRUE(send.may_be_ready());

  Channel poisoned = Channel::create(*holder, 1);
  const Channel::Probe of_poisoned = poisoned.probe(Channel::Want::receive);
  EXPECT_FALSE(of_poisoned.may_be_ready());
  poisoned.poison();
  EXPECT_TRUE(of_poisoned.may_be_ready());
}

TEST_F(Channels, AProbeOfAFreedChannelSaysMaybeRatherThanReadItsReuse) {
  std::optional<Channel> ch(Channel::create(*holder, 4));
  const Channel::Probe probe = ch->probe(Channel::Want::receive);
  EXPECT_FALSE(probe.may_be_ready());
  ch.reset();  // the only reference: the block is freed
  // Whatever is allocated there next, the generation differs: "maybe".
  HeldBlock filler = holder->allocate(200);
  EXPECT_TRUE(probe.may_be_ready());
}

TEST_F(Channels, AnInlineItemOfUnknownTagIsReportedNotTrusted) {
  Channel ch = Channel::create(*holder, 4);
  ch.send_inline({layout::InlineTag::int64, 5});
  // A stray write turns the slot's tag into one no reader knows.
  auto* slots = reinterpret_cast<layout::ChildEntry*>(arena->base() + ch.handle().offset + layout::kBlockHeaderBytes +
                                                      sizeof(layout::ChannelHeader));
  slots[0].offset = layout::kAlign - 1;
  EXPECT_THROW(ch.receive(1s), CorruptArena);
  const std::vector<std::string> problems = arena->check();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("inline item of unknown tag 63"), std::string::npos) << problems[0];
  slots[0].offset = static_cast<std::uint64_t>(layout::InlineTag::int64);  // put right, for TearDown
}

TEST_F(Channels, ASenderKilledRightAfterAnInlineSendLosesNothing) {
  Channel ch = Channel::create(*holder, 8);
  testing::Signal reached;
  const pid_t victim = testing::fork_channel_user(name.name, ch.handle(), [&](Holder&, Channel& mine) {
    testing::pause_at(test_hooks::Point::send_after_commit, reached);  // committed, lock still held
    mine.send_inline({layout::InlineTag::int64, 9});
    return 50;
  });
  ASSERT_EQ(reached.wait(), 'p');
  testing::kill_and_reap(victim);
  EXPECT_EQ(arena->reap_dead_holders(), 1u);
  EXPECT_EQ(arena->stats().repairs, 1u);
  expect_sound();
  EXPECT_EQ(ch.receive(1s).value.word, 9u);
  expect_sound();
}

// Polling an empty channel does not take the lock (a poller would hold up
// the sender it waits for): with another process stuck inside the lock,
// try_receive still answers, where a locked look would time out.
TEST(ChannelPolling, AnEmptyChannelIsSeenEmptyWithoutTheLock) {
  testing::ScopedName name("poll");
  auto arena = Arena::create(name.name, 16ull << 20, ArenaOptions{std::chrono::milliseconds(200)});
  auto holder = arena->attach_holder();
  Channel ch = Channel::create(*holder, 4);
  testing::Signal reached;
  const std::string n = name.name;
  const pid_t stuck = testing::fork_child([&] {
    auto a = Arena::attach(n);
    auto h = a->attach_holder();
    testing::pause_at(test_hooks::Point::alloc_after_mark_used, reached);
    HeldBlock b = h->allocate(100000);
    return 70;
  });
  struct KillOnExit {  // even when an expectation below throws
    pid_t pid;
    ~KillOnExit() {
      if (pid != 0) testing::kill_and_reap(pid);
    }
  } stuck_guard{stuck};
  ASSERT_EQ(reached.wait(), 'p');
  EXPECT_FALSE(ch.try_receive().has_value());
  EXPECT_FALSE(ch.try_recv().has_value());
  EXPECT_THROW(ch.try_send_inline({layout::InlineTag::int64, 1}), LockTimeout);  // a send does need it
  testing::kill_and_reap(std::exchange(stuck_guard.pid, 0));
  ch.send_inline({layout::InlineTag::int64, 2});
  EXPECT_EQ(ch.try_receive()->value.word, 2u);  // not empty: the locked path
  ch.close();
  EXPECT_THROW(ch.try_receive(), ChannelClosed);  // closed and drained: said, not skipped
  arena->reap_dead_holders();
  EXPECT_TRUE(arena->check().empty());
}

// shoal channels shows how many threads wait in send and recv: the counts
// rise while they wait and fall back when they return.
TEST(ChannelWaiters, BlockedSendersAndReceiversAreCounted) {
  testing::ScopedName name("waiters");
  auto arena = Arena::create(name.name, 4 << 20);
  auto holder = arena->attach_holder();
  Channel channel = Channel::create(*holder, 1);
  HeldBlock item = holder->allocate(64);
  auto header = [&] {
    layout::ChannelHeader h;
    std::memcpy(&h, arena->payload(channel.handle()).data(), sizeof h);
    return h;
  };
  auto wait_until = [&](auto done) {
    const auto deadline = Clock::now() + 10s;
    while (!done(header())) {
      ASSERT_LT(Clock::now(), deadline);
      std::this_thread::sleep_for(1ms);
    }
  };

  std::thread receiver([&] {
    auto own = arena->attach_holder();
    Channel::open(*own, channel.handle()).recv();
  });
  wait_until([](const layout::ChannelHeader& h) { return h.blocked_receivers == 1; });
  EXPECT_EQ(header().blocked_senders, 0u);
  channel.send(item.handle());
  receiver.join();
  EXPECT_EQ(header().blocked_receivers, 0u);

  channel.send(item.handle());  // now full
  std::thread sender([&] { channel.send(item.handle()); });
  wait_until([](const layout::ChannelHeader& h) { return h.blocked_senders == 1; });
  (void)channel.recv();
  sender.join();
  EXPECT_EQ(header().blocked_senders, 0u);
}

// A waiter spins before it sleeps only while the channel is busy: blocked
// on a quiet channel it sleeps slice after slice (10 ms each) without
// spinning 50 us after every one, which cost 0.5% of a CPU per waiter, nor
// before each of a series of timed waits that time out quietly.
std::atomic<int> spins_started{0};

TEST(ChannelWaiters, AWaiterOnAQuietChannelSpinsOnlyBeforeItsFirstSleep) {
  testing::ScopedName name("quiet");
  auto arena = Arena::create(name.name, 4 << 20);
  auto holder = arena->attach_holder();
  Channel channel = Channel::create(*holder, 1);
  spins_started = 0;
  test_hooks::install([](test_hooks::Point point) {
    if (point == test_hooks::Point::wait_spins) spins_started.fetch_add(1);
  });
  EXPECT_THROW(channel.recv(200ms), WaitTimeout);  // about 20 sleep slices
  // A long wait made of timed waits (the Python layer's 50 ms slices): the
  // next ones on the same quiet channel start asleep.
  for (int slice = 0; slice < 4; ++slice) EXPECT_THROW(channel.recv(50ms), WaitTimeout);
  test_hooks::install(nullptr);
  EXPECT_LE(spins_started.load(), 1);  // 0 where spinning is not worthwhile (one CPU)

  // A busy channel still spins: a waiter woken by a change spins again.
  spins_started = 0;
  test_hooks::install([](test_hooks::Point point) {
    if (point == test_hooks::Point::wait_spins) spins_started.fetch_add(1);
  });
  HeldBlock item = holder->allocate(64);
  std::thread sender([&] {
    auto own = arena->attach_holder();
    Channel ch = Channel::open(*own, channel.handle());
    for (int i = 0; i < 3; ++i) {
      std::this_thread::sleep_for(30ms);
      ch.send(item.handle());
    }
  });
  for (int i = 0; i < 3; ++i) (void)channel.recv(10s);
  sender.join();
  test_hooks::install(nullptr);
  if (std::thread::hardware_concurrency() > 1) {
    // The first recv starts asleep (this thread's last wait here timed out
    // quietly); each one after a success spins first again.
    EXPECT_GE(spins_started.load(), 2);
  }
}

}  // namespace
}  // namespace shoal
