// test_heap_corrupt.cpp — nothing an object block contains, however
// corrupted, crashes, hangs or reads out of bounds: it raises CorruptObject.
// Bodies that are not messages; every byte of every sample mutated; random
// bodies; each check the reader makes beyond Cap'n Proto's own (child
// references, UTF-8, dict shape, canonical big ints, dtypes, array extents,
// unknown members); nesting far past the limit; lists built to exhaust the
// traversal limit. Run under ASan+UBSan by scripts/test.sh.
#include <gtest/gtest.h>

#include <capnp/any.h>

#include <chrono>
#include <random>
#include <string>

#include "test_heap_samples.hpp"
#include "test_heap_support.hpp"
#include "test_hooks.hpp"

namespace shoal::testing {
namespace {

using heap::FrozenObject;
using layout::BlockKind;

class Corrupt : public HeapTest {};

// What reading every part of object `h` raised: the CorruptObject message,
// or a marker saying it read fine.
std::string read_error(Arena& arena, Handle h) {
  try {
    read_all(arena, h);
  } catch (const CorruptObject& e) {
    return e.what();
  }
  return "(read without error)";
}

// The raw sections of a Value being built, to write what no setter would.
kj::ArrayPtr<kj::byte> data_section(schema::Value::Builder value) {
  return capnp::AnyStruct::Builder(kj::mv(value)).getDataSection();
}
capnp::AnyPointer::Builder first_pointer(schema::Value::Builder value) {
  return capnp::AnyStruct::Builder(kj::mv(value)).getPointerSection()[0];
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::vector<std::byte> words(std::initializer_list<std::uint32_t> halves) {
  std::vector<std::byte> out(halves.size() * 4);
  std::size_t at = 0;
  for (std::uint32_t h : halves) {
    std::memcpy(out.data() + at, &h, 4);
    at += 4;
  }
  return out;
}

TEST_F(Corrupt, BodiesThatAreNotMessages) {
  struct Case {
    const char* what;
    std::vector<std::byte> body;
    const char* expected;
  };
  const Case cases[] = {
      {"empty", {}, "not a whole, non-zero number of words"},
      {"not whole words", std::vector<std::byte>(12), "not a whole, non-zero number of words"},
      {"2^32 segments", words({0xFFFFFFFFu, 0}), "segment table claims 4294967296 segments"},
      {"1000 segments", words({999, 1}), "segment table claims 1000 segments"},
      {"segment past the end", words({0, 1000}), "message claims 1001 words"},
      {"no root pointer", words({0, 0}), "malformed message"},
      {"root is not a struct", words({0, 1, 0xFFFFFFFDu, 0xFFFFFFFFu}), "malformed message"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    HeldBlock object = forge(*holder_, c.body);
    const std::string error = read_error(*arena_, object.handle());
    EXPECT_TRUE(contains(error, c.expected)) << error;
    EXPECT_TRUE(contains(error, to_string(object.handle()))) << "names the object: " << error;
  }
}

// Mutates every byte of every sample's body (three ways each; at most 3000
// positions of the larger ones) and reads the result completely: each must
// read or raise CorruptObject, nothing else.
TEST_F(Corrupt, EveryMutationOfEverySampleIsReadSafely) {
  std::mt19937_64 random(20260527);
  std::size_t reads = 0;
  std::size_t corrupt = 0;
  for (const auto& [name, value, indexing] : all_samples()) {
    SCOPED_TRACE(name);
    HeldBlock original = freeze_tree(*holder_, value, indexing);
    FrozenObject frozen(*arena_, original.handle());
    const std::vector<std::byte> body(frozen.body().begin(), frozen.body().end());
    std::vector<std::size_t> positions(body.size());
    for (std::size_t i = 0; i < body.size(); ++i) positions[i] = i;
    if (positions.size() > 3000) {
      std::shuffle(positions.begin(), positions.end(), random);
      positions.resize(3000);
    }
    for (std::size_t at : positions) {
      for (std::byte mutation : {std::byte{0x01}, std::byte{0x80}, std::byte{0xFF}}) {
        std::vector<std::byte> mutated = body;
        mutated[at] ^= mutation;
        HeldBlock object = forge(*holder_, mutated, frozen.children());
        try {
          read_all(*arena_, object.handle());
          ++reads;
        } catch (const CorruptObject&) {
          ++corrupt;
        }
      }
    }
  }
  std::printf("mutated bodies: %zu read, %zu raised CorruptObject\n", reads, corrupt);
  EXPECT_GT(corrupt, 0u);
  EXPECT_GT(reads, 0u);
}

TEST_F(Corrupt, RandomBodiesAreReadSafely) {
  HeldBlock blob = holder_->allocate(4096, BlockKind::blob);
  HeldBlock raw = holder_->allocate(4096, BlockKind::raw);
  const Handle children[] = {blob.handle(), raw.handle()};
  std::mt19937_64 random(7);
  std::size_t corrupt = 0;
  constexpr int kBodies = 20'000;
  for (int i = 0; i < kBodies; ++i) {
    std::vector<std::byte> body(8 * (1 + random() % 64));
    for (std::byte& b : body) b = static_cast<std::byte>(random());
    if (i % 2 == 0) {  // half of them get a plausible one-segment table, to reach the pointers
      const std::uint32_t table[2] = {0, static_cast<std::uint32_t>(body.size() / 8 - 1)};
      std::memcpy(body.data(), table, 8);
    }
    HeldBlock object = forge(*holder_, body, children);
    try {
      read_all(*arena_, object.handle());
    } catch (const CorruptObject&) {
      ++corrupt;
    }
  }
  EXPECT_GT(corrupt, static_cast<std::size_t>(kBodies / 2));
}

TEST_F(Corrupt, ChildReferencesAreChecked) {
  HeldBlock blob = holder_->allocate(100, BlockKind::blob);
  HeldBlock raw = holder_->allocate(100, BlockKind::raw);
  const Handle children[] = {blob.handle(), raw.handle()};
  auto expect_error = [&](capnp::MessageBuilder& message, const std::string& expected) {
    HeldBlock object = forge(*holder_, framed(message), children);
    const std::string error = read_error(*arena_, object.handle());
    EXPECT_TRUE(contains(error, expected)) << "expected '" << expected << "', got: " << error;
  };
  {
    capnp::MallocMessageBuilder m;
    m.initRoot<schema::Frozen>().initValue().initBlob().setChild(5);
    expect_error(m, "names child 5, the object has 2");
  }
  {
    capnp::MallocMessageBuilder m;
    m.initRoot<schema::Frozen>().initValue().initBlob().setChild(1);
    expect_error(m, "child 1 is a block of kind 1, expected kind 2");
  }
  {
    capnp::MallocMessageBuilder m;
    auto ref = m.initRoot<schema::Frozen>().initValue().initBytesBlob();
    ref.setOffset(90);
    ref.setLength(20);
    expect_error(m, "range [90, +20) of child 0 is outside its 100 bytes");
  }
  {
    capnp::MallocMessageBuilder m;
    m.initRoot<schema::Frozen>().initValue().initChannel().setChild(0);
    expect_error(m, "child 0 is a block of kind 2, expected kind 4");
  }
  auto array = [&](const char* dtype, std::vector<std::uint64_t> shape, std::vector<std::int64_t> strides,
                   std::uint64_t offset, const std::string& expected) {
    capnp::MallocMessageBuilder m;
    auto a = m.initRoot<schema::Frozen>().initValue().initNdarray();
    a.setDtype(dtype);
    auto s = a.initShape(static_cast<unsigned>(shape.size()));
    for (unsigned d = 0; d < shape.size(); ++d) s.set(d, shape[d]);
    auto t = a.initStrides(static_cast<unsigned>(strides.size()));
    for (unsigned d = 0; d < strides.size(); ++d) t.set(d, strides[d]);
    a.setOffset(offset);
    expect_error(m, expected);
  };
  array("<f8", {13}, {8}, 0, "array elements reach outside child 0 (100 bytes)");
  array("<f8", {12}, {8}, 8, "array elements reach outside child 0");
  array("<f8", {2}, {-8}, 0, "array elements reach outside child 0");  // reaches backwards past the start
  array("<f8", {0}, {8}, 101, "array elements reach outside child 0");  // empty, but its origin is past the end
  array("<f8", {1u << 31, 1u << 31}, {1ll << 40, 1ll << 40}, 0, "shape and strides overflow");
  array("<f8", {2, 2}, {8}, 0, "array has 2 dimensions and 1 strides");
  array("|O8", {1}, {8}, 0, "array dtype '|O8' is not one shoal reads");
  array("<f8\xFF", {1}, {8}, 0, "array dtype '<f8\\xff' is not one shoal reads");
  array("", {1}, {8}, 0, "array dtype '' is not one shoal reads");
}

// An object sealed with a checksum: any byte altered afterwards, in its
// body or in a blob it holds, is refused; untouched, it reads as before.
TEST_F(Corrupt, AChecksummedObjectRefusesEveryAlteredByte) {
  HeldBlock blob = holder_->allocate(1000, BlockKind::blob);
  std::memset(blob.bytes().data(), 7, 1000);
  auto publish = [&](bool checksum) {
    heap::Freezer freezer(*holder_);
    auto list = freezer.root().set_list(2);
    list[0].set_text("a value of some length, so that the body has bytes to alter");
    list[1].set_blob(freezer.reference(blob, 0, 1000));
    return freezer.publish(0, checksum);
  };
  HeldBlock sealed = publish(true);
  HeldBlock plain = publish(false);
  EXPECT_EQ(read_error(*arena_, sealed.handle()), "(read without error)");
  auto flip = [](std::byte& b) { b ^= std::byte{0x10}; };
  // Each byte of the sealed object's body, one at a time.
  std::span<std::byte> body = arena_->payload(sealed.handle());
  const std::size_t table = layout::child_table_bytes(1);
  for (std::size_t i = table; i < body.size(); ++i) {
    flip(body[i]);
    EXPECT_TRUE(contains(read_error(*arena_, sealed.handle()), "altered after it was sent")) << "byte " << i;
    flip(body[i]);
  }
  // A byte of the blob: both objects hold it; only the sealed one notices.
  flip(blob.bytes()[999]);
  EXPECT_TRUE(contains(read_error(*arena_, sealed.handle()), "altered after it was sent"));
  EXPECT_EQ(read_error(*arena_, plain.handle()), "(read without error)");
  flip(blob.bytes()[999]);
  EXPECT_EQ(read_error(*arena_, sealed.handle()), "(read without error)");
}

// A stray write to an object's `requested` landing after the block was
// resolved (or a reuse of the block seen by the lock-free `shoal dump`):
// the body handed out is bounded by the block, never by a value read after
// the check.
layout::BlockHeader* g_overwritten = nullptr;

TEST_F(Corrupt, AnOverwrittenRequestedNeverWidensTheBody) {
  heap::Freezer freezer(*holder_);
  freezer.root().set_text("short");
  HeldBlock object = freezer.publish();
  auto* header = reinterpret_cast<layout::BlockHeader*>(arena_->payload(object.handle()).data() -
                                                        layout::kBlockHeaderBytes);
  const std::uint64_t requested = header->requested;
  g_overwritten = header;
  test_hooks::install([](test_hooks::Point point) {
    if (point == test_hooks::Point::object_after_resolve) g_overwritten->requested = std::uint64_t{1} << 40;
  });
  try {
    const ObjectView view = arena_->object(object.handle());
    ADD_FAILURE() << "a body of " << view.body.size() << " bytes over a block of " << header->size;
  } catch (const CorruptObject&) {
  }
  test_hooks::install(nullptr);
  header->requested = requested;
  EXPECT_EQ(read_error(*arena_, object.handle()), "(read without error)");
}

TEST_F(Corrupt, ContentCapnProtoCannotCheck) {
  HeldBlock blob = holder_->allocate(100, BlockKind::blob);
  std::memcpy(blob.bytes().data(), "ok \xC3\x28 bad", 10);
  const Handle children[] = {blob.handle()};
  auto expect_error = [&](capnp::MessageBuilder& message, const std::string& expected) {
    HeldBlock object = forge(*holder_, framed(message), children);
    const std::string error = read_error(*arena_, object.handle());
    EXPECT_TRUE(contains(error, expected)) << "expected '" << expected << "', got: " << error;
  };
  {
    capnp::MallocMessageBuilder m;
    m.initRoot<schema::Frozen>().initValue().setText("caf\xC3");
    expect_error(m, "text is not valid UTF-8");
  }
  {
    capnp::MallocMessageBuilder m;
    m.initRoot<schema::Frozen>().initValue().initTextBlob().setLength(10);
    expect_error(m, "text is not valid UTF-8");
  }
  {
    capnp::MallocMessageBuilder m;
    auto d = m.initRoot<schema::Frozen>().initValue().initDict();
    d.initKeys(2);
    d.initValues(1);
    expect_error(m, "dict has 2 keys but 1 values");
  }
  {
    capnp::MallocMessageBuilder m;
    const kj::byte magnitude[] = {1, 0};
    m.initRoot<schema::Frozen>().initValue().initBigInt().setMagnitude(kj::arrayPtr(magnitude, 2));
    expect_error(m, "not canonical");
  }
  {
    capnp::MallocMessageBuilder m;
    m.initRoot<schema::Frozen>().initValue().initBigInt();
    expect_error(m, "not canonical");
  }
  {
    capnp::MallocMessageBuilder m;
    auto value = m.initRoot<schema::Frozen>().initValue();
    const std::uint16_t newer = 99;  // the union's discriminant is the first 16 bits of Value's data
    std::memcpy(data_section(value).begin(), &newer, 2);
    expect_error(m, "value of unknown kind #99 (written by a newer shoal?)");
  }
  {
    capnp::MallocMessageBuilder m;
    auto text = m.initRoot<schema::Frozen>().initValue();
    text.initList(1)[0].setInt64(1);
    const std::uint16_t as_text = static_cast<std::uint16_t>(schema::Value::TEXT);  // a list where text is expected
    std::memcpy(data_section(text).begin(), &as_text, 2);
    expect_error(m, "malformed message");
  }
}

// Nesting built with Cap'n Proto directly, far past kMaxDepth: the reader
// refuses it at the limit, so a recursive caller never overflows its stack.
TEST_F(Corrupt, NestingFarBeyondTheLimitIsAnErrorNotAStackOverflow) {
  for (const bool dicts : {false, true}) {
    SCOPED_TRACE(dicts ? "dicts" : "lists");
    capnp::MallocMessageBuilder m;
    schema::Value::Builder v = m.initRoot<schema::Frozen>().initValue();
    for (int i = 0; i < 100'000; ++i) {
      if (dicts) {
        auto d = v.initDict();
        d.initKeys(1)[0].setNone();
        v = d.initValues(1)[0];
      } else {
        v = v.initList(1)[0];
      }
    }
    v.setInt64(1);
    HeldBlock object = forge(*holder_, framed(m));
    const std::string error = read_error(*arena_, object.handle());
    EXPECT_TRUE(contains(error, "containers nested deeper than 1000")) << error;
  }
}

// A list pointer claiming 2^29 - 1 empty elements costs no bytes; reading
// it as a list of values must not mean 500 million iterations.
TEST_F(Corrupt, ListsClaimingBillionsOfEmptyElementsTripTheTraversalLimit) {
  capnp::MallocMessageBuilder m;
  auto value = m.initRoot<schema::Frozen>().initValue();
  value.initList(0);
  first_pointer(value).initAs<capnp::List<capnp::Void>>(static_cast<unsigned>(heap::kMaxElements));
  HeldBlock object = forge(*holder_, framed(m));
  const auto start = std::chrono::steady_clock::now();
  const std::string error = read_error(*arena_, object.handle());
  EXPECT_TRUE(contains(error, "traversal limit")) << error;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST_F(Corrupt, HandlesThatNameNoObjectAreInvalidHandles) {
  HeldBlock blob = holder_->allocate(100, BlockKind::blob);
  EXPECT_THROW(FrozenObject(*arena_, blob.handle()), InvalidHandle);
  HeldBlock object = freeze_tree(*holder_, int64(1));
  const Handle stale = object.handle();
  object.reset();
  EXPECT_THROW(FrozenObject(*arena_, stale), InvalidHandle);
}

}  // namespace
}  // namespace shoal::testing
