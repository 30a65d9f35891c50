// test_channel_csp.cpp — the CSP completions on channels: poison (waking
// every waiter, freeing what was pending, surviving a death halfway) and
// select (whichever is ready, fairness, ended channels reported, timeouts,
// wake-ups from other threads and processes). Also run under TSan.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <cstring>
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

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

class Csp : public testing::ArenaTest {
 protected:
  Csp() : ArenaTest("csp") {}

  HeldBlock item(std::uint64_t value, Holder* h = nullptr) {
    HeldBlock b = (h != nullptr ? h : holder.get())->allocate(sizeof value);
    std::memcpy(b.bytes().data(), &value, sizeof value);
    return b;
  }
  static std::uint64_t value_of(const HeldBlock& b) {
    std::uint64_t v = 0;
    std::memcpy(&v, b.bytes().data(), sizeof v);
    return v;
  }
  std::uint64_t used() { return arena->stats().used_bytes; }
};

// ------------------------------------------------------------- poison ----

TEST_F(Csp, PoisonWakesBlockedSendersAndReceiversOnEveryHolder) {
  Channel full = Channel::create(*holder, 1);
  full.send(item(1).handle());
  Channel empty = Channel::create(*holder, 4);
  std::atomic<int> poisoned{0};
  std::atomic<int> other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto h = arena->attach_holder();  // as another interpreter would
      Channel mine = Channel::open(*h, t % 2 == 0 ? full.handle() : empty.handle());
      try {
        if (t % 2 == 0) {
          mine.send(item(100 + static_cast<std::uint64_t>(t), h.get()).handle(), 20s);
        } else {
          mine.recv(20s);
        }
        ++other;
      } catch (const ChannelPoisoned&) {
        ++poisoned;
      } catch (...) {
        ++other;
      }
    });
  }
  std::this_thread::sleep_for(100ms);  // let them block (if not, they fail at once: same outcome)
  full.poison();
  empty.poison();
  for (auto& t : threads) t.join();
  EXPECT_EQ(poisoned.load(), 4);
  EXPECT_EQ(other.load(), 0);
  // Later operations, at either end, fail the same way; close keeps it poisoned.
  EXPECT_THROW(full.send(item(5).handle()), ChannelPoisoned);
  EXPECT_THROW(full.try_send(item(5).handle()), ChannelPoisoned);
  EXPECT_THROW(full.recv(1s), ChannelPoisoned);
  EXPECT_THROW(full.try_recv(), ChannelPoisoned);
  full.close();
  full.poison();  // idempotent
  EXPECT_TRUE(full.closed());
  EXPECT_TRUE(full.poisoned());
  EXPECT_THROW(full.recv(1s), ChannelPoisoned);
  EXPECT_EQ(full.size(), 0u);
  expect_sound();
}

TEST_F(Csp, APoisonedChannelIsAClosedOneToCatchers) {
  Channel ch = Channel::create(*holder, 4);
  ch.poison();
  EXPECT_THROW(ch.recv(), ChannelClosed);
  try {
    ch.send(item(1).handle());
    FAIL() << "send on a poisoned channel succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::channel_poisoned);
  }
  Channel closed = Channel::create(*holder, 4);
  closed.close();
  EXPECT_FALSE(closed.poisoned());
  try {
    closed.send(item(1).handle());
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::channel_closed);
  }
}

TEST_F(Csp, PoisonFreesPendingBlocksButNotReferencesHeldElsewhere) {
  Channel ch = Channel::create(*holder, 32);
  const std::uint64_t with_channel = used();
  HeldBlock kept = item(77);
  const std::uint64_t with_kept = used();
  ch.send(kept.handle());  // the slot's reference and ours
  for (std::uint64_t i = 0; i < 20; ++i) ch.send(item(i).handle());  // the slot's only
  EXPECT_GT(used(), with_kept);
  ch.poison();
  EXPECT_EQ(used(), with_kept);
  EXPECT_EQ(arena->block_info(kept.handle()).refcount, 1u);
  expect_sound();
  kept.reset();
  EXPECT_EQ(used(), with_channel);
  { Channel gone = std::move(ch); }
  EXPECT_EQ(used(), baseline);
  expect_sound();
}

