// test_array_blob.cpp — a blob that describes its own array: the header a
// creator writes reads back the same, through a channel too; every field a
// stray write could damage is refused by the reader, never trusted; the
// flag goes with the block (not with a recycled one), and only a new,
// unpublished blob can take a header.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <vector>

#include "shoal/array_blob.hpp"
#include "shoal/channel.hpp"
#include "test_heap_support.hpp"
#include "test_hooks.hpp"
#include "test_support.hpp"

namespace shoal::testing {
namespace {

using heap::ArrayBlob;
using heap::parse_array_blob;
using layout::ArrayBlobHeader;
using layout::BlockKind;

class ArrayBlobs : public HeapTest {
 protected:
  // A new blob holding an array of `shape` with its header.
  HeldBlock make(std::vector<std::uint64_t> shape, std::string_view dtype = "<f8") {
    std::uint64_t nbytes = 8;
    for (std::uint64_t d : shape) nbytes *= d;
    HeldBlock blob = holder_->allocate(heap::array_blob_bytes(static_cast<std::uint32_t>(shape.size()), nbytes),
                                       BlockKind::blob);
    heap::write_array_header(blob, dtype, shape);
    return blob;
  }
};

// A copy of a real header's bytes, to damage one field at a time.
std::vector<std::byte> bytes_of(const HeldBlock& blob) {
  return {blob.bytes().begin(), blob.bytes().end()};
}
ArrayBlobHeader& header_in(std::vector<std::byte>& payload) {
  return *reinterpret_cast<ArrayBlobHeader*>(payload.data());
}

TEST_F(ArrayBlobs, TheHeaderReadsBackAsWritten) {
  HeldBlock blob = make({3, 5});
  EXPECT_TRUE(heap::is_array_blob(blob));
  const std::optional<ArrayBlob> array = parse_array_blob(blob.bytes());
  ASSERT_TRUE(array);
  EXPECT_EQ(array->dtype, "<f8");
  EXPECT_EQ(array->itemsize, 8u);
  EXPECT_EQ(array->shape, (std::vector<std::uint64_t>{3, 5}));
  EXPECT_EQ(array->nbytes, 3u * 5 * 8);
  EXPECT_EQ(array->data_offset, 128u) << "56-byte header + 2 dimensions, rounded up to 64";
  EXPECT_EQ(blob.bytes().size(), 128u + 120u);
}

TEST_F(ArrayBlobs, ZeroDimensionsAndZeroSizedArraysAreArraysToo) {
  HeldBlock scalar = make({});
  const auto a = parse_array_blob(scalar.bytes());
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->shape.empty());
  EXPECT_EQ(a->nbytes, 8u);
  EXPECT_EQ(a->data_offset, 64u);
  HeldBlock empty = make({4, 0, 7});
  const auto e = parse_array_blob(empty.bytes());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->nbytes, 0u);
}

TEST_F(ArrayBlobs, APlainBlobIsNotAnArrayBlob) {
  HeldBlock plain = holder_->allocate(256, BlockKind::blob);
  EXPECT_FALSE(heap::is_array_blob(plain));
  HeldBlock raw = holder_->allocate(256, BlockKind::raw);
  EXPECT_FALSE(heap::is_array_blob(raw));
  EXPECT_FALSE(heap::is_array_blob(HeldBlock{}));
}

