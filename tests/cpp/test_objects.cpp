// test_objects.cpp — parent blocks owning references on their children.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "shoal/arena.hpp"
#include "shoal/errors.hpp"
#include "shoal/holder.hpp"
#include "test_support.hpp"

namespace shoal {
namespace {

using layout::BlockKind;

class Objects : public testing::ArenaTest {
 protected:
  Objects() : ArenaTest("objects") {}
};

TEST_F(Objects, AnObjectKeepsItsChildrenAliveAndFreesThemWithIt) {
  HeldBlock a = holder->allocate(1000, BlockKind::blob);
  HeldBlock b = holder->allocate(2000, BlockKind::blob);
  const std::vector<Handle> children{a.handle(), b.handle()};
  HeldBlock object = holder->allocate_object(children, 100);
  EXPECT_EQ(object.bytes().size(), 100u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(object.bytes().data()) % 64, 0u);
  std::memcpy(object.bytes().data(), "body", 4);
  EXPECT_EQ(arena->block_info(a.handle()).refcount, 2u);

  a.reset();
  b.reset();
  EXPECT_EQ(arena->block_info(children[0]).refcount, 1u);  // the object's reference
  const ObjectView view = arena->object(object.handle());
  EXPECT_EQ(view.children, children);
  EXPECT_EQ(view.body.size(), 100u);
  EXPECT_EQ(std::memcmp(view.body.data(), "body", 4), 0);
  expect_sound();

  object.reset();
  EXPECT_THROW(arena->block_info(children[0]), InvalidHandle);
  EXPECT_THROW(arena->block_info(children[1]), InvalidHandle);
  EXPECT_EQ(arena->stats().used_bytes, baseline);
  expect_sound();
}

TEST_F(Objects, ChildrenAreFrozenWhenTheirParentIsMade) {
  HeldBlock a = holder->allocate(10, BlockKind::blob);
  HeldBlock b = holder->allocate(10, BlockKind::blob);
  EXPECT_FALSE(a.frozen());
  const Handle child = a.handle();
  HeldBlock object = holder->allocate_object({&child, 1}, 8);
  EXPECT_TRUE(a.frozen());
  EXPECT_TRUE(arena->block_info(a.handle()).frozen);
  EXPECT_FALSE(b.frozen());  // only what was published
}

TEST_F(Objects, TheSameChildTwiceIsTwoReferences) {
  HeldBlock a = holder->allocate(10, BlockKind::blob);
  const std::vector<Handle> children{a.handle(), a.handle()};
  HeldBlock object = holder->allocate_object(children, 0);
  EXPECT_EQ(arena->block_info(a.handle()).refcount, 3u);
  expect_sound();
  object.reset();
  EXPECT_EQ(arena->block_info(a.handle()).refcount, 1u);
}

TEST_F(Objects, ABadChildAllocatesNothing) {
  HeldBlock a = holder->allocate(10, BlockKind::blob);
  const Handle stale{a.handle().offset, a.handle().generation + 1};
  const ArenaStats before = arena->stats();
  const std::vector<Handle> children{a.handle(), stale};
  EXPECT_THROW(holder->allocate_object(children, 10), InvalidHandle);
  const ArenaStats after = arena->stats();
  EXPECT_EQ(after.used_bytes, before.used_bytes);
  EXPECT_EQ(arena->block_info(a.handle()).refcount, 1u);
  expect_sound();
}

TEST_F(Objects, ALongChainOfParentsIsFreedWithoutRecursion) {
  HeldBlock top = holder->allocate(8, BlockKind::blob);
  for (int i = 0; i < 20000; ++i) {
    const Handle child = top.handle();
    HeldBlock parent = holder->allocate_object({&child, 1}, 8);
    top = std::move(parent);  // the child's only owner is now its parent
  }
  expect_sound();
  top.reset();
  EXPECT_EQ(arena->stats().used_bytes, baseline);
  expect_sound();
}

TEST_F(Objects, ObjectViewRejectsOtherKinds) {
  HeldBlock blob = holder->allocate(10, BlockKind::blob);
  EXPECT_THROW(arena->object(blob.handle()), InvalidHandle);
}

TEST_F(Objects, AKilledHolderOfAnObjectIsReapedWithItsChildren) {
  const std::string name_copy = name.name;
  testing::Signal ready;
  const pid_t child = testing::fork_child([&]() -> int {
    auto a = Arena::attach(name_copy);
    auto h = a->attach_holder();
    std::vector<Handle> children;
    std::vector<HeldBlock> blobs;
    for (int i = 0; i < 10; ++i) {
      blobs.push_back(h->allocate(100000, BlockKind::blob));
      children.push_back(blobs.back().handle());
    }
    HeldBlock object = h->allocate_object(children, 500);
    blobs.clear();  // only the object holds them now
    ready.post('r');
    for (;;) pause();
  });
  ASSERT_EQ(ready.wait(), 'r');
  EXPECT_GT(arena->stats().used_bytes, baseline + 1'000'000);
  testing::kill_and_reap(child);
  EXPECT_EQ(arena->reap_dead_holders(), 1u);
  EXPECT_EQ(arena->stats().used_bytes, baseline);
  expect_sound();
}

}  // namespace
}  // namespace shoal
