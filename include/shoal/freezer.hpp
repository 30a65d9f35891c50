// freezer.hpp — building a frozen object.
//
//   Freezer freezer(holder);
//   DictWriter dict = freezer.root().set_dict(2);
//   dict.key(0).set_text("name");
//   dict.value(0).set_text("shoal");
//   dict.key(1).set_text("data");
//   dict.value(1).set_bytes(payload);            // > 4 KiB: copied once, into a blob
//   HeldBlock object = freezer.publish();        // the caller's reference to the object
//
// The message is built in process memory (a Cap'n Proto
// MallocMessageBuilder) and copied once into the object block at publish().
// Buffers larger than kInlineMax are copied once into blob blocks when they
// are added; a buffer already in the arena is referenced, never copied
// (Freezer::reference). The published object holds one reference on each
// child block, released when the object is freed.
//
// Everything a writer is given is checked before it is written (UTF-8,
// dtypes, array extents inside their blob, nesting depth, sizes), so a
// published object is always readable; a bad argument raises
// InvalidArgument and publishes nothing.
//
// Ownership: a Freezer holds a reference on every child until publish()
// (or until it is destroyed, if it never publishes: then every blob it made
// is freed), except a borrowed one (Freezer::borrow), which the caller must
// hold until publish() returns; publish() checks every child under the
// arena lock, so a borrowed blob let go of before publish() fails it
// instead of being used. Writers (ValueWriter, SequenceWriter, DictWriter) are views
// into the Freezer's message, valid while the Freezer lives and until
// publish(). A Freezer is used by one thread at a time.
#pragma once

#include <capnp/message.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "shoal/heap_format.hpp"
#include "shoal/holder.hpp"
#include "shoal/layout.hpp"
#include "value.capnp.h"

namespace shoal::heap {

class Freezer;

// A byte range of one of the object's children: bytes [offset, offset +
// length) of the payload of child `child`.
struct BlobSlice {
  std::uint32_t child = 0;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

// An array's shape as NumPy describes it; see NdArray in value.capnp.
struct ArrayLayout {
  std::string_view dtype;                  // "<f8", "|u1", "<U3", ...
  std::span<const std::uint64_t> shape;
  std::span<const std::int64_t> strides;   // in bytes, one per dimension
};

class SequenceWriter;
class DictWriter;

// Fills one Value of the message. Set it exactly once (setting it again
// replaces the union member, but orphans what the first one wrote).
class ValueWriter {
 public:
  void set_none();
  void set_bool(bool value);
  void set_int(std::int64_t value);
  // An integer of any size: sign and little-endian magnitude (leading zero
  // bytes allowed). Stored as int64 when it fits.
  void set_big_int(bool negative, std::span<const std::uint8_t> magnitude);
  void set_float(double value);
  // UTF-8 (checked). Inline up to kInlineMax bytes, else copied into a blob.
  void set_text(std::string_view utf8);
  // Inline up to kInlineMax bytes, else copied into a blob.
  void set_bytes(std::span<const std::byte> bytes);
  // Containers of `size` values, each to be filled through the writer returned.
  SequenceWriter set_list(std::size_t size);
  SequenceWriter set_tuple(std::size_t size);
  SequenceWriter set_set(std::size_t size);
  SequenceWriter set_frozenset(std::size_t size);
  DictWriter set_dict(std::size_t size);
  // An array whose bytes lie in `data` (from Freezer::copy_to_blob or
  // Freezer::reference), its element [0, 0, ...] `origin` bytes into it.
  // Every element must lie inside `data`.
  void set_ndarray(const ArrayLayout& layout, const BlobSlice& data, std::uint64_t origin = 0);
  // A raw buffer: the bytes of `data`, read back as a zero-copy view.
  void set_blob(const BlobSlice& data);
  // A protocol-5 pickle, its out-of-band buffers and the channels its
  // persistent ids name (handles of channels the caller holds; the object
  // will hold a reference on each). The payload is inline up to kInlineMax
  // bytes, else copied into a blob.
  void set_pickled(std::span<const std::byte> payload, std::span<const BlobSlice> buffers,
                   std::span<const Handle> channels = {});
  // A channel (Channel::handle() of a channel the caller holds), or one of
  // its ends (a channel_end block, Channel::make_end); the object will hold
  // a reference on it.
  void set_channel(Handle channel);
  // A value of another frozen object (whose handle the caller holds): the
  // one at `path` from its root (see FrozenView in value.capnp). The
  // object will hold a reference on it; the path is checked by readers.
  void set_view(Handle object, std::span<const std::uint32_t> path);

  std::uint32_t depth() const { return depth_; }

 private:
  friend class Freezer;
  friend class SequenceWriter;
  friend class DictWriter;
  ValueWriter(Freezer& freezer, schema::Value::Builder builder, std::uint32_t depth)
      : freezer_(&freezer), builder_(builder), depth_(depth) {}
  capnp::List<schema::Value>::Builder init_sequence(ValueKind kind, std::size_t size);
  SequenceWriter init_set(ValueKind kind, std::size_t size);
  void check_container_allowed(std::size_t size) const;
  void check_slice(const BlobSlice& slice) const;
  void write_blob_ref(schema::BlobRef::Builder ref, const BlobSlice& slice) const;
  layout::BlockKind channel_kind(Handle channel) const;

  Freezer* freezer_;
  schema::Value::Builder builder_;
  std::uint32_t depth_;  // containers around this value
};

// The elements of a list, tuple, set or frozenset.
class SequenceWriter {
 public:
  std::size_t size() const { return list_.size(); }
  ValueWriter operator[](std::size_t index) const;  // throws InvalidArgument out of range