TEST_F(Csp, PoisoningAClosedChannelDropsWhatItStillHeld) {
  Channel ch = Channel::create(*holder, 8);
  const std::uint64_t with_channel = used();
  for (std::uint64_t i = 0; i < 5; ++i) ch.send(item(i).handle());
  ch.close();
  EXPECT_EQ(value_of(ch.recv(1s)), 0u);  // a closed channel still drains
  ch.poison();
  EXPECT_EQ(used(), with_channel);
  EXPECT_THROW(ch.recv(1s), ChannelPoisoned);
  expect_sound();
}

TEST_F(Csp, APoisonerKilledHalfwayIsRepaired) {
  Channel ch = Channel::create(*holder, 16);
  const std::uint64_t with_channel = used();
  for (std::uint64_t i = 0; i < 6; ++i) ch.send(item(i).handle());
  const Handle channel = ch.handle();
  const std::string n = name.name;
  testing::Signal reached;
  const pid_t victim = testing::fork_child([&] {
    auto a = Arena::attach(n);
    auto h = a->attach_holder();
    Channel mine = Channel::open(*h, channel);
    // Poisoned (committed), one item dropped, five still counted by refcounts.
    testing::pause_at(test_hooks::Point::poison_mid_drop, reached);
    mine.poison();
    return 50;
  });
  ASSERT_EQ(reached.wait(), 'p');
  testing::kill_and_reap(victim);
  EXPECT_EQ(arena->reap_dead_holders(), 1u);  // takes the lock: repair runs first
  EXPECT_EQ(arena->stats().repairs, 1u);
  expect_sound();
  EXPECT_TRUE(ch.poisoned());
  EXPECT_EQ(ch.size(), 0u);
  EXPECT_EQ(used(), with_channel);  // the five the poisoner never reached are freed too
  EXPECT_THROW(ch.recv(1s), ChannelPoisoned);
  EXPECT_THROW(ch.send(item(9).handle()), ChannelPoisoned);
  expect_sound();
}

TEST_F(Csp, PoisonReachesABlockedReceiverInAnotherProcess) {
  Channel ch = Channel::create(*holder, 4);
  testing::Signal ready;
  const pid_t receiver = testing::fork_channel_user(name.name, ch.handle(), [&](Holder&, Channel& mine) {
    ready.post('r');
    try {
      mine.recv(20s);
    } catch (const ChannelPoisoned&) {
      return 0;
    }
    return 1;
  });
  ASSERT_EQ(ready.wait(), 'r');
  std::this_thread::sleep_for(50ms);
  ch.poison();
  EXPECT_EQ(testing::wait_child(receiver), 0);
  expect_sound();
}

// ------------------------------------------------------------- select ----

TEST_F(Csp, SelectTakesFromWhicheverChannelHasAnItem) {
  Channel a = Channel::create(*holder, 4);
  Channel b = Channel::create(*holder, 4);
  Channel c = Channel::create(*holder, 4);
  Channel* set[] = {&a, &b, &c};
  b.send(item(2).handle());
  Channel::Selected got = Channel::select(set, 1s);
  EXPECT_EQ(got.index, 1u);
  EXPECT_EQ(value_of(got.item.block), 2u);
  EXPECT_EQ(arena->block_info(got.item.block.handle()).refcount, 1u);  // moved to us
  c.send(item(3).handle());
  got = Channel::select(set, 1s, 0);
  EXPECT_EQ(got.index, 2u);
  EXPECT_EQ(value_of(got.item.block), 3u);
  expect_sound();
}

TEST_F(Csp, SelectTimesOutAndRefusesBadSets) {
  Channel a = Channel::create(*holder, 4);
  Channel* one[] = {&a};
  EXPECT_THROW(Channel::select(one, 30ms), WaitTimeout);
  EXPECT_THROW(Channel::select(std::span<Channel* const>{}, 30ms), InvalidArgument);
  testing::ScopedName other_name("csp-other");
  auto other = Arena::create(other_name.name, 4ull << 20);
  auto other_holder = other->attach_holder();
  Channel foreign = Channel::create(*other_holder, 4);
  Channel* mixed[] = {&a, &foreign};
  EXPECT_THROW(Channel::select(mixed, 30ms), InvalidArgument);
}

