// frozen.hpp — reading a frozen object in place.
//
//   FrozenObject object(arena, handle);        // the caller holds `handle`
//   ValueReader value = object.root();
//   if (value.kind() == ValueKind::dict) {
//     DictReader dict = value.as_dict();
//     for (std::size_t i = 0; i < dict.size(); ++i) use(dict.key(i), dict.value(i));
//   }
//
// Nothing is copied: the message is read where it lies in shared memory
// (a Cap'n Proto FlatArrayMessageReader over the object's body), text and
// bytes come back as views into it, arrays and blobs as views into their
// blob blocks.
//
// Nothing read is trusted. Cap'n Proto bounds-checks every pointer of the
// message; its traversal limit is sized to the message itself
// (kTraversalFactor x its words), its nesting limit to what kMaxDepth
// containers need, and as_sequence()/as_dict() refuse to go deeper than
// kMaxDepth. On top of that, every accessor checks what Cap'n Proto
// cannot: a child index is inside the child table, names a live block of
// the right kind, and the range it names is inside that block; text is
// UTF-8; a dtype is one NumPy has; an array's every element lies inside its
// blob; a dict has as many values as keys; a big int is in canonical form. Any failure raises
// CorruptObject (never a crash, a hang or a read out of bounds); every
// Cap'n Proto exception is turned into one at this boundary.
//
// Calling an accessor of another kind (as_text() on a list) is a caller's
// mistake, not corruption: it raises InvalidArgument.
//
// Lifetimes: views (string_view, spans, readers) point into the arena and
// stay valid while the FrozenObject lives and the caller holds the object.
// The object holds its children, so blob views live as long too; to keep a
// blob longer, take a reference on its handle (Holder::retain).
// A FrozenObject is used by one thread at a time.
#pragma once

#include <capnp/serialize.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shoal/arena.hpp"
#include "shoal/frozen_hash.hpp"
#include "shoal/handle.hpp"
#include "shoal/heap_format.hpp"
#include "shoal/layout.hpp"
#include "value.capnp.h"

namespace shoal::heap {

class FrozenObject;
class SequenceReader;
class DictReader;
class HashIndexReader;

// Bytes of a child blob: its handle (to retain it) and the bytes named.
struct BlobView {
  Handle block;
  std::span<const std::byte> bytes;
};

struct BigIntView {
  bool negative = false;
  std::span<const std::uint8_t> magnitude;  // little-endian, no trailing zero byte, never empty
};

struct ArrayView {
  std::string_view dtype;
  std::uint64_t itemsize = 0;
  std::vector<std::uint64_t> shape;
  std::vector<std::int64_t> strides;  // bytes
  BlobView blob;                      // the whole blob the array lives in
  std::uint64_t offset = 0;           // of element [0, 0, ...] in blob.bytes
  const std::byte* data() const { return blob.bytes.data() + offset; }
};

// A value of another frozen object (ValueKind::view): that object, which
// this one holds, and the path to the value from its root (value.capnp's
// FrozenView).
struct ViewRef {
  Handle object;
  std::vector<std::uint32_t> path;
};

struct PickledView {
  std::span<const std::byte> payload;
  std::vector<BlobView> buffers;  // out-of-band buffers, in order
  std::vector<Handle> channels;   // channels named by persistent id, in order
};

class ValueReader {
 public:
  // CorruptObject for a union member this build does not know (an object
  // written by a newer shoal).
  ValueKind kind() const;

  bool as_bool() const;
  std::int64_t as_int64() const;
  BigIntView as_big_int() const;
  double as_float64() const;
  std::string_view as_text() const;           // inline or in a blob
  std::span<const std::byte> as_bytes() const;  // inline or in a blob
  // Containers: CorruptObject if this value is already kMaxDepth
  // containers deep (its elements would be nested too deeply).
  SequenceReader as_sequence() const;         // list, tuple, set or frozenset
  DictReader as_dict() const;
  ArrayView as_ndarray() const;
  BlobView as_blob() const;
  PickledView as_pickled() const;
  Handle as_channel() const;
  ViewRef as_view() const;

  // The value's stable hash (frozen_hash.hpp), or nothing for a value
  // without one (a pickled object, an array, a list...).
  std::optional<std::uint64_t> stable_hash() const;

  std::uint32_t depth() const { return depth_; }

 private:
  friend class FrozenObject;
  friend class SequenceReader;
  friend class DictReader;
  ValueReader(const FrozenObject& object, schema::Value::Reader reader, std::uint32_t depth)
      : object_(&object), reader_(reader), depth_(depth) {}
  schema::Value::Which which() const;
  void expect(ValueKind wanted, ValueKind actual) const;
  SequenceReader as_indexed_set(schema::Value::Which which) const;

  const FrozenObject* object_;
  schema::Value::Reader reader_;
  std::uint32_t depth_;  // containers around this value
};

// The hash index of a dict or set (value.capnp, "The hash index"), checked
// when it was opened: a power-of-two table. Empty when the container has
// none (it was not made by shoal.freeze()): a reader then scans.
class HashIndexReader {
 public:
  HashIndexReader() = default;
  bool empty() const { return slots_.size() == 0; }