 private:
  friend class ValueWriter;
  SequenceWriter(Freezer& freezer, capnp::List<schema::Value>::Builder list, std::uint32_t depth)
      : freezer_(&freezer), list_(list), depth_(depth) {}
  Freezer* freezer_;
  capnp::List<schema::Value>::Builder list_;
  std::uint32_t depth_;  // of the elements
};

// The entries of a dict, in order: key(i) and value(i) are entry i.
class DictWriter {
 public:
  std::size_t size() const { return keys_.size(); }
  ValueWriter key(std::size_t index) const;  // throws InvalidArgument out of range
  ValueWriter value(std::size_t index) const;

 private:
  friend class ValueWriter;
  DictWriter(Freezer& freezer, schema::Dict::Builder dict, std::uint32_t depth)
      : freezer_(&freezer), keys_(dict.getKeys()), values_(dict.getValues()), depth_(depth) {}
  Freezer* freezer_;
  capnp::List<schema::Value>::Builder keys_;
  capnp::List<schema::Value>::Builder values_;
  std::uint32_t depth_;  // of the keys and values
};

class Freezer {
 public:
  // Whether dicts and sets get a hash index (value.capnp, "The hash
  // index"): for objects read in place many times (shoal.freeze()), not
  // for values thawed once on receipt.
  enum class Indexing { none, hashed };

  explicit Freezer(Holder& holder, Indexing indexing = Indexing::none);
  ~Freezer();  // releases the children it holds (a never-published object's blobs are freed)
  Freezer(const Freezer&) = delete;
  Freezer& operator=(const Freezer&) = delete;

  // The value of the object (the root of its message), to be set once.
  ValueWriter root();

  // Copies `bytes` into a new blob block (64-byte aligned) and makes it a
  // child of the object. Throws ArenaFull.
  BlobSlice copy_to_blob(std::span<const std::byte> bytes);

  // Makes a blob the caller holds (kind `blob`) a child of the object, with
  // no copy; returns the whole of it, or the range [offset, offset + length)
  // (InvalidArgument if it does not lie inside the blob). Referencing the
  // same blob twice makes one child. Once published, the blob is part of an
  // immutable object: nobody may write to it again.
  BlobSlice reference(const HeldBlock& blob);
  BlobSlice reference(const HeldBlock& blob, std::uint64_t offset, std::uint64_t length);
  // The same, taking over the caller's reference instead of taking one of
  // its own (no arena lock). `blob` is empty afterwards, whatever happens.
  BlobSlice reference(HeldBlock&& blob, std::uint64_t offset, std::uint64_t length);
  // The same, with no reference of the Freezer's own at all (no arena
  // lock): the caller must hold `blob` until publish() returns. If it lets
  // go before publish(), publish() throws InvalidHandle and publishes
  // nothing. The cheap way to send a buffer the caller holds anyway. (A
  // blob borrowed and also referenced is then held by the Freezer.)
  BlobSlice borrow(const HeldBlock& blob, std::uint64_t offset, std::uint64_t length);

  // Allocates the object block (its child table and a copy of the message)
  // and returns the caller's reference to it. The Freezer is spent after
  // this: it drops its own references on the children (the object holds
  // its own) and accepts nothing more. Throws ArenaFull, leaving the
  // Freezer as it was. `site`: where the object was made (Arena::intern_site).
  // With `checksum`, the object is sealed (Arena::seal_checksum) before it
  // is returned: every reader then verifies its bytes.
  HeldBlock publish(std::uint32_t site = 0, bool checksum = false);

  // Bytes the message takes so far (what publish() copies).
  std::uint64_t message_bytes();

 private:
  friend class ValueWriter;

  struct Child {
    HeldBlock block;  // this Freezer's reference, until publish(); empty if borrowed
    Handle handle;
    layout::BlockKind kind;
    std::uint64_t bytes;  // payload size
  };

  void build_indexes();
  void merge_segments();
  std::uint32_t add_child(Handle block, layout::BlockKind expected);
  std::optional<std::uint32_t> check_held_child(const HeldBlock& blob, layout::BlockKind expected) const;
  std::uint32_t add_new_child(HeldBlock block, layout::BlockKind kind);
  std::optional<std::uint32_t> known_child(Handle block, layout::BlockKind expected) const;
  const Child& child(std::uint32_t index) const;
  void check_usable() const;

  // This thread's scratch space for the message's first segment, while this
  // Freezer uses it (see frozen_write.cpp); empty if another Freezer of the
  // thread has it.
  class ScratchLease {
   public:
    ScratchLease();
    ~ScratchLease();
    ScratchLease(const ScratchLease&) = delete;
    ScratchLease& operator=(const ScratchLease&) = delete;
    kj::ArrayPtr<capnp::word> words() const { return words_; }

   private:
    kj::ArrayPtr<capnp::word> words_;
  };

  Holder& holder_;
  Indexing indexing_;
  ScratchLease scratch_;                                // before message_: outlives it
  std::optional<capnp::MallocMessageBuilder> message_;  // built on scratch_ when it has some
  std::unique_ptr<capnp::MallocMessageBuilder> merged_;  // the message in one segment (merge_segments)
  // Containers to index at publish(), with the depth of their elements.
  std::vector<std::pair<schema::Dict::Builder, std::uint32_t>> dicts_to_index_;
  std::vector<std::pair<schema::Set::Builder, std::uint32_t>> sets_to_index_;
  std::vector<Child> children_;
  std::unordered_map<std::uint64_t, std::uint32_t> child_by_offset_;  // block offset -> index
  bool root_taken_ = false;
  bool published_ = false;
};

}  // namespace shoal::heap