TEST_F(Csp, SelectReportsAnEndedChannelInItsTurnWithItsIndex) {
  Channel a = Channel::create(*holder, 4);
  Channel b = Channel::create(*holder, 4);
  Channel c = Channel::create(*holder, 4);
  Channel* set[] = {&a, &b, &c};
  b.send(item(1).handle());
  b.close();
  c.send(item(2).handle());
  // Closed but not drained: its item is still delivered.
  Channel::Selected got = Channel::select(set, 1s, 1);
  EXPECT_EQ(got.index, 1u);
  std::size_t ended = 99;
  // Drained now: reached first from index 1, it is reported, not skipped.
  EXPECT_THROW(Channel::select(set, 1s, 1, &ended), ChannelClosed);
  EXPECT_EQ(ended, 1u);
  // From index 2, c's item comes first.
  got = Channel::select(set, 1s, 2, &ended);
  EXPECT_EQ(got.index, 2u);
  a.poison();
  ended = 99;
  EXPECT_THROW(Channel::select(set, 1s, 0, &ended), ChannelPoisoned);
  EXPECT_EQ(ended, 0u);
}

TEST_F(Csp, SelectIsFairWhenEveryChannelIsBusy) {
  constexpr std::size_t kChannels = 8;
  constexpr int kRounds = 400;
  std::vector<Channel> channels;
  std::vector<Channel*> set;
  for (std::size_t i = 0; i < kChannels; ++i) channels.push_back(Channel::create(*holder, 64));
  for (auto& c : channels) set.push_back(&c);
  std::vector<int> served(kChannels, 0);
  for (int r = 0; r < kRounds; ++r) {
    // Keep every channel non-empty: a biased select would serve one only.
    for (auto& c : channels) {
      if (c.size() == 0) c.send(item(1).handle());
    }
    ++served[Channel::select(set, 1s).index];
  }
  // A random start gives each channel 1/8 of the rounds; (7/8)^400 of never.
  for (std::size_t i = 0; i < kChannels; ++i) EXPECT_GT(served[i], 0) << "channel " << i << " starved";
  expect_sound();
}

TEST_F(Csp, SelectWakesOnASendFromAnotherThreadAndOnClose) {
  Channel a = Channel::create(*holder, 4);
  Channel b = Channel::create(*holder, 4);
  std::thread sender([&] {
    auto h = arena->attach_holder();
    Channel mine = Channel::open(*h, b.handle());
    std::this_thread::sleep_for(50ms);
    mine.send(item(5, h.get()).handle());
    std::this_thread::sleep_for(50ms);
    Channel(Channel::open(*h, a.handle())).close();
  });
  Channel* set[] = {&a, &b};
  Channel::Selected got = Channel::select(set, 20s);
  EXPECT_EQ(got.index, 1u);
  EXPECT_EQ(value_of(got.item.block), 5u);
  std::size_t ended = 99;
  EXPECT_THROW(Channel::select(set, 20s, 0, &ended), ChannelClosed);
  EXPECT_EQ(ended, 0u);
  sender.join();
}