TEST_F(ArrayBlobs, EveryDamagedFieldIsRefused) {
  HeldBlock blob = make({3, 5});
  const std::vector<std::byte> good = bytes_of(blob);
  ASSERT_TRUE(parse_array_blob(good));
  auto refused = [&](auto damage) {
    std::vector<std::byte> copy = good;
    damage(header_in(copy), copy);
    return !parse_array_blob(copy).has_value();
  };
  EXPECT_TRUE(refused([](ArrayBlobHeader& h, auto&) { h.magic ^= 1; }));
  EXPECT_TRUE(refused([](ArrayBlobHeader& h, auto&) { h.ndim = layout::kMaxArrayDims + 1; }));
  EXPECT_TRUE(refused([](ArrayBlobHeader& h, auto&) { h.ndim = 3; })) << "the shape would reach the data";
  EXPECT_TRUE(refused([](ArrayBlobHeader& h, auto&) { h.data_offset = 64; })) << "before the shape ends";
  EXPECT_TRUE(refused([](ArrayBlobHeader& h, auto&) { h.data_offset = 130; })) << "not 64-aligned";
  EXPECT_TRUE(refused([](ArrayBlobHeader& h, auto&) { h.data_offset = 192; })) << "data past the payload";
  EXPECT_TRUE(refused([](ArrayBlobHeader& h, auto&) { h.data_offset = std::numeric_limits<std::uint64_t>::max() - 63; }));
  EXPECT_TRUE(refused([](ArrayBlobHeader& h, auto&) { h.nbytes = 121; })) << "not the shape's size";
  EXPECT_TRUE(refused([](ArrayBlobHeader& h, auto&) { h.nbytes = std::numeric_limits<std::uint64_t>::max(); }));
  EXPECT_TRUE(refused([](ArrayBlobHeader& h, auto&) { std::memset(h.dtype, 'f', sizeof h.dtype); }))
      << "no NUL inside the field";
  EXPECT_TRUE(refused([](ArrayBlobHeader& h, auto&) { std::memcpy(h.dtype, "|O8", 4); })) << "object arrays never";
  EXPECT_TRUE(refused([](ArrayBlobHeader& h, auto&) { std::memcpy(h.dtype, "<f4", 4); })) << "size no longer matches";
  auto shape = [](std::vector<std::byte>& p) { return reinterpret_cast<std::uint64_t*>(p.data() + 56); };
  EXPECT_TRUE(refused([&](ArrayBlobHeader&, auto& p) { shape(p)[0] = 4; }));
  EXPECT_TRUE(refused([&](ArrayBlobHeader&, auto& p) { shape(p)[0] = std::uint64_t{1} << 62; })) << "overflows";
  // A zero elsewhere makes the product 0 whatever a dimension says: a huge
  // one must still be refused (it would become a negative Py_ssize_t).
  EXPECT_TRUE(refused([&](ArrayBlobHeader& h, auto& p) {
    shape(p)[0] = 0;
    shape(p)[1] = std::numeric_limits<std::uint64_t>::max();
    h.nbytes = 0;
  }));
  // Too short to hold a header at all.
  EXPECT_FALSE(parse_array_blob(std::span(good).first(sizeof(ArrayBlobHeader) - 1)));
  EXPECT_FALSE(parse_array_blob({}));
}

// The form a reader that copies the arena out uses (ArenaImage::array_blob):
// the header and shape from a copy, the data only bounded by the length.
TEST_F(ArrayBlobs, AHeadAndALengthAreCheckedLikeTheWholePayload) {
  HeldBlock blob = make({3, 5});
  const std::vector<std::byte> good = bytes_of(blob);
  const auto whole = parse_array_blob(good);
  ASSERT_TRUE(whole);
  const std::span<const std::byte> head = std::span(good).first(sizeof(ArrayBlobHeader) + 2 * sizeof(std::uint64_t));
  const auto from_head = parse_array_blob(head, good.size());
  ASSERT_TRUE(from_head);
  EXPECT_EQ(from_head->shape, whole->shape);
  EXPECT_EQ(from_head->nbytes, whole->nbytes);
  EXPECT_FALSE(parse_array_blob(head, whole->data_offset + whole->nbytes - 1)) << "the data would pass the payload";
  EXPECT_FALSE(parse_array_blob(head.first(head.size() - 1), good.size())) << "the copy ends inside the shape";
}

