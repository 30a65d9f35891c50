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
#include "shoal/handle.hpp"
#include "shoal/heap_format.hpp"
#include "shoal/layout.hpp"
#include "value.capnp.h"

namespace shoal::heap {

class FrozenObject;
class SequenceReader;
class DictReader;

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

  std::uint32_t depth() const { return depth_; }

 private:
  friend class FrozenObject;
  friend class SequenceReader;
  friend class DictReader;
  ValueReader(const FrozenObject& object, schema::Value::Reader reader, std::uint32_t depth)
      : object_(&object), reader_(reader), depth_(depth) {}
  schema::Value::Which which() const;
  void expect(ValueKind wanted, ValueKind actual) const;

  const FrozenObject* object_;
  schema::Value::Reader reader_;
  std::uint32_t depth_;  // containers around this value
};

class SequenceReader {
 public:
  std::size_t size() const { return list_.size(); }
  ValueReader operator[](std::size_t index) const;  // throws InvalidArgument out of range

 private:
  friend class ValueReader;
  SequenceReader(const FrozenObject& object, capnp::List<schema::Value>::Reader list, std::uint32_t depth)
      : object_(&object), list_(list), depth_(depth) {}
  const FrozenObject* object_;
  capnp::List<schema::Value>::Reader list_;
  std::uint32_t depth_;  // of the elements
};

class DictReader {
 public:
  std::size_t size() const { return keys_.size(); }
  ValueReader key(std::size_t index) const;  // throws InvalidArgument out of range
  ValueReader value(std::size_t index) const;

 private:
  friend class ValueReader;
  DictReader(const FrozenObject& object, capnp::List<schema::Value>::Reader keys,
             capnp::List<schema::Value>::Reader values, std::uint32_t depth)
      : object_(&object), keys_(keys), values_(values), depth_(depth) {}
  const FrozenObject* object_;
  capnp::List<schema::Value>::Reader keys_;
  capnp::List<schema::Value>::Reader values_;
  std::uint32_t depth_;  // of the keys and values
};

class FrozenObject {
 public:
  // Opens object `h` of `arena` for reading. The caller holds a reference
  // on it for as long as this object and its views are used. Throws
  // InvalidHandle (no live object block), CorruptObject (a body that is
  // not a readable message).
  FrozenObject(Arena& arena, Handle h);
  FrozenObject(const FrozenObject&) = delete;
  FrozenObject& operator=(const FrozenObject&) = delete;

  ValueReader root() const;

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
  void open_message();

  Arena* arena_;
  Handle handle_;
  std::span<const std::byte> body_;
  std::vector<Handle> children_;
  mutable std::vector<Resolved> resolved_;  // children looked up so far
  // Cap'n Proto sets up its reader state on first use, even to read.
  mutable std::optional<capnp::FlatArrayMessageReader> message_;
};

}  // namespace shoal::heap
