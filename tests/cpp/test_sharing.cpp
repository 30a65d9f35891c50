// test_sharing.cpp — several processes holding the same blocks: every
// refcount exact at every step, and a block outliving the process that made it.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "shoal/arena.hpp"
#include "shoal/holder.hpp"
#include "test_support.hpp"

namespace shoal {
namespace {

using testing::Signal;

TEST(Sharing, ProcessesRetainAndReleaseWithExactRefcounts) {
  testing::ScopedName n("share");
  auto arena = Arena::create(n.name, 64ull << 20);
  auto holder = arena->attach_holder();
  const std::uint64_t baseline = arena->stats().used_bytes;

  constexpr int kBlocks = 16;
  constexpr int kChildren = 4;
  std::vector<HeldBlock> blocks;
  std::vector<Handle> handles;
  for (int i = 0; i < kBlocks; ++i) {
    blocks.push_back(holder->allocate(4096));
    std::memset(blocks.back().bytes().data(), i, 4096);
    handles.push_back(blocks.back().handle());
  }

  Signal up;    // children -> parent
  Signal down[kChildren];  // parent -> each child: one pipe each, so no child takes another's byte
  std::vector<pid_t> children;
  for (int c = 0; c < kChildren; ++c) {
    children.push_back(testing::fork_child([&, c] {
      auto mine = Arena::attach(n.name);  // a mapping of its own
      auto h = mine->attach_holder();
      std::vector<HeldBlock> held;
      for (int i = 0; i < kBlocks; ++i) {
        held.push_back(h->retain(handles[static_cast<std::size_t>(i)]));
        const auto bytes = held.back().bytes();
        if (bytes.size() != 4096 || std::to_integer<int>(bytes[100]) != i) return 20;
      }
      up.post('r');
      if (down[c].wait() != 'g') return 21;
      for (int i = 1; i < kBlocks; i += 2) held[static_cast<std::size_t>(i)].reset();
      up.post('d');
      if (down[c].wait() != 'x') return 22;
      return 0;  // the holder's destructor releases the even blocks
    }));
  }

  for (int c = 0; c < kChildren; ++c) ASSERT_EQ(up.wait(), 'r');
  for (const Handle& h : handles) EXPECT_EQ(arena->block_info(h).refcount, 1u + kChildren);
  for (int c = 0; c < kChildren; ++c) down[c].post('g');
  for (int c = 0; c < kChildren; ++c) ASSERT_EQ(up.wait(), 'd');
  for (int i = 0; i < kBlocks; ++i) {
    EXPECT_EQ(arena->block_info(handles[static_cast<std::size_t>(i)]).refcount, i % 2 ? 1u : 1u + kChildren);
  }
  EXPECT_TRUE(arena->check().empty());
  for (int c = 0; c < kChildren; ++c) down[c].post('x');
  for (pid_t pid : children) EXPECT_EQ(testing::wait_child(pid), 0);

  for (const Handle& h : handles) EXPECT_EQ(arena->block_info(h).refcount, 1u);
  EXPECT_EQ(arena->stats().holders, 1u);
  blocks.clear();
  EXPECT_EQ(arena->stats().used_bytes, baseline);
  EXPECT_TRUE(arena->check().empty());
}

TEST(Sharing, ABlockOutlivesTheProcessThatMadeIt) {
  testing::ScopedName n("outlive");
  auto arena = Arena::create(n.name, 16ull << 20);
  auto holder = arena->attach_holder();
  const std::uint64_t baseline = arena->stats().used_bytes;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  Signal go;
  const pid_t child = testing::fork_child([&] {
    auto mine = Arena::attach(n.name);
    auto h = mine->attach_holder();
    HeldBlock b = h->allocate(1 << 20);
    std::memset(b.bytes().data(), 0x5A, b.bytes().size());
    const Handle handle = b.handle();
    if (write(fds[1], &handle, sizeof handle) != sizeof handle) return 30;
    return go.wait() == 'x' ? 0 : 31;
  });
  Handle handle;
  ASSERT_EQ(read(fds[0], &handle, sizeof handle), static_cast<ssize_t>(sizeof handle));
  HeldBlock kept = holder->retain(handle);
  go.post('x');
  EXPECT_EQ(testing::wait_child(child), 0);
  close(fds[0]);
  close(fds[1]);
  EXPECT_EQ(arena->block_info(handle).refcount, 1u);
  EXPECT_EQ(std::to_integer<int>(kept.bytes()[12345]), 0x5A);
  kept.reset();
  EXPECT_EQ(arena->stats().used_bytes, baseline);
}

TEST(Sharing, AForkedChildCannotDropItsParentsReferences) {
  testing::ScopedName n("forkown");
  auto arena = Arena::create(n.name, 16ull << 20);
  auto holder = arena->attach_holder();
  HeldBlock b = holder->allocate(100);
  const Handle h = b.handle();
  const pid_t child = testing::fork_child([&] {
    b.reset();        // must be a no-op in the child
    holder.reset();   // so must detaching the parent's holder
    try {
      holder = nullptr;
      return 0;
    } catch (...) {
      return 40;
    }
  });
  EXPECT_EQ(testing::wait_child(child), 0);
  EXPECT_EQ(arena->block_info(h).refcount, 1u);
  EXPECT_TRUE(arena->check().empty());
}

}  // namespace
}  // namespace shoal