TEST_F(ArrayBlobs, WritingRefusesWhatCouldNotBeRead) {
  HeldBlock small = holder_->allocate(100, BlockKind::blob);
  const std::uint64_t shape[] = {10};
  EXPECT_THROW(heap::write_array_header(small, "<f8", shape), InvalidArgument) << "64 + 80 bytes needed";
  HeldBlock blob = holder_->allocate(1024, BlockKind::blob);
  EXPECT_THROW(heap::write_array_header(blob, "|O8", shape), InvalidArgument);
  EXPECT_THROW(heap::write_array_header(blob, "float64", shape), InvalidArgument) << "type strings only";
  const std::uint64_t huge[] = {std::uint64_t{1} << 40, std::uint64_t{1} << 40};
  EXPECT_THROW(heap::write_array_header(blob, "<f8", huge), InvalidArgument);
  const std::vector<std::uint64_t> too_many(layout::kMaxArrayDims + 1, 1);
  EXPECT_THROW(heap::write_array_header(blob, "|u1", too_many), InvalidArgument);
  EXPECT_THROW(heap::array_blob_bytes(layout::kMaxArrayDims + 1, 0), InvalidArgument);
  EXPECT_THROW(heap::array_blob_bytes(1, std::numeric_limits<std::uint64_t>::max()), InvalidArgument);
  HeldBlock raw = holder_->allocate(1024, BlockKind::raw);
  EXPECT_THROW(heap::write_array_header(raw, "<f8", shape), InvalidArgument) << "blobs only";
  EXPECT_FALSE(heap::is_array_blob(blob)) << "nothing was flagged by a refused write";
}

TEST_F(ArrayBlobs, APublishedBlobCannotTakeAHeader) {
  Channel channel = Channel::create(*holder_, 4);
  HeldBlock blob = holder_->allocate(1024, BlockKind::blob);
  channel.send(blob.handle());
  const std::uint64_t shape[] = {10};
  EXPECT_THROW(heap::write_array_header(blob, "<f8", shape), InvalidArgument);
}

TEST_F(ArrayBlobs, ItTravelsThroughAChannelAsItselfAndIsFrozen) {
  Channel channel = Channel::create(*holder_, 4);
  const std::uint64_t with_channel = used();
  HeldBlock blob = make({16});
  auto* values = reinterpret_cast<double*>(blob.bytes().data() + 64);
  for (int i = 0; i < 16; ++i) values[i] = i;
  channel.send(blob.handle());
  EXPECT_TRUE(blob.frozen());
  Channel::Item item = channel.receive(std::chrono::seconds(1));
  ASSERT_FALSE(item.is_inline());
  EXPECT_EQ(item.block.handle(), blob.handle());
  EXPECT_TRUE(heap::is_array_blob(item.block));
  const auto array = parse_array_blob(item.block.bytes());
  ASSERT_TRUE(array);
  EXPECT_EQ(reinterpret_cast<const double*>(item.block.bytes().data() + array->data_offset)[15], 15.0);
  item.block.reset();
  blob.reset();
  EXPECT_EQ(used(), with_channel) << "the last reference freed it";
}

// The block header a hook scribbles over (one test at a time).
layout::BlockHeader* g_scribbled = nullptr;

TEST_F(ArrayBlobs, AStrayWriteToTheBlockHeaderCannotWidenWhatAReceiverSees) {
  // Another process grows `requested` after the receiver resolved the blob
  // (checked then) but before it makes its span: the span is bounded by the
  // block again, here empty, never past it.
  Channel channel = Channel::create(*holder_, 4);
  HeldBlock blob = make({16});
  channel.send(blob.handle());
  g_scribbled = reinterpret_cast<layout::BlockHeader*>(arena_->base() + blob.handle().offset);
  const std::uint64_t requested = g_scribbled->requested;
  test_hooks::install([](test_hooks::Point point) {
    if (point == test_hooks::Point::ledger_after_add) g_scribbled->requested = g_scribbled->size;  // 64 B too many
  });
  Channel::Item item = channel.receive(std::chrono::seconds(1));
  test_hooks::install(nullptr);
  EXPECT_TRUE(item.block.bytes().empty()) << "refused, not trusted";
  EXPECT_FALSE(parse_array_blob(item.block.bytes()));
  g_scribbled->requested = requested;
  EXPECT_EQ(arena_->payload(blob.handle()).size(), requested);
}

