// test_heap_tree.hpp — a plain C++ value tree for the heap's tests: build
// one, freeze it (freeze_tree), read an object back into one (thaw), and
// compare (==, with floats compared bit for bit and arrays by their
// elements). Used by the GoogleTest suite, the sample writer for the
// pycapnp test, and the fuzzer (thaw walks every part of a value).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "shoal/heap.hpp"

namespace shoal::testing {

using heap::ValueKind;

struct Tree {
  ValueKind kind = ValueKind::none;
  bool boolean = false;
  std::int64_t int64 = 0;
  double float64 = 0;
  bool negative = false;                  // big_int
  std::vector<std::uint8_t> magnitude;    // big_int, little-endian
  std::string text;                       // text; dtype of an ndarray
  std::vector<std::byte> bytes;           // bytes, blob, pickle payload, ndarray buffer
  std::vector<Tree> items;                // sequences; dict keys; pickle buffers (as bytes trees)
  std::vector<Tree> values;               // dict values
  std::vector<std::uint64_t> shape;       // ndarray
  std::vector<std::int64_t> strides;      // ndarray
  std::uint64_t origin = 0;               // ndarray: element [0, ...] in `bytes`
};

// ---------------------------------------------------------------- builders

inline Tree none() { return Tree{}; }
inline Tree boolean(bool b) { Tree t; t.kind = ValueKind::boolean; t.boolean = b; return t; }
inline Tree int64(std::int64_t i) { Tree t; t.kind = ValueKind::int64; t.int64 = i; return t; }
inline Tree float64(double f) { Tree t; t.kind = ValueKind::float64; t.float64 = f; return t; }
inline Tree text(std::string s) { Tree t; t.kind = ValueKind::text; t.text = std::move(s); return t; }
inline std::vector<std::byte> byte_vector(std::string_view s) {
  const auto b = std::as_bytes(std::span(s));
  return {b.begin(), b.end()};
}
inline Tree bytes(std::vector<std::byte> b) { Tree t; t.kind = ValueKind::bytes; t.bytes = std::move(b); return t; }
inline Tree blob(std::vector<std::byte> b) { Tree t; t.kind = ValueKind::blob; t.bytes = std::move(b); return t; }
inline Tree big_int(bool negative, std::vector<std::uint8_t> magnitude) {
  Tree t;
  t.kind = ValueKind::big_int;
  t.negative = negative;
  t.magnitude = std::move(magnitude);
  return t;
}
inline Tree sequence(ValueKind kind, std::vector<Tree> items) {
  Tree t;
  t.kind = kind;
  t.items = std::move(items);
  return t;
}
inline Tree list(std::vector<Tree> items) { return sequence(ValueKind::list, std::move(items)); }
inline Tree dict(std::vector<Tree> keys, std::vector<Tree> values) {
  Tree t;
  t.kind = ValueKind::dict;
  t.items = std::move(keys);
  t.values = std::move(values);
  return t;
}
inline Tree ndarray(std::string dtype, std::vector<std::uint64_t> shape, std::vector<std::int64_t> strides,
                    std::vector<std::byte> buffer, std::uint64_t origin = 0) {
  Tree t;
  t.kind = ValueKind::ndarray;
  t.text = std::move(dtype);
  t.shape = std::move(shape);
  t.strides = std::move(strides);
  t.bytes = std::move(buffer);
  t.origin = origin;
  return t;
}
inline Tree pickled(std::vector<std::byte> payload, std::vector<std::vector<std::byte>> buffers) {
  Tree t;
  t.kind = ValueKind::pickled;
  t.bytes = std::move(payload);
  for (auto& b : buffers) t.items.push_back(blob(std::move(b)));
  return t;
}

// Little-endian bytes of doubles, for array buffers.
inline std::vector<std::byte> doubles(const std::vector<double>& values) {
  std::vector<std::byte> out(values.size() * sizeof(double));
  if (!values.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

// ------------------------------------------------------------- freezing

inline void freeze_into(heap::Freezer& freezer, heap::ValueWriter w, const Tree& t) {
  switch (t.kind) {
    case ValueKind::none: w.set_none(); return;
    case ValueKind::boolean: w.set_bool(t.boolean); return;
    case ValueKind::int64: w.set_int(t.int64); return;
    case ValueKind::big_int: w.set_big_int(t.negative, t.magnitude); return;
    case ValueKind::float64: w.set_float(t.float64); return;
    case ValueKind::text: w.set_text(t.text); return;
    case ValueKind::bytes: w.set_bytes(t.bytes); return;
    case ValueKind::list:
    case ValueKind::tuple:
    case ValueKind::set:
    case ValueKind::frozenset: {
      heap::SequenceWriter s = t.kind == ValueKind::list    ? w.set_list(t.items.size())
                               : t.kind == ValueKind::tuple ? w.set_tuple(t.items.size())
                               : t.kind == ValueKind::set   ? w.set_set(t.items.size())
                                                            : w.set_frozenset(t.items.size());
      for (std::size_t i = 0; i < t.items.size(); ++i) freeze_into(freezer, s[i], t.items[i]);
      return;
    }
    case ValueKind::dict: {
      heap::DictWriter d = w.set_dict(t.items.size());
      for (std::size_t i = 0; i < t.items.size(); ++i) {
        freeze_into(freezer, d.key(i), t.items[i]);
        freeze_into(freezer, d.value(i), t.values[i]);
      }
      return;
    }
    case ValueKind::ndarray: {
      const heap::BlobSlice data = freezer.copy_to_blob(t.bytes);
      w.set_ndarray({t.text, t.shape, t.strides}, data, t.origin);
      return;
    }
    case ValueKind::blob: w.set_blob(freezer.copy_to_blob(t.bytes)); return;
    case ValueKind::pickled: {
      std::vector<heap::BlobSlice> buffers;
      for (const Tree& b : t.items) buffers.push_back(freezer.copy_to_blob(b.bytes));
      w.set_pickled(t.bytes, buffers);
      return;
    }
    case ValueKind::channel: break;  // channels are tested with real blocks, not trees
    case ValueKind::view: break;     // views too (test_frozen_index.cpp)
  }
  throw InvalidArgument("freeze_into: kind not supported by the test tree");
}

inline HeldBlock freeze_tree(Holder& holder, const Tree& t,
                             heap::Freezer::Indexing indexing = heap::Freezer::Indexing::none) {
  heap::Freezer freezer(holder, indexing);
  freeze_into(freezer, freezer.root(), t);
  return freezer.publish();
}

// -------------------------------------------------------------- thawing

inline std::vector<std::byte> copy_bytes(std::span<const std::byte> b) { return {b.begin(), b.end()}; }

// Reads every part of a value (recursing no deeper than kMaxDepth: the
// reader refuses deeper containers before we get there).
// True if a container's hash index finds each of its keys (or items) at
// its own position: keys with a stable hash through the index, the others
// among the unhashed entries. True for a container without an index.
// Called by thaw() too, result unused, so that the fuzzer reads every
// index it meets.
template <typename KeyAt>
bool index_finds_each(const heap::HashIndexReader& index, std::size_t count, KeyAt&& key_at) {
  if (index.empty()) return true;
  bool all = true;
  std::size_t unhashed = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const std::optional<std::uint64_t> h = key_at(i).stable_hash();
    if (!h) {
      all = all && unhashed < index.unhashed_count() && index.unhashed(unhashed) == i;
      ++unhashed;
      continue;
    }
    const auto found = index.find(*h, [&](std::uint32_t entry) { return entry == i; });
    all = all && found == i;
  }
  return all && unhashed == index.unhashed_count();
}

inline Tree thaw(const heap::ValueReader& r) {
  Tree t;
  t.kind = r.kind();
  switch (t.kind) {
    case ValueKind::none: break;
    case ValueKind::boolean: t.boolean = r.as_bool(); break;
    case ValueKind::int64: t.int64 = r.as_int64(); break;
    case ValueKind::big_int: {
      const heap::BigIntView big = r.as_big_int();
      t.negative = big.negative;
      t.magnitude.assign(big.magnitude.begin(), big.magnitude.end());
      break;
    }
    case ValueKind::float64: t.float64 = r.as_float64(); break;
    case ValueKind::text: t.text = std::string(r.as_text()); break;
    case ValueKind::bytes: t.bytes = copy_bytes(r.as_bytes()); break;
    case ValueKind::list:
    case ValueKind::tuple:
    case ValueKind::set:
    case ValueKind::frozenset: {
      const heap::SequenceReader s = r.as_sequence();
      for (std::size_t i = 0; i < s.size(); ++i) t.items.push_back(thaw(s[i]));
      index_finds_each(s.index(), s.size(), [&](std::size_t i) { return s[i]; });
      break;
    }
    case ValueKind::dict: {
      const heap::DictReader d = r.as_dict();
      for (std::size_t i = 0; i < d.size(); ++i) {
        t.items.push_back(thaw(d.key(i)));
        t.values.push_back(thaw(d.value(i)));
      }
      index_finds_each(d.index(), d.size(), [&](std::size_t i) { return d.key(i); });
      break;
    }
    case ValueKind::ndarray: {
      const heap::ArrayView a = r.as_ndarray();
      t.text = std::string(a.dtype);
      t.shape = a.shape;
      t.strides = a.strides;
      t.bytes = copy_bytes(a.blob.bytes);
      t.origin = a.offset;
      break;
    }
    case ValueKind::blob: t.bytes = copy_bytes(r.as_blob().bytes); break;
    case ValueKind::pickled: {
      const heap::PickledView p = r.as_pickled();
      t.bytes = copy_bytes(p.payload);
      for (const heap::BlobView& b : p.buffers) t.items.push_back(blob(copy_bytes(b.bytes)));
      break;
    }
    case ValueKind::channel: t.int64 = static_cast<std::int64_t>(r.as_channel().offset); break;
    case ValueKind::view: t.int64 = static_cast<std::int64_t>(r.as_view().object.offset); break;
  }
  return t;
}

// ------------------------------------------------------------ comparing

// The elements of an array in C order, gathered through its strides.
inline std::vector<std::byte> elements(const Tree& a) {
  const std::uint64_t itemsize = heap::dtype_itemsize(a.text).value_or(0);
  std::vector<std::byte> out;
  for (std::uint64_t n : a.shape) {
    if (n == 0) return out;
  }
  std::vector<std::uint64_t> index(a.shape.size(), 0);
  while (true) {
    std::int64_t at = static_cast<std::int64_t>(a.origin);
    for (std::size_t d = 0; d < index.size(); ++d) at += static_cast<std::int64_t>(index[d]) * a.strides[d];
    const auto* p = a.bytes.data() + at;
    out.insert(out.end(), p, p + itemsize);
    std::size_t d = index.size();
    while (d > 0 && ++index[d - 1] == a.shape[d - 1]) index[--d] = 0;
    if (d == 0) return out;
  }
}

inline bool operator==(const Tree& a, const Tree& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case ValueKind::none: return true;
    case ValueKind::boolean: return a.boolean == b.boolean;
    case ValueKind::int64:
    case ValueKind::channel:
    case ValueKind::view: return a.int64 == b.int64;
    case ValueKind::big_int: return a.negative == b.negative && a.magnitude == b.magnitude;
    case ValueKind::float64: return std::bit_cast<std::uint64_t>(a.float64) == std::bit_cast<std::uint64_t>(b.float64);
    case ValueKind::text: return a.text == b.text;
    case ValueKind::bytes:
    case ValueKind::blob: return a.bytes == b.bytes;
    case ValueKind::list:
    case ValueKind::tuple:
    case ValueKind::set:
    case ValueKind::frozenset: return a.items == b.items;
    case ValueKind::dict: return a.items == b.items && a.values == b.values;
    case ValueKind::ndarray:
      return a.text == b.text && a.shape == b.shape && a.strides == b.strides && elements(a) == elements(b);
    case ValueKind::pickled: return a.bytes == b.bytes && a.items == b.items;
  }
  return false;
}

// A short description for failure messages.
inline std::string describe(const Tree& t) {
  std::string s = heap::to_string(t.kind);
  if (!t.items.empty()) s += "[" + std::to_string(t.items.size()) + "]";
  if (t.kind == ValueKind::text) s += " '" + t.text.substr(0, 40) + "'";
  if (t.kind == ValueKind::int64) s += " " + std::to_string(t.int64);
  return s;
}

}  // namespace shoal::testing
