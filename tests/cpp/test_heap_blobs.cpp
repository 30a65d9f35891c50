// test_heap_blobs.cpp — who owns what: an object holds a reference on each
// of its blobs and releases them when it is freed; a buffer already in the
// arena is referenced, never copied (same block, same bytes); a Freezer
// that never publishes leaves nothing behind; another process reads an
// object in place.
#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <vector>

#include "shoal/channel.hpp"
#include "test_heap_samples.hpp"
#include "test_heap_support.hpp"

namespace shoal::testing {
namespace {

using heap::BlobSlice;
using heap::FrozenObject;
using heap::Freezer;
using layout::BlockKind;

class Blobs : public HeapTest {};

TEST_F(Blobs, AnObjectHoldsItsBlobsAndFreesThemWithItself) {
  Freezer freezer(*holder_);
  heap::SequenceWriter items = freezer.root().set_list(3);
  items[0].set_bytes(pattern(100'000));
  items[1].set_text(std::string(50'000, 't'));
  items[2].set_blob(freezer.copy_to_blob(pattern(70'000)));
  HeldBlock object = freezer.publish();

  FrozenObject frozen(*arena_, object.handle());
  ASSERT_EQ(frozen.children().size(), 3u);
  for (const Handle& child : frozen.children()) {
    const BlockInfo info = arena_->block_info(child);
    EXPECT_EQ(info.kind, BlockKind::blob);
    EXPECT_EQ(info.refcount, 1u) << "the object's reference only: the Freezer dropped its own";
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(arena_->payload(child).data()) % 64, 0u);
  }
  const std::vector<Handle> children(frozen.children().begin(), frozen.children().end());
  object.reset();
  for (const Handle& child : children) EXPECT_THROW(arena_->block_info(child), InvalidHandle);
  EXPECT_EQ(used(), baseline_);
}

TEST_F(Blobs, AnArenaBufferIsReferencedNotCopied) {
  constexpr std::size_t kBytes = 8u << 20;
  HeldBlock buffer = holder_->allocate(kBytes, BlockKind::blob);
  auto* values = reinterpret_cast<double*>(buffer.bytes().data());
  for (std::size_t i = 0; i < kBytes / 8; ++i) values[i] = static_cast<double>(i);
  const std::uint64_t used_before = used();

  Freezer freezer(*holder_);
  heap::SequenceWriter items = freezer.root().set_list(2);
  const std::uint64_t shape[] = {kBytes / 8};
  const std::int64_t strides[] = {8};
  items[0].set_ndarray({"<f8", shape, strides}, freezer.reference(buffer));
  items[1].set_blob(freezer.reference(buffer, 4096, 4096));  // the same buffer again: the same child
  HeldBlock object = freezer.publish();
  EXPECT_LT(used() - used_before, 4096u) << "only the object block was added, not a copy";

  FrozenObject frozen(*arena_, object.handle());
  ASSERT_EQ(frozen.children().size(), 1u);
  EXPECT_EQ(frozen.children()[0], buffer.handle()) << "the child is the caller's own block";
  const heap::ArrayView array = frozen.root().as_sequence()[0].as_ndarray();
  EXPECT_EQ(array.blob.block, buffer.handle());
  EXPECT_EQ(array.data(), buffer.bytes().data()) << "the reader sees the same bytes, not a copy";
  const heap::BlobView slice = frozen.root().as_sequence()[1].as_blob();
  EXPECT_EQ(slice.bytes.data(), buffer.bytes().data() + 4096);
  EXPECT_EQ(arena_->block_info(buffer.handle()).refcount, 2u) << "the caller and the object";

  // The caller lets go: the object keeps the buffer alive.
  const Handle buffer_handle = buffer.handle();
  buffer.reset();
  EXPECT_EQ(arena_->block_info(buffer_handle).refcount, 1u);
  FrozenObject again(*arena_, object.handle());
  const heap::ArrayView still = again.root().as_sequence()[0].as_ndarray();
  EXPECT_EQ(reinterpret_cast<const double*>(still.data())[12345], 12345.0);

  object.reset();
  EXPECT_THROW(arena_->block_info(buffer_handle), InvalidHandle);
  EXPECT_EQ(used(), baseline_);
}

TEST_F(Blobs, ABorrowedBufferTakesNoReferenceUntilPublished) {
  HeldBlock buffer = holder_->allocate(8192, BlockKind::blob);
  Freezer freezer(*holder_);
  heap::SequenceWriter items = freezer.root().set_list(2);
  items[0].set_blob(freezer.borrow(buffer, 0, 8192));
  items[1].set_blob(freezer.borrow(buffer, 4096, 10));  // the same buffer again: the same child
  EXPECT_EQ(arena_->block_info(buffer.handle()).refcount, 1u) << "borrowing takes no reference";
  HeldBlock object = freezer.publish();

  FrozenObject frozen(*arena_, object.handle());
  ASSERT_EQ(frozen.children().size(), 1u);
  EXPECT_EQ(frozen.children()[0], buffer.handle());
  EXPECT_EQ(arena_->block_info(buffer.handle()).refcount, 2u) << "the caller and the object";
  EXPECT_TRUE(buffer.frozen());
  const Handle buffer_handle = buffer.handle();
  buffer.reset();
  object.reset();
  EXPECT_THROW(arena_->block_info(buffer_handle), InvalidHandle);
  EXPECT_EQ(used(), baseline_);
}

TEST_F(Blobs, ABorrowedBufferLetGoOfBeforePublishFailsThePublish) {
  // Raw-sized and recyclable: let go of, it is cached under a fresh
  // generation; the publish must see that and make nothing.
  HeldBlock buffer = holder_->allocate(1024, BlockKind::blob);
  HeldBlock big = holder_->allocate(1u << 20, BlockKind::blob);  // not recyclable: really freed
  Freezer freezer(*holder_);
  heap::SequenceWriter items = freezer.root().set_list(2);
  items[0].set_blob(freezer.borrow(buffer, 0, 1024));
  items[1].set_blob(freezer.borrow(big, 0, 1u << 20));
  buffer.reset();
  big.reset();
  const std::uint64_t blocks_before = arena_->stats().used_blocks;
  EXPECT_THROW(freezer.publish(), InvalidHandle);
  EXPECT_EQ(arena_->stats().used_blocks, blocks_before) << "nothing was allocated";
  holder_->flush_cache();
  EXPECT_EQ(used(), baseline_);
  EXPECT_TRUE(arena_->check().empty());
}

TEST_F(Blobs, ABorrowedBufferReferencedTooIsHeldByTheFreezer) {
  HeldBlock buffer = holder_->allocate(1024, BlockKind::blob);
  const Handle h = buffer.handle();
  Freezer freezer(*holder_);
  heap::SequenceWriter items = freezer.root().set_list(2);
  items[0].set_blob(freezer.borrow(buffer, 0, 10));
  items[1].set_blob(freezer.reference(buffer, 10, 10));  // the same child, now with the Freezer's reference
  EXPECT_EQ(arena_->block_info(h).refcount, 2u);
  buffer.reset();  // the caller lets go before publish: fine, the Freezer holds it
  HeldBlock object = freezer.publish();
  FrozenObject frozen(*arena_, object.handle());
  ASSERT_EQ(frozen.children().size(), 1u);
  EXPECT_EQ(frozen.children()[0], h);
  EXPECT_EQ(arena_->block_info(h).refcount, 1u) << "the object's only";
  object.reset();
  holder_->flush_cache();
  EXPECT_EQ(used(), baseline_);
}

TEST_F(Blobs, AReferenceCanBeTakenOver) {
  HeldBlock buffer = holder_->allocate(8192, BlockKind::blob);
  HeldBlock mine = holder_->retain(buffer.handle());
  Freezer freezer(*holder_);
  heap::SequenceWriter items = freezer.root().set_list(2);
  items[0].set_blob(freezer.reference(std::move(mine), 0, 100));
  EXPECT_FALSE(mine) << "taken over";  // NOLINT(bugprone-use-after-move): the API says so
  HeldBlock again = holder_->retain(buffer.handle());
  items[1].set_blob(freezer.reference(std::move(again), 100, 100));  // a duplicate: dropped, one child
  EXPECT_FALSE(again);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(arena_->block_info(buffer.handle()).refcount, 2u) << "the caller and the Freezer";
  HeldBlock raw = holder_->allocate(128, BlockKind::raw);
  EXPECT_THROW(freezer.reference(std::move(raw), 0, 1), InvalidArgument) << "a buffer must be a blob";
  HeldBlock object = freezer.publish();
  EXPECT_EQ(FrozenObject(*arena_, object.handle()).children().size(), 1u);
  EXPECT_EQ(arena_->block_info(buffer.handle()).refcount, 2u) << "the caller and the object";
  object.reset();
  buffer.reset();
  EXPECT_EQ(used(), baseline_);
}

TEST_F(Blobs, OnlyBlobBlocksCanBeReferencedAsBuffers) {
  HeldBlock raw = holder_->allocate(128, BlockKind::raw);
  Freezer freezer(*holder_);
  EXPECT_THROW(freezer.reference(raw), InvalidArgument);
  HeldBlock blob = holder_->allocate(128, BlockKind::blob);
  EXPECT_THROW(freezer.reference(blob, 100, 29), InvalidArgument);
  EXPECT_THROW(freezer.root().set_channel(blob.handle()), InvalidArgument) << "a channel must be a channel block";
}

TEST_F(Blobs, AFreezerThatNeverPublishesLeavesNothing) {
  {
    Freezer freezer(*holder_);
    heap::SequenceWriter items = freezer.root().set_list(2);
    items[0].set_bytes(pattern(1u << 20));
    items[1].set_blob(freezer.copy_to_blob(pattern(1u << 20)));
    EXPECT_GT(used(), baseline_ + (2u << 20));
  }
  EXPECT_EQ(used(), baseline_);
}

TEST_F(Blobs, PickleBuffersAndAChannelAreChildrenToo) {
  std::optional<Channel> channel = Channel::create(*holder_, 4);
  HeldBlock buffer = holder_->allocate(10'000, BlockKind::blob);
  std::memset(buffer.bytes().data(), 0x5A, 10'000);

  Freezer freezer(*holder_);
  heap::SequenceWriter items = freezer.root().set_tuple(2);
  const BlobSlice buffers[] = {freezer.reference(buffer, 0, 10), freezer.copy_to_blob(pattern(20))};
  items[0].set_pickled(pattern(heap::kInlineMax + 10), buffers);  // payload too: a blob
  items[1].set_channel(channel->handle());
  HeldBlock object = freezer.publish();

  FrozenObject frozen(*arena_, object.handle());
  EXPECT_EQ(frozen.children().size(), 4u);  // buffer, copied buffer, payload blob, channel
  const heap::PickledView p = frozen.root().as_sequence()[0].as_pickled();
  EXPECT_EQ(p.payload.size(), heap::kInlineMax + 10);
  ASSERT_EQ(p.buffers.size(), 2u);
  EXPECT_EQ(p.buffers[0].block, buffer.handle());
  EXPECT_EQ(p.buffers[0].bytes.data(), buffer.bytes().data());
  EXPECT_EQ(p.buffers[1].bytes.size(), 20u);
  EXPECT_EQ(frozen.root().as_sequence()[1].as_channel(), channel->handle());
  EXPECT_EQ(arena_->block_info(channel->handle()).refcount, 2u);

  object.reset();
  EXPECT_EQ(arena_->block_info(channel->handle()).refcount, 1u);
  channel.reset();
  buffer.reset();
  EXPECT_EQ(used(), baseline_);
}

TEST_F(Blobs, PublishingIntoAFullArenaPublishesNothing) {
  const std::uint64_t free_bytes = arena_->stats().largest_free;
  HeldBlock filler = holder_->allocate(free_bytes - (1u << 20), BlockKind::raw);  // leave ~1 MiB
  {
    Freezer freezer(*holder_);
    heap::SequenceWriter items = freezer.root().set_list(200'000);  // a ~5 MiB message
    for (std::size_t i = 0; i < items.size(); ++i) items[i].set_int(static_cast<std::int64_t>(i));
    const std::uint64_t before = used();
    EXPECT_THROW(freezer.publish(), ArenaFull);
    EXPECT_EQ(used(), before);
  }
  filler.reset();
  EXPECT_EQ(used(), baseline_);
}

TEST_F(Blobs, AnotherProcessReadsTheObjectInPlace) {
  const auto sample = samples();
  std::vector<HeldBlock> objects;
  for (const auto& [name, value] : sample) objects.push_back(freeze_tree(*holder_, value));

  const pid_t child = fork_child([&] {
    auto mine = Arena::attach(name_.name);
    auto holder = mine->attach_holder();
    for (std::size_t i = 0; i < sample.size(); ++i) {
      HeldBlock object = holder->retain(objects[i].handle());
      if (!(read_all(*mine, object.handle()) == sample[i].second)) return 10 + static_cast<int>(i);
    }
    return 0;
  });
  EXPECT_EQ(wait_child(child), 0);
  objects.clear();
  EXPECT_EQ(used(), baseline_);
}

}  // namespace
}  // namespace shoal::testing