TEST_F(ArrayBlobs, ASenderKilledMidSendLeavesTheArrayWholeInTheChannel) {
  // A process writes an array, sends it as itself and is killed with the
  // slot committed but the blob's refcount not yet raised: after repair the
  // receiver gets the array, header and data intact, and freeing it gives
  // every byte back.
  Channel channel = Channel::create(*holder_, 4);
  const std::uint64_t with_channel = used();
  testing::Signal reached;
  const pid_t victim = testing::fork_channel_user(name_.name, channel.handle(), [&](Holder& h, Channel& mine) {
    const std::uint64_t shape[] = {4, 8};
    HeldBlock blob = h.allocate(heap::array_blob_bytes(2, 4 * 8 * 8), BlockKind::blob);
    heap::write_array_header(blob, "<f8", shape);
    auto* values = reinterpret_cast<double*>(blob.bytes().data() + layout::array_blob_data_offset(2));
    for (int i = 0; i < 32; ++i) values[i] = i * 0.5;
    testing::pause_at(test_hooks::Point::send_after_commit, reached);  // in the slot, refcount not yet raised
    mine.send(blob.handle());
    return 50;
  });
  ASSERT_EQ(reached.wait(), 'p');
  testing::kill_and_reap(victim);
  EXPECT_EQ(arena_->reap_dead_holders(), 1u);
  EXPECT_EQ(arena_->stats().repairs, 1u);
  EXPECT_TRUE(arena_->check().empty());
  Channel::Item item = channel.receive(std::chrono::seconds(1));
  ASSERT_FALSE(item.is_inline());
  EXPECT_TRUE(heap::is_array_blob(item.block));
  EXPECT_TRUE(item.block.frozen());
  const auto array = parse_array_blob(item.block.bytes());
  ASSERT_TRUE(array);
  EXPECT_EQ(array->shape, (std::vector<std::uint64_t>{4, 8}));
  EXPECT_EQ(reinterpret_cast<const double*>(item.block.bytes().data() + array->data_offset)[31], 15.5);
  item.block.reset();
  EXPECT_EQ(used(), with_channel) << "the dead sender's reference was reaped, the slot's released";
}

TEST_F(ArrayBlobs, ARecycledBlockForgetsItWasAnArray) {
  HeldBlock blob = make({8});  // 64 + 64 bytes: small enough to be recycled
  const Handle first = blob.handle();
  ASSERT_TRUE(blob.try_recycle());
  EXPECT_TRUE(arena_->check().empty()) << "cached, it keeps the flag: not an array to check";
  HeldBlock again = holder_->try_allocate_cached(128, BlockKind::blob);
  ASSERT_TRUE(again);
  EXPECT_EQ(again.handle().offset, first.offset) << "the same block, recycled";
  EXPECT_FALSE(heap::is_array_blob(again));
}

// Whether some problem `shoal check` reports mentions `text`.
bool reports(const std::vector<std::string>& problems, std::string_view text) {
  for (const std::string& p : problems) {
    if (p.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST_F(ArrayBlobs, TheCheckerFindsADamagedHeaderBeforeAnyReceiverDoes) {
  HeldBlock blob = make({3, 5});
  EXPECT_TRUE(arena_->check().empty());
  auto* header = reinterpret_cast<ArrayBlobHeader*>(arena_->base() + blob.handle().offset + layout::kBlockHeaderBytes);
  header->nbytes += 8;
  const std::string where = "block " + std::to_string(blob.handle().offset);
  EXPECT_TRUE(reports(arena_->check(), "arrays: " + where + " is flagged as an array blob, but its array header"));
  header->nbytes -= 8;
  // The shape running past `requested` is refused too, though the block is larger.
  auto* block = reinterpret_cast<layout::BlockHeader*>(arena_->base() + blob.handle().offset);
  const std::uint64_t requested = block->requested;
  block->requested = 64;
  EXPECT_TRUE(reports(arena_->check(), "arrays: " + where));
  block->requested = requested;
  EXPECT_TRUE(arena_->check().empty());
}

TEST_F(ArrayBlobs, TheCheckerFindsTheFlagOnABlockThatIsNoBlob) {
  HeldBlock raw = holder_->allocate(256, BlockKind::raw);
  auto* block = reinterpret_cast<layout::BlockHeader*>(arena_->base() + raw.handle().offset);
  block->flags |= layout::kArrayBlob;
  EXPECT_TRUE(reports(arena_->check(), "arrays: block " + std::to_string(raw.handle().offset) +
                                           " is flagged as an array blob but is of kind"));
  block->flags &= static_cast<std::uint16_t>(~layout::kArrayBlob);
  EXPECT_TRUE(arena_->check().empty());
}

}  // namespace
}  // namespace shoal::testing