  // The first entry in probe order whose slot matches `hash` and for which
  // `match(entry)` is true. Every slot is visited at most once, and every
  // entry a slot names is checked to exist (CorruptObject if not), so a
  // hostile table costs one pass and reads nothing out of bounds.
  template <typename Match>
  std::optional<std::uint32_t> find(std::uint64_t hash, Match&& match) const {
    const std::uint64_t mask = slots_.size() - 1;
    std::uint64_t at = hash & mask;
    for (std::uint64_t visited = 0; visited <= mask; ++visited, at = (at + 1) & mask) {
      const std::uint64_t slot = slots_[static_cast<unsigned>(at)];
      if (slot == 0) return std::nullopt;
      if ((slot ^ hash) & ~kSlotEntryMask) continue;  // upper halves differ
      const std::uint64_t entry = (slot & kSlotEntryMask) - 1;
      if (entry >= entries_) throw_bad_entry(entry);
      if (match(static_cast<std::uint32_t>(entry))) return static_cast<std::uint32_t>(entry);
    }
    return std::nullopt;
  }

  // The entries whose key has no stable hash (checked to exist).
  std::size_t unhashed_count() const { return unhashed_.size(); }
  std::uint32_t unhashed(std::size_t i) const;

 private:
  friend class ValueReader;
  HashIndexReader(const FrozenObject& object, capnp::List<std::uint64_t>::Reader slots,
                  capnp::List<std::uint32_t>::Reader unhashed, std::uint64_t entries);
  [[noreturn]] void throw_bad_entry(std::uint64_t entry) const;

  const FrozenObject* object_ = nullptr;
  capnp::List<std::uint64_t>::Reader slots_;
  capnp::List<std::uint32_t>::Reader unhashed_;
  std::uint64_t entries_ = 0;
};

class SequenceReader {
 public:
  std::size_t size() const { return list_.size(); }
  ValueReader operator[](std::size_t index) const;  // throws InvalidArgument out of range
  // A set's index; empty for other sequences.
  const HashIndexReader& index() const { return index_; }

 private:
  friend class ValueReader;
  SequenceReader(const FrozenObject& object, capnp::List<schema::Value>::Reader list, std::uint32_t depth,
                 HashIndexReader index = {})
      : object_(&object), list_(list), depth_(depth), index_(index) {}
  const FrozenObject* object_;
  capnp::List<schema::Value>::Reader list_;
  std::uint32_t depth_;  // of the elements
  HashIndexReader index_;
};

class DictReader {
 public:
  std::size_t size() const { return keys_.size(); }
  ValueReader key(std::size_t index) const;  // throws InvalidArgument out of range
  ValueReader value(std::size_t index) const;
  const HashIndexReader& index() const { return index_; }

 private:
  friend class ValueReader;
  DictReader(const FrozenObject& object, capnp::List<schema::Value>::Reader keys,
             capnp::List<schema::Value>::Reader values, std::uint32_t depth, HashIndexReader index)
      : object_(&object), keys_(keys), values_(values), depth_(depth), index_(index) {}
  const FrozenObject* object_;
  capnp::List<schema::Value>::Reader keys_;
  capnp::List<schema::Value>::Reader values_;
  std::uint32_t depth_;  // of the keys and values
  HashIndexReader index_;
};

// How much a FrozenObject lets Cap'n Proto read in all before it refuses.
enum class Traversal {
  // kTraversalFactor x the message: reading the whole value (thawing it)
  // stays linear in its size even when pointers alias (heap_format.hpp).
  message_sized,
  // No limit: for a long-lived view that reads a little at a time, as
  // often as its user asks. Whoever reads a whole value through it bounds
  // that work itself (the extension counts the values it builds).
  unlimited,
};

class FrozenObject {
 public:
  // Opens object `h` of `arena` for reading. The caller holds a reference
  // on it for as long as this object and its views are used. Throws
  // InvalidHandle (no live object block), CorruptObject (a body that is
  // not a readable message).
  FrozenObject(Arena& arena, Handle h, Traversal traversal = Traversal::message_sized);
  FrozenObject(const FrozenObject&) = delete;
  FrozenObject& operator=(const FrozenObject&) = delete;

  ValueReader root() const;
  // The value at `path` from the root (a FrozenView's path: one step per
  // list or tuple element, or dict entry's value). CorruptObject for a step
  // out of range or into anything else.
  ValueReader at(std::span<const std::uint32_t> path) const;
  // Words of the message (a bound on the values a reader can meet in it
  // without aliasing).
  std::uint64_t message_words() const { return body_.size() / sizeof(capnp::word); }

  Handle handle() const { return handle_; }
  std::span<const Handle> children() const { return children_; }
  std::span<const std::byte> body() const { return body_; }

  // Child `index`, checked: inside the table, a live block of kind `kind`;
  // and the range [offset, offset + length) inside its payload.
  BlobView child(std::uint32_t index, layout::BlockKind kind) const;
  BlobView child_range(std::uint32_t index, std::uint64_t offset, std::uint64_t length) const;

  // A CorruptObject naming this object and `what` was found.
  CorruptObject corrupt(const std::string& what) const;

 private:
  struct Resolved {
    bool done = false;
    layout::BlockKind kind = layout::BlockKind::none;
    std::span<const std::byte> payload;
  };
  void open_message(Traversal traversal);

  Arena* arena_;
  Handle handle_;
  std::span<const std::byte> body_;
  std::vector<Handle> children_;
  mutable std::vector<Resolved> resolved_;  // children looked up so far
  // Cap'n Proto sets up its reader state on first use, even to read.
  mutable std::optional<capnp::FlatArrayMessageReader> message_;
};

}  // namespace shoal::heap
