// test_frozen_index.cpp — the hash index of frozen dicts and sets, and views
// of one frozen object inside another (schemas/value.capnp: "The hash
// index", FrozenView).
//
// The stable hash agrees with Python's equality across types; an indexed
// object finds every key at its own entry and reads back equal; a hostile
// index is refused or costs one pass, never an out-of-bounds read; a view
// keeps the object it names alive and reaches the value its path names.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "test_heap_samples.hpp"
#include "test_heap_support.hpp"

namespace shoal::testing {
namespace {

using heap::FrozenObject;
using heap::Freezer;
using heap::ValueKind;
using heap::ValueReader;

class FrozenIndex : public HeapTest {};

// True if every dict and set inside `value` has an index that finds each
// of its keys at its own entry (and, with `want_index`, has an index at all).
bool indexes_sound(const ValueReader& value, bool want_index) {
  switch (value.kind()) {
    case ValueKind::dict: {
      const heap::DictReader d = value.as_dict();
      if (want_index && d.index().empty()) return false;
      if (!index_finds_each(d.index(), d.size(), [&](std::size_t i) { return d.key(i); })) return false;
      for (std::size_t i = 0; i < d.size(); ++i) {
        if (!indexes_sound(d.value(i), want_index)) return false;
      }
      return true;
    }
    case ValueKind::set:
    case ValueKind::frozenset: {
      const heap::SequenceReader s = value.as_sequence();
      if (want_index && s.index().empty()) return false;
      return index_finds_each(s.index(), s.size(), [&](std::size_t i) { return s[i]; });
    }
    case ValueKind::list:
    case ValueKind::tuple: {
      const heap::SequenceReader s = value.as_sequence();
      for (std::size_t i = 0; i < s.size(); ++i) {
        if (!indexes_sound(s[i], want_index)) return false;
      }
      return true;
    }
    default: return true;
  }
}

TEST(StableHash, EqualNumbersHashAlikeWhateverTheirType) {
  EXPECT_EQ(heap::stable_hash_int(1), heap::stable_hash_float(1.0));
  EXPECT_EQ(heap::stable_hash_int(0), heap::stable_hash_float(-0.0));
  EXPECT_EQ(heap::stable_hash_int(-5), heap::stable_hash_big_int(true, std::vector<std::uint8_t>{5}));
  EXPECT_EQ(heap::stable_hash_int(std::numeric_limits<std::int64_t>::min()),
            heap::stable_hash_float(-9223372036854775808.0));
  // 2^63 is past Int64: as a big int and as the float holding it.
  const std::vector<std::uint8_t> two63 = {0, 0, 0, 0, 0, 0, 0, 0x80};
  EXPECT_EQ(heap::stable_hash_big_int(false, two63), heap::stable_hash_float(9223372036854775808.0));
  // 2^100 (a float exactly) and -(2^100).
  std::vector<std::uint8_t> two100(13, 0);
  two100[12] = 0x10;
  EXPECT_EQ(heap::stable_hash_big_int(false, two100), heap::stable_hash_float(std::ldexp(1.0, 100)));
  EXPECT_EQ(heap::stable_hash_big_int(true, two100), heap::stable_hash_float(-std::ldexp(1.0, 100)));
  // Trailing zero bytes do not change the value.
  EXPECT_EQ(heap::stable_hash_big_int(false, std::vector<std::uint8_t>{7, 0, 0}), heap::stable_hash_int(7));
}

TEST(StableHash, DifferentValuesAndTypesHashApart) {
  EXPECT_NE(heap::stable_hash_text("a"), heap::stable_hash_bytes(std::as_bytes(std::span("a", 1))));
  EXPECT_NE(heap::stable_hash_int(1), heap::stable_hash_int(2));
  EXPECT_NE(heap::stable_hash_float(0.5), heap::stable_hash_float(-0.5));
  EXPECT_NE(heap::stable_hash_none(), heap::stable_hash_int(0));
  heap::TupleHasher ab, ba;
  ab.add(heap::stable_hash_text("a"));
  ab.add(heap::stable_hash_text("b"));
  ba.add(heap::stable_hash_text("b"));
  ba.add(heap::stable_hash_text("a"));
  EXPECT_NE(ab.finish(), ba.finish()) << "a tuple's order counts";
  heap::FrozensetHasher s1, s2;
  s1.add(heap::stable_hash_text("a"));
  s1.add(heap::stable_hash_text("b"));
  s2.add(heap::stable_hash_text("b"));
  s2.add(heap::stable_hash_text("a"));
  EXPECT_EQ(s1.finish(), s2.finish()) << "a frozenset's does not";
}

TEST(StableHash, IsTheDocumentedFunction) {
  // fmix64(FNV-1a-64("s" "a")), as schemas/value.capnp defines it: fixed
  // forever, since readers in other processes and versions depend on it.
  std::uint64_t fnv = 0xcbf29ce484222325ULL;
  for (const char c : std::string("sa")) fnv = (fnv ^ static_cast<std::uint8_t>(c)) * 0x100000001b3ULL;
  EXPECT_EQ(heap::stable_hash_text("a"), heap::StableHasher::fmix64(fnv));
  EXPECT_EQ(heap::stable_hash_text("a"), 0xc9249dc50390899cULL) << "the value of the hash changed (computed independently, in Python)";
}

TEST_F(FrozenIndex, EveryIndexedSampleFindsEachKeyAndReadsBackEqual) {
  for (const auto& [name, value] : indexed_samples()) {
    SCOPED_TRACE(name);
    HeldBlock object = freeze_tree(*holder_, value, Freezer::Indexing::hashed);
    FrozenObject frozen(*arena_, object.handle());
    EXPECT_TRUE(thaw(frozen.root()) == value);
    EXPECT_TRUE(indexes_sound(frozen.root(), /*want_index=*/true));
  }
  EXPECT_EQ(used(), baseline_) << "every object and blob was freed";
}

TEST_F(FrozenIndex, WithoutIndexingNoIndexIsWritten) {
  for (const auto& [name, value] : indexed_samples()) {
    SCOPED_TRACE(name);
    HeldBlock object = freeze_tree(*holder_, value);
    FrozenObject frozen(*arena_, object.handle());
    const ValueReader root = frozen.root();
    if (root.kind() == ValueKind::dict) {
      EXPECT_TRUE(root.as_dict().index().empty());
    }
    EXPECT_TRUE(thaw(root) == value);
  }
}

TEST_F(FrozenIndex, KeysWithoutAStableHashAreListedUnhashed) {
  const Tree value = dict({text("a"), pickled(byte_vector("P1"), {}), int64(3), pickled(byte_vector("P2"), {})},
                          {int64(0), int64(1), int64(2), int64(3)});
  HeldBlock object = freeze_tree(*holder_, value, Freezer::Indexing::hashed);
  FrozenObject frozen(*arena_, object.handle());
  const heap::DictReader d = frozen.root().as_dict();
  ASSERT_EQ(d.index().unhashed_count(), 2u);
  EXPECT_EQ(d.index().unhashed(0), 1u);
  EXPECT_EQ(d.index().unhashed(1), 3u);
  // A key's lookup by its stable hash: found at its entry; an absent one is not.
  EXPECT_EQ(d.index().find(heap::stable_hash_int(3), [](std::uint32_t e) { return e == 2; }), 2u);
  EXPECT_EQ(d.index().find(heap::stable_hash_int(4), [](std::uint32_t) { return true; }), std::nullopt);
}

TEST_F(FrozenIndex, AnIndexedObjectIsOneSegment) {
  // A 100,000-entry dict is several MiB: a plain Freezer leaves it in
  // several segments, an indexing one merges them (Freezer::merge_segments).
  std::vector<Tree> keys, values;
  for (int i = 0; i < 100'000; ++i) {
    keys.push_back(text("key-" + std::to_string(i)));
    values.push_back(int64(i));
  }
  const Tree value = dict(std::move(keys), std::move(values));
  auto segments = [&](const HeldBlock& object) {
    std::uint32_t first = 0;
    std::memcpy(&first, FrozenObject(*arena_, object.handle()).body().data(), sizeof first);
    return first + 1;  // the segment table's first word is the count minus one
  };
  HeldBlock plain = freeze_tree(*holder_, value);
  HeldBlock indexed = freeze_tree(*holder_, value, Freezer::Indexing::hashed);
  EXPECT_GT(segments(plain), 1u);
  EXPECT_EQ(segments(indexed), 1u);
  FrozenObject frozen(*arena_, indexed.handle());
  EXPECT_TRUE(thaw(frozen.root()) == value);
  EXPECT_TRUE(indexes_sound(frozen.root(), true));
}

// ----------------------------------------------------- hostile indexes -----

// An object whose root is a dict of `n` int keys 0..n-1 with the given index
// and unhashed lists, written by Cap'n Proto directly.
HeldBlock forge_indexed_dict(Holder& holder, std::uint32_t n, const std::vector<std::uint64_t>& slots,
                             const std::vector<std::uint32_t>& unhashed) {
  capnp::MallocMessageBuilder message;
  auto dict = message.initRoot<schema::Frozen>().initValue().initDict();
  auto keys = dict.initKeys(n);
  auto values = dict.initValues(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    keys[i].setInt64(i);
    values[i].setInt64(i);
  }
  auto index = dict.initIndex(static_cast<unsigned>(slots.size()));
  for (std::size_t i = 0; i < slots.size(); ++i) index.set(static_cast<unsigned>(i), slots[i]);
  auto listed = dict.initUnhashed(static_cast<unsigned>(unhashed.size()));
  for (std::size_t i = 0; i < unhashed.size(); ++i) listed.set(static_cast<unsigned>(i), unhashed[i]);
  return forge(holder, framed(message));
}

std::string dict_error(Arena& arena, Handle h, std::uint64_t lookup) {
  try {
    FrozenObject frozen(arena, h);
    const heap::DictReader d = frozen.root().as_dict();
    d.index().find(lookup, [](std::uint32_t) { return false; });
    for (std::size_t i = 0; i < d.index().unhashed_count(); ++i) d.index().unhashed(i);
  } catch (const CorruptObject& e) {
    return e.what();
  }
  return "(read without error)";
}

TEST_F(FrozenIndex, HostileIndexesAreRefusedOrCostOnePass) {
  const std::uint64_t h = heap::stable_hash_int(0);
  {
    SCOPED_TRACE("a table that is not a power of two");
    HeldBlock o = forge_indexed_dict(*holder_, 2, std::vector<std::uint64_t>(6, 0), {});
    EXPECT_NE(dict_error(*arena_, o.handle(), h).find("not a power of two"), std::string::npos);
  }
  {
    SCOPED_TRACE("a slot naming an entry that does not exist");
    std::vector<std::uint64_t> slots(8, 0);
    slots[h & 7] = heap::hash_slot(h, 5);
    HeldBlock o = forge_indexed_dict(*holder_, 2, slots, {});
    EXPECT_NE(dict_error(*arena_, o.handle(), h).find("names entry 5 of 2"), std::string::npos);
  }
  {
    SCOPED_TRACE("unhashed entries that do not exist, or more of them than entries");
    HeldBlock o = forge_indexed_dict(*holder_, 2, std::vector<std::uint64_t>(8, 0), {9});
    EXPECT_NE(dict_error(*arena_, o.handle(), h).find("names entry 9 of 2"), std::string::npos);
    HeldBlock p = forge_indexed_dict(*holder_, 1, std::vector<std::uint64_t>(8, 0), {0, 0});
    EXPECT_NE(dict_error(*arena_, p.handle(), h).find("2 unhashed entries of 1"), std::string::npos);
  }
  {
    SCOPED_TRACE("a full table of matching slots: one pass, then not found");
    std::vector<std::uint64_t> slots(1 << 16, heap::hash_slot(h, 0));
    HeldBlock o = forge_indexed_dict(*holder_, 1, slots, {});
    FrozenObject frozen(*arena_, o.handle());
    std::size_t calls = 0;
    const auto found = frozen.root().as_dict().index().find(h, [&](std::uint32_t) { return ++calls, false; });
    EXPECT_EQ(found, std::nullopt);
    EXPECT_EQ(calls, slots.size()) << "every slot visited once";
  }
}

// -------------------------------------------------------------- views -----

TEST_F(FrozenIndex, AViewHoldsTheObjectItNamesAndReachesItsPath) {
  // shared = {"a": [10, {"b": 20}], "c": 30}; the view names shared["a"][1]
  const Tree shared = dict({text("a"), text("c")}, {list({int64(10), dict({text("b")}, {int64(20)})}), int64(30)});
  HeldBlock target = freeze_tree(*holder_, shared, Freezer::Indexing::hashed);
  const Handle target_handle = target.handle();
  const std::vector<std::uint32_t> path = {0, 1};
  HeldBlock carrier;
  {
    Freezer freezer(*holder_);
    freezer.root().set_view(target_handle, path);
    carrier = freezer.publish();
  }
  target.reset();  // the carrier's reference keeps it
  FrozenObject frozen(*arena_, carrier.handle());
  const heap::ViewRef view = frozen.root().as_view();
  EXPECT_EQ(view.object, target_handle);
  EXPECT_EQ(view.path, path);
  {
    FrozenObject named(*arena_, view.object, heap::Traversal::unlimited);
    const ValueReader inner = named.at(view.path);
    ASSERT_EQ(inner.kind(), ValueKind::dict);
    EXPECT_EQ(inner.as_dict().value(0).as_int64(), 20);
    EXPECT_EQ(named.at(std::vector<std::uint32_t>{1}).as_int64(), 30);
  }
  carrier.reset();
  EXPECT_EQ(used(), baseline_) << "the carrier's reference was the last: both objects freed";
}

TEST_F(FrozenIndex, APathOutOfRangeOrIntoALeafIsCorrupt) {
  HeldBlock target = freeze_tree(*holder_, list({int64(1), dict({text("k")}, {int64(2)})}));
  FrozenObject frozen(*arena_, target.handle());
  auto error = [&](std::vector<std::uint32_t> path) {
    try {
      frozen.at(path);
    } catch (const CorruptObject& e) {
      return std::string(e.what());
    }
    return std::string("(read without error)");
  };
  EXPECT_NE(error({2}).find("element 2 of a sequence of 2"), std::string::npos);
  EXPECT_NE(error({1, 1}).find("entry 1 of a dict of 1"), std::string::npos);
  EXPECT_NE(error({0, 0}).find("steps into a int64"), std::string::npos);
}

TEST_F(FrozenIndex, AViewCanOnlyNameAnObject) {
  HeldBlock blob = holder_->allocate(64, layout::BlockKind::blob);
  Freezer freezer(*holder_);
  EXPECT_THROW(freezer.root().set_view(blob.handle(), {}), InvalidArgument);
}

}  // namespace
}  // namespace shoal::testing
