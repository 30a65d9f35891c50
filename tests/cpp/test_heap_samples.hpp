// test_heap_samples.hpp — named sample values covering every kind a test
// tree can freeze. The round-trip tests freeze and read each; the sample
// writer (test_heap_sample_writer.cpp) writes their frozen bodies to files
// for the pycapnp test (tests/python/test_pycapnp_reader.py, which states
// the same values independently, in Python) and for the fuzzer's seed
// corpus. Change a sample here and there together.
#pragma once

#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "test_heap_tree.hpp"

namespace shoal::testing {

// Bytes i % 251 for i in [0, n): a pattern with no period a power of two.
inline std::vector<std::byte> pattern(std::size_t n) {
  std::vector<std::byte> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>(i % 251);
  return out;
}

inline std::vector<std::byte> int32s(const std::vector<std::int32_t>& values) {
  std::vector<std::byte> out(values.size() * 4);
  if (!values.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

inline Tree nested_lists(int depth, Tree leaf) {
  Tree t = std::move(leaf);
  for (int i = 0; i < depth; ++i) t = list({std::move(t)});
  return t;
}

inline std::vector<std::pair<std::string, Tree>> samples() {
  std::vector<std::pair<std::string, Tree>> s;
  s.emplace_back("none", none());
  s.emplace_back("scalars", list({boolean(true), boolean(false), int64(0), int64(1), int64(-1),
                                  int64(std::numeric_limits<std::int64_t>::max()),
                                  int64(std::numeric_limits<std::int64_t>::min()), float64(1.5)}));
  // 2**64, -(2**63 + 1), 2**1000 - 1, -(2**1000 - 1)
  s.emplace_back("big_ints", list({big_int(false, {0, 0, 0, 0, 0, 0, 0, 0, 1}),
                                   big_int(true, {1, 0, 0, 0, 0, 0, 0, 0x80}),
                                   big_int(false, std::vector<std::uint8_t>(125, 0xFF)),
                                   big_int(true, std::vector<std::uint8_t>(125, 0xFF))}));
  s.emplace_back("floats", list({float64(std::numeric_limits<double>::quiet_NaN()),
                                 float64(std::numeric_limits<double>::infinity()),
                                 float64(-std::numeric_limits<double>::infinity()), float64(-0.0), float64(0.0),
                                 float64(5e-324), float64(1.7976931348623157e308), float64(0.1)}));
  s.emplace_back("texts", list({text(""), text("hello"), text("h\xC3\xA9llo w\xC3\xB6rld"),
                                text("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"), text("\xF0\x9F\x90\x9F shoal")}));
  std::string fish;
  for (int i = 0; i < 2000; ++i) fish += "\xF0\x9F\x90\x9F";  // 8000 bytes: stored in a blob
  s.emplace_back("big_text", text(fish));
  s.emplace_back("bytes", list({bytes({}), bytes({std::byte{0}, std::byte{0xFF}}), bytes(pattern(heap::kInlineMax)),
                                bytes(pattern(heap::kInlineMax + 1))}));
  s.emplace_back("containers",
                 dict({text("list"), text("tuple"), text("set"), text("frozenset"), text("empty_list"),
                       text("empty_dict"), int64(1), sequence(ValueKind::tuple, {int64(1), int64(2)}), none()},
                      {list({int64(1), text("two"), float64(3.0)}), sequence(ValueKind::tuple, {int64(1), int64(2)}),
                       sequence(ValueKind::set, {int64(1), int64(2), int64(3)}),
                       sequence(ValueKind::frozenset, {text("a")}), list({}), dict({}, {}), text("one"),
                       text("pair"), text("none")}));
  // numpy.arange(6.0).reshape(2, 3)
  s.emplace_back("ndarray", ndarray("<f8", {2, 3}, {24, 8}, doubles({0, 1, 2, 3, 4, 5})));
  // numpy.arange(16, dtype="<i4").reshape(4, 4)[::2, ::-1]: non-contiguous,
  // a negative stride; element [0, 0] is the buffer's element 3.
  std::vector<std::int32_t> sixteen(16);
  for (int i = 0; i < 16; ++i) sixteen[static_cast<std::size_t>(i)] = i;
  s.emplace_back("ndarray_strided", ndarray("<i4", {2, 4}, {32, -4}, int32s(sixteen), 12));
  s.emplace_back("ndarray_empty", ndarray("<f8", {0, 3}, {24, 8}, {}));
  s.emplace_back("ndarray_scalar", ndarray("<i8", {}, {}, int32s({42, 0})));  // numpy.array(42, dtype="<i8")
  s.emplace_back("blob", blob(pattern(10000)));
  s.emplace_back("pickled", pickled(byte_vector("PICKLE-PAYLOAD"), {byte_vector("first buffer"), pattern(5000)}));
  s.emplace_back("deep", nested_lists(100, int64(7)));
  std::vector<Tree> keys;
  std::vector<Tree> values;
  for (int i = 0; i < 1000; ++i) {
    keys.push_back(text("key" + std::to_string(i)));
    values.push_back(int64(i));
  }
  s.emplace_back("big_dict", dict(std::move(keys), std::move(values)));
  return s;
}

// Samples frozen with a hash index (what shoal.freeze() writes), named
// "indexed_*": every sample with a dict or set, and keys of every kind the
// stable hash knows (equal numbers of different types, big ints, floats,
// text and bytes inline and in blobs, tuples, frozensets) beside keys it
// does not (a pickled object: an unhashed entry).
inline std::vector<std::pair<std::string, Tree>> indexed_samples() {
  std::vector<std::pair<std::string, Tree>> s;
  for (auto& [name, value] : samples()) {
    if (name == "containers" || name == "big_dict") s.emplace_back("indexed_" + name, std::move(value));
  }
  std::string long_key(heap::kInlineMax + 10, 'k');
  std::vector<Tree> keys = {
      none(), boolean(true), int64(-7), float64(2.5), float64(1e300), float64(-0.5),
      big_int(false, {0, 0, 0, 0, 0, 0, 0, 0, 1}), text("text"), text(long_key), bytes(byte_vector("text")),
      bytes(pattern(heap::kInlineMax + 1)), sequence(ValueKind::tuple, {int64(1), text("a")}),
      sequence(ValueKind::frozenset, {int64(3), int64(4)}), pickled(byte_vector("PICKLED-KEY"), {})};
  std::vector<Tree> values;
  for (std::size_t i = 0; i < keys.size(); ++i) values.push_back(int64(static_cast<std::int64_t>(i)));
  s.emplace_back("indexed_key_kinds", dict(keys, std::move(values)));
  s.emplace_back("indexed_sets", list({sequence(ValueKind::set, keys), sequence(ValueKind::frozenset, {text("x")}),
                                       sequence(ValueKind::set, {})}));
  return s;
}

// Every sample, with the indexing it is frozen with.
struct Sample {
  std::string name;
  Tree value;
  heap::Freezer::Indexing indexing;
};
inline std::vector<Sample> all_samples() {
  std::vector<Sample> all;
  for (auto& [name, value] : samples()) all.push_back({name, std::move(value), heap::Freezer::Indexing::none});
  for (auto& [name, value] : indexed_samples()) all.push_back({name, std::move(value), heap::Freezer::Indexing::hashed});
  return all;
}

}  // namespace shoal::testing
