// A channel must never own itself: every send that would close a ring of
// owners is refused and leaves everything as it was, and `check` reports a
// ring that exists anyway (one written behind the core's back).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "shoal/arena.hpp"
#include "shoal/channel.hpp"
#include "shoal/errors.hpp"
#include "shoal/holder.hpp"
#include "shoal/layout.hpp"
#include "test_support.hpp"

namespace shoal {
namespace {

class ChannelCycles : public testing::ArenaTest {
 protected:
  ChannelCycles() : ArenaTest("cycles") {}

  // An object owning `children` (a frozen value holding them).
  HeldBlock object_of(std::vector<Handle> children) { return holder->allocate_object(children, 8); }

  bool flagged(const HeldBlock& b) {
    const auto* header = reinterpret_cast<const layout::BlockHeader*>(arena->payload(b.handle()).data() -
                                                                      layout::kBlockHeaderBytes);
    return (header->flags & layout::kHoldsChannel) != 0;
  }

  // Appends `item` to `channel`'s slots as a writer that never checked
  // would: the slot owns a reference, so the item's refcount goes up.
  void append_unchecked(const Channel& channel, const HeldBlock& item) {
    std::byte* payload = arena->payload(channel.handle()).data();
    auto* ring = reinterpret_cast<layout::ChannelHeader*>(payload);
    auto* slots = reinterpret_cast<layout::ChildEntry*>(ring + 1);
    slots[ring->tail % ring->capacity] = layout::ChildEntry{item.handle().offset, item.handle().generation};
    ++ring->tail;
    auto* header = reinterpret_cast<layout::BlockHeader*>(arena->payload(item.handle()).data() -
                                                          layout::kBlockHeaderBytes);
    ++header->refcount;
  }
};

TEST_F(ChannelCycles, AChannelSentIntoItselfIsRefused) {
  Channel a = Channel::create(*holder, 4);
  EXPECT_THROW(a.send(a.handle()), ReferenceCycle);
  HeldBlock holding_a = object_of({a.handle()});
  EXPECT_TRUE(flagged(holding_a));
  EXPECT_THROW(a.send(holding_a.handle()), ReferenceCycle);
  EXPECT_THROW(a.send(std::move(holding_a)), ReferenceCycle);
  EXPECT_TRUE(holding_a);  // a refused move keeps the reference with the caller
  EXPECT_EQ(a.size(), 0u);
  expect_sound();
}

TEST_F(ChannelCycles, TwoChannelsCannotHoldEachOther) {
  Channel a = Channel::create(*holder, 4);
  Channel b = Channel::create(*holder, 4);
  a.send(object_of({b.handle()}).handle());  // a holds b: fine
  EXPECT_THROW(b.send(object_of({a.handle()}).handle()), ReferenceCycle);
  EXPECT_THROW(b.send(a.handle()), ReferenceCycle);
  // Deeper: an object holding an object-free path through a third channel.
  Channel c = Channel::create(*holder, 4);
  c.send(a.handle());  // c holds a, which holds b
  EXPECT_THROW(b.send(object_of({c.handle()}).handle()), ReferenceCycle);
  EXPECT_EQ(b.size(), 0u);
  expect_sound();
}

TEST_F(ChannelCycles, ValuesWithoutTheChannelStillTravel) {
  Channel a = Channel::create(*holder, 8);
  Channel other = Channel::create(*holder, 8);
  HeldBlock blob = holder->allocate(64);
  HeldBlock plain = object_of({blob.handle()});
  EXPECT_FALSE(flagged(plain));  // a value holding no channel ends the walk at once
  a.send(plain.handle());
  a.send(blob.handle());
  a.send(object_of({other.handle(), blob.handle()}).handle());
  a.send(other.handle());
  other.send(object_of({blob.handle()}).handle());
  EXPECT_EQ(a.size(), 4u);
  expect_sound();
}

TEST_F(ChannelCycles, NothingIsLeftBehindOnceTheChannelsGo) {
  {
    Channel a = Channel::create(*holder, 4);
    Channel b = Channel::create(*holder, 4);
    a.send(object_of({b.handle()}).handle());
    EXPECT_THROW(b.send(object_of({a.handle()}).handle()), ReferenceCycle);
  }
  EXPECT_EQ(arena->stats().used_bytes, baseline);
  expect_sound();
}

TEST_F(ChannelCycles, CheckReportsARingThatExists) {
  {
    Channel a = Channel::create(*holder, 4);
    HeldBlock holding_a = object_of({a.handle()});
    append_unchecked(a, holding_a);
    expect_sound();  // still held by our references: nothing is lost yet
  }
  // Now only the ring keeps the channel and the object.
  const auto problems = arena->check();
  ASSERT_EQ(problems.size(), 2u);
  for (const auto& problem : problems) EXPECT_NE(problem.find("only through a reference cycle"), std::string::npos) << problem;
}

}  // namespace
}  // namespace shoal