TEST_F(Csp, ManySelectorsAndProducersOnThreadsDeliverEveryItemOnce) {
  // For ThreadSanitizer too: 4 producers on 4 channels, 2 selectors.
  constexpr std::size_t kChannels = 4;
  constexpr std::uint64_t kPerProducer = 500;
  std::vector<Channel> channels;
  for (std::size_t i = 0; i < kChannels; ++i) channels.push_back(Channel::create(*holder, 8));
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> sum{0};
  std::vector<std::thread> threads;
  for (std::size_t p = 0; p < kChannels; ++p) {
    threads.emplace_back([&, p] {
      auto h = arena->attach_holder();
      Channel mine = Channel::open(*h, channels[p].handle());
      for (std::uint64_t i = 0; i < kPerProducer; ++i) {
        HeldBlock b = h->allocate(8);
        const std::uint64_t value = p * kPerProducer + i + 1;
        std::memcpy(b.bytes().data(), &value, 8);
        mine.send(std::move(b), 10s);
      }
    });
  }
  std::atomic<bool> stop{false};
  for (int s = 0; s < 2; ++s) {
    threads.emplace_back([&] {
      auto h = arena->attach_holder();
      std::vector<Channel> mine;
      std::vector<Channel*> set;
      for (auto& c : channels) mine.push_back(Channel::open(*h, c.handle()));
      for (auto& c : mine) set.push_back(&c);
      while (!stop.load()) {
        try {
          Channel::Selected got = Channel::select(set, 20ms);
          sum += value_of(got.item.block);
          ++received;
        } catch (const WaitTimeout&) {
        }
      }
    });
  }
  for (std::size_t p = 0; p < kChannels; ++p) threads[p].join();
  const auto deadline = Clock::now() + 30s;
  while (received.load() < kChannels * kPerProducer && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
  stop = true;
  for (std::size_t t = kChannels; t < threads.size(); ++t) threads[t].join();
  const std::uint64_t total = kChannels * kPerProducer;
  EXPECT_EQ(received.load(), total);
  EXPECT_EQ(sum.load(), total * (total + 1) / 2);
  expect_sound();
}

TEST_F(Csp, SelectWakesOnASendFromAnotherProcess) {
  Channel a = Channel::create(*holder, 4);
  Channel b = Channel::create(*holder, 4);
  const Handle target = b.handle();
  const std::string n = name.name;
  const pid_t sender = testing::fork_child([&] {
    auto ar = Arena::attach(n);
    auto h = ar->attach_holder();
    Channel mine = Channel::open(*h, target);
    std::this_thread::sleep_for(100ms);
    HeldBlock x = h->allocate(8);
    const std::uint64_t v = 31;
    std::memcpy(x.bytes().data(), &v, 8);
    mine.send(std::move(x));
    return 0;
  });
  Channel* set[] = {&a, &b};
  Channel::Selected got = Channel::select(set, 20s);
  EXPECT_EQ(got.index, 1u);
  EXPECT_EQ(value_of(got.item.block), 31u);
  EXPECT_EQ(testing::wait_child(sender), 0);
  expect_sound();
}

TEST_F(Csp, ASendWithNobodySelectingLeavesNoSleeperCounted) {
  Channel a = Channel::create(*holder, 4);
  Channel* set[] = {&a};
  EXPECT_THROW(Channel::select(set, 20ms), WaitTimeout);  // slept, and left
  a.send(item(1).handle());
  EXPECT_EQ(std::atomic_ref<std::uint32_t>(reinterpret_cast<layout::ArenaHeader*>(arena->base())->selectors).load(),
            0u);
}


// A waiter for room (the Python layer's asend) sleeps on the activity word:
// a receive must move it and wake that waiter, as a send does for receivers.
TEST_F(Csp, AReceiveMovesTheActivityWordAndWakesItsWaiter) {
  Channel a = Channel::create(*holder, 1);
  a.send(item(1).handle());
  const std::uint32_t seen = Channel::activity(*arena);
  std::atomic<bool> woke{false};
  std::thread waiter([&] {
    const auto until = Clock::now() + 20s;
    while (Clock::now() < until && !Channel::wait_for_activity(*arena, seen, 10ms)) {
    }
    woke = true;
  });
  std::this_thread::sleep_for(30ms);
  EXPECT_FALSE(woke.load());
  HeldBlock got = a.recv(1s);
  waiter.join();
  EXPECT_TRUE(woke.load());
  EXPECT_NE(Channel::activity(*arena), seen);
  const std::uint32_t after_recv = Channel::activity(*arena);
  a.send_inline(Channel::InlineValue{layout::InlineTag::none, 0});
  ASSERT_TRUE(a.try_receive().has_value());  // an inline receive moves it too
  EXPECT_EQ(Channel::activity(*arena), after_recv + 2);
  EXPECT_FALSE(Channel::wait_for_activity(*arena, Channel::activity(*arena), 1ms));  // nothing moved: false
}

}  // namespace
}  // namespace shoal
