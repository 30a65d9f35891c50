// test_heap_roundtrip.cpp — every kind of value frozen and read back equal:
// the samples, huge and empty containers, unicode, NaN/infinities/-0.0,
// ints far beyond 64 bits, zero-size and non-contiguous arrays, nesting up
// to the limit (and a clear error one past it), and the writer's refusals.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <string>

#include "test_heap_samples.hpp"
#include "test_heap_support.hpp"

namespace shoal::testing {
namespace {

using heap::FrozenObject;
using heap::Freezer;
using heap::ValueKind;

class RoundTrip : public HeapTest {};

TEST_F(RoundTrip, EverySampleReadsBackEqual) {
  for (const auto& [name, value] : samples()) {
    SCOPED_TRACE(name);
    const Tree back = round_trip(value);
    EXPECT_TRUE(back == value) << "read back " << describe(back) << ", froze " << describe(value);
  }
  EXPECT_EQ(used(), baseline_) << "every object and blob was freed";
}

TEST_F(RoundTrip, FloatsKeepTheirBits) {
  const double signalling_nan = std::bit_cast<double>(std::uint64_t{0x7FF0000000000123});
  const double negative_nan = std::bit_cast<double>(std::uint64_t{0xFFF8000000000000});
  const Tree value = list({float64(signalling_nan), float64(negative_nan), float64(-0.0),
                           float64(std::numeric_limits<double>::infinity()),
                           float64(-std::numeric_limits<double>::infinity()),
                           float64(std::numeric_limits<double>::denorm_min())});
  const Tree back = round_trip(value);
  ASSERT_TRUE(back == value);
  EXPECT_TRUE(std::signbit(back.items[2].float64));
  EXPECT_EQ(std::bit_cast<std::uint64_t>(back.items[0].float64), 0x7FF0000000000123u);
}

TEST_F(RoundTrip, IntsFarBeyond64Bits) {
  // 2**4096 - 1 and -(2**4096): 512 and 513 bytes of magnitude.
  std::vector<std::uint8_t> big(512, 0xFF);
  std::vector<std::uint8_t> power(513, 0);
  power.back() = 1;
  const Tree value = list({big_int(false, big), big_int(true, power)});
  EXPECT_TRUE(round_trip(value) == value);
}

TEST_F(RoundTrip, BigIntsThatFitAreStoredAsInt64) {
  Freezer freezer(*holder_);
  heap::SequenceWriter s = freezer.root().set_list(4);
  const std::uint8_t zeros[] = {5, 0, 0, 0, 0, 0, 0, 0, 0, 0};  // 5 with leading zero bytes
  s[0].set_big_int(false, zeros);
  const std::uint8_t two63[] = {0, 0, 0, 0, 0, 0, 0, 0x80};
  s[1].set_big_int(true, two63);   // -2**63 is INT64_MIN
  s[2].set_big_int(false, two63);  // 2**63 is not an int64
  s[3].set_big_int(true, {});      // -0 is 0
  HeldBlock object = freezer.publish();
  const Tree back = read_all(*arena_, object.handle());
  EXPECT_TRUE(back.items[0] == int64(5));
  EXPECT_TRUE(back.items[1] == int64(std::numeric_limits<std::int64_t>::min()));
  EXPECT_TRUE(back.items[2] == big_int(false, {0, 0, 0, 0, 0, 0, 0, 0x80}));
  EXPECT_TRUE(back.items[3] == int64(0));
}

TEST_F(RoundTrip, UnicodeTextInlineAndInABlob) {
  const std::string mixed = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x90\x9F\xF4\x8F\xBF\xBF";  // 1 to 4 bytes, and U+10FFFF
  std::string long_text;
  while (long_text.size() <= heap::kInlineMax) long_text += mixed;
  const Tree value = list({text(mixed), text(long_text), text(std::string(heap::kInlineMax, 'x'))});
  HeldBlock object = freeze_tree(*holder_, value);
  FrozenObject frozen(*arena_, object.handle());
  EXPECT_EQ(frozen.children().size(), 1u) << "only the text longer than kInlineMax gets a blob";
  EXPECT_TRUE(thaw(frozen.root()) == value);
}

TEST_F(RoundTrip, BytesAtTheInlineThreshold) {
  const Tree value = list({bytes(pattern(heap::kInlineMax)), bytes(pattern(heap::kInlineMax + 1))});
  HeldBlock object = freeze_tree(*holder_, value);
  FrozenObject frozen(*arena_, object.handle());
  EXPECT_EQ(frozen.children().size(), 1u);
  EXPECT_TRUE(thaw(frozen.root()) == value);
}

TEST_F(RoundTrip, EmptyContainersOfEveryKind) {
  const Tree value = list({list({}), sequence(ValueKind::tuple, {}), sequence(ValueKind::set, {}),
                           sequence(ValueKind::frozenset, {}), dict({}, {}), text(""), bytes({}), blob({}),
                           pickled({}, {})});
  EXPECT_TRUE(round_trip(value) == value);
}

TEST_F(RoundTrip, HugeContainers) {
  std::vector<Tree> many;
  for (int i = 0; i < 1'000'000; ++i) many.push_back(int64(i * 7));
  const Tree big_list = list(std::move(many));
  EXPECT_TRUE(round_trip(big_list) == big_list);

  std::vector<Tree> keys;
  std::vector<Tree> values;
  for (int i = 0; i < 100'000; ++i) {
    std::string key = "k";  // (not "k" + ...: GCC 12 warns falsely on it)
    key += std::to_string(i);
    keys.push_back(text(key));
    values.push_back(list({int64(i), text(std::to_string(i))}));
  }
  const Tree big_dict = dict(std::move(keys), std::move(values));
  EXPECT_TRUE(round_trip(big_dict) == big_dict);

  const Tree big_text = text(std::string(10u << 20, 'z'));  // 10 MiB: a blob
  EXPECT_TRUE(round_trip(big_text) == big_text);
  EXPECT_EQ(used(), baseline_);
}

TEST_F(RoundTrip, ArraysZeroSizeScalarAndStrided) {
  std::vector<double> grid(24);
  for (std::size_t i = 0; i < grid.size(); ++i) grid[i] = static_cast<double>(i) * 0.5;
  const std::vector<std::byte> buffer = doubles(grid);  // a 2x3x4 C-order array of float64
  const Tree cases = list({
      ndarray("<f8", {2, 3, 4}, {96, 32, 8}, buffer),                  // C order
      ndarray("<f8", {4, 3, 2}, {8, 32, 96}, buffer),                  // its transpose: F order
      ndarray("<f8", {2, 2}, {96, 16}, buffer),                        // a[:, 0, ::2]-like, non-contiguous
      ndarray("<f8", {3, 4}, {-32, -8}, buffer, 96 + 64 + 24),         // reversed on both axes
      ndarray("<f8", {5}, {0}, buffer, 8),                             // broadcast: stride 0
      ndarray("<f8", {0}, {8}, {}),                                    // zero-size, empty blob
      ndarray("<f8", {3, 0, 2}, {0, 8, 8}, buffer, static_cast<std::uint64_t>(buffer.size())),  // zero-size, origin at the end
      ndarray(">i2", {2}, {2}, byte_vector("\x01\x02\x03\x04")),       // big-endian
      ndarray("<U3", {2}, {12}, byte_vector(std::string(24, 'q'))),    // unicode: itemsize 12
      ndarray("<M8[ns]", {1}, {8}, doubles({0})),                      // datetime64
      ndarray("|b1", {3}, {1}, byte_vector(std::string_view("\x01\x00\x01", 3))),
  });
  EXPECT_TRUE(round_trip(cases) == cases);
}

TEST_F(RoundTrip, NestingUpToTheLimit) {
  const Tree deep_lists = nested_lists(static_cast<int>(heap::kMaxDepth), int64(1));
  EXPECT_TRUE(round_trip(deep_lists) == deep_lists);

  Tree deep_dicts = text("leaf");  // dicts cost Cap'n Proto two pointers per level
  for (std::uint32_t i = 0; i < heap::kMaxDepth; ++i) deep_dicts = dict({int64(i)}, {std::move(deep_dicts)});
  EXPECT_TRUE(round_trip(deep_dicts) == deep_dicts);

  // The deepest containers may still hold leaves that follow pointers.
  const Tree deep_array = nested_lists(static_cast<int>(heap::kMaxDepth),
                                       pickled(byte_vector("p"), {byte_vector("b")}));
  EXPECT_TRUE(round_trip(deep_array) == deep_array);
}

TEST_F(RoundTrip, OnePastTheNestingLimitIsRefusedWhenFreezing) {
  const Tree too_deep = nested_lists(static_cast<int>(heap::kMaxDepth) + 1, int64(1));
  try {
    freeze_tree(*holder_, too_deep);
    FAIL() << "froze a value nested deeper than kMaxDepth";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("nested deeper than 1000"), std::string::npos) << e.what();
  }
  EXPECT_EQ(used(), baseline_) << "nothing was published";
}

TEST_F(RoundTrip, WriterRefusesWhatAReaderWouldNot) {
  Freezer freezer(*holder_);
  heap::ValueWriter root = freezer.root();
  EXPECT_THROW(root.set_text("bad \xC3"), InvalidArgument);          // truncated sequence
  EXPECT_THROW(root.set_text("\xED\xA0\x80"), InvalidArgument);      // a surrogate
  EXPECT_THROW(root.set_text("\xC0\xAF"), InvalidArgument);          // overlong
  const heap::BlobSlice data = freezer.copy_to_blob(pattern(64));
  const std::uint64_t shape[] = {9};
  const std::int64_t strides[] = {8};
  EXPECT_THROW(root.set_ndarray({"<f8", shape, strides}, data), InvalidArgument);  // 72 bytes > 64
  const std::uint64_t one[] = {1};
  EXPECT_THROW(root.set_ndarray({"|O8", one, strides}, data), InvalidArgument);    // object dtype
  EXPECT_THROW(root.set_ndarray({"=f8", one, strides}, data), InvalidArgument);    // implicit byte order
  EXPECT_THROW(root.set_ndarray({"<f8", one, {}}, data), InvalidArgument);         // strides missing
  EXPECT_THROW(root.set_blob({7, 0, 1}), InvalidArgument);                         // no such child
  EXPECT_THROW(root.set_blob({data.child, 60, 5}), InvalidArgument);               // past the blob's end
  EXPECT_THROW(freezer.root(), InvalidArgument);                                   // root twice
  root.set_ndarray({"<f8", one, strides}, data, 56);  // the last 8 bytes: fine
  HeldBlock object = freezer.publish();
  EXPECT_THROW(freezer.publish(), InvalidArgument);
  EXPECT_THROW(freezer.copy_to_blob(pattern(8)), InvalidArgument);
}

TEST_F(RoundTrip, AccessorsOfAnotherKindAreACallersMistake) {
  HeldBlock object = freeze_tree(*holder_, list({int64(3)}));
  FrozenObject frozen(*arena_, object.handle());
  const heap::ValueReader root = frozen.root();
  EXPECT_EQ(root.kind(), ValueKind::list);
  EXPECT_THROW(root.as_text(), InvalidArgument);
  EXPECT_THROW(root.as_dict(), InvalidArgument);
  EXPECT_THROW(root.as_sequence()[1], InvalidArgument);
  EXPECT_EQ(root.as_sequence()[0].as_int64(), 3);
}

}  // namespace
}  // namespace shoal::testing
