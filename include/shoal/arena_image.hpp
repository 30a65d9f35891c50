// arena_image.hpp — the one bounded, read-only reader of an arena's bytes.
//
// Whoever reads an arena without trusting it goes through ArenaImage: the
// consistency check (check.cpp), repair's recount (repair.cpp), the CLI's
// snapshot and census (tools/). The bytes may be a damaged copy, a hostile
// file, or a live mapping other threads and processes change meanwhile, so:
//
//   * the geometry (heap bounds, bitmap) is read and checked once, at
//     construction; every later offset is bounded against that copy;
//   * every structure is copied out before it is looked at, with relaxed
//     atomic loads of aligned words (never a plain memcpy of live memory:
//     the recycler and the lock-free commits store into these words
//     atomically), so each field is read once and a value cannot change
//     between its check and its use;
//   * each shared structure has its is_valid() (or a view whose `valid`
//     says it): a block header the chain can step over, a used block of a
//     known kind, a ledger chunk, a channel header, a child table, an array
//     blob's header. The rules are the core's (layout.hpp:
//     child_table_is_sane, channel_is_sane, channel_pending; array_blob.hpp:
//     parse_array_blob); nothing outside this reader restates them.
//
// It never writes and never locks: a caller that needs a consistent picture
// holds the arena lock (Arena::check, repair) or retries around the seqlock
// (tools/seqlock.hpp). Consistency across structures is the whole-arena
// check's job (check_image); this is the lower layer it stands on, and the
// cheap debug assertions of the core (SHOAL_DEBUG_ASSERT, debug_assert.hpp)
// call the same validators on the structures they touch.
//
//   ArenaImage image(base, bytes);
//   if (!image.is_valid()) return image.error();
//   image.walk([&](const ArenaImage::Block& b) { ... });   // the chain
//   if (auto channel = image.channel(b)) for (i < channel->pending) image.channel_item(*channel, i);
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "shoal/layout.hpp"
#include "shoal/sites.hpp"

namespace shoal {

namespace heap {
struct ArrayBlob;  // array_blob.hpp
}

// Where the heap and its bitmap lie, as a header records them. Checked
// against the bytes mapped before anything relies on it (is_valid).
struct ArenaGeometry {
  std::uint64_t arena_size = 0;
  std::uint64_t bitmap_offset = 0;
  std::uint64_t bitmap_bytes = 0;
  std::uint64_t heap_begin = 0;
  std::uint64_t heap_end = 0;

  // The header's rules for an image of `mapped` bytes: the bitmap right
  // after the header, the heap right after it and inside the mapping, a bit
  // for every 64-byte unit of heap.
  bool is_valid(std::uint64_t mapped) const;
  // `offset` may start a block: in the heap, aligned, with room for one.
  bool may_start_block(std::uint64_t offset) const;
  // The chain can step over `block` at `offset`: tagged, sized in multiples
  // of 64, at least a minimal block, within the heap.
  bool holds(const layout::BlockHeader& block, std::uint64_t offset) const;
};

// A block header's own rules, beyond its place in the chain: a known state;
// if used, a known kind and no more bytes asked for than it holds.
bool block_is_valid(const layout::BlockHeader& block);

// The entries a used object or channel owns references on, and where they
// lie in its payload: an object's child table, [0, count); a channel's
// pending items, from head around its ring (none once poisoned). Judged
// from a copy of the table or channel header, by layout.hpp's rules
// (child_table_is_sane, channel_is_sane, channel_pending), against the
// payload's length. The one definition both readers use: this image
// (child_table, channel) and the core's ownership graph, which reads the
// live mapping under the lock on every free of an object or channel
// (Arena::owned_children_locked), where building an image would cost
// more than the free itself.
struct OwnedEntries {
  bool valid = false;            // the table or channel header is sane for the payload
  std::uint64_t count = 0;       // entries owned; 0 unless valid
  std::uint64_t first = 0;       // the first one's index (a channel's head)
  std::uint64_t ring = 1;        // indices wrap around this many slots
  std::uint64_t entries_at = 0;  // slot 0, in bytes from the payload start

  // Where the i-th owned entry (i < count) lies, from the payload start;
  // inside the payload when valid.
  std::uint64_t entry_at(std::uint64_t i) const {
    return entries_at + (first + i) % ring * sizeof(layout::ChildEntry);
  }
};

inline OwnedEntries owned_entries(const layout::ChildTable& table, std::uint64_t payload_bytes) {
  OwnedEntries owned;
  owned.valid = layout::child_table_is_sane(table, payload_bytes);
  owned.count = owned.valid ? table.count : 0;
  owned.ring = owned.count == 0 ? 1 : owned.count;
  owned.entries_at = sizeof(layout::ChildTable);
  return owned;
}

inline OwnedEntries owned_entries(const layout::ChannelHeader& channel, std::uint64_t payload_bytes) {
  OwnedEntries owned;
  owned.valid = layout::channel_is_sane(channel, payload_bytes);
  if (!owned.valid) return owned;  // capacity may be 0: no ring to index
  owned.count = layout::channel_pending(channel);
  owned.first = channel.head;
  owned.ring = channel.capacity;
  owned.entries_at = sizeof(layout::ChannelHeader);
  return owned;
}

// A channel end owns its channel: one entry, at ChannelEnd::channel.
inline OwnedEntries owned_entries(const layout::ChannelEnd& end, std::uint64_t payload_bytes) {
  OwnedEntries owned;
  owned.valid = layout::channel_end_is_sane(end, payload_bytes);
  owned.count = owned.valid ? 1 : 0;
  owned.entries_at = offsetof(layout::ChannelEnd, channel);
  return owned;
}

class ArenaImage {
 public:
  // A block header as copied out, and where it lies.
  struct Block {
    std::uint64_t offset = 0;
    layout::BlockHeader header{};
    bool used() const { return header.state == static_cast<std::uint32_t>(layout::BlockState::used); }
    bool free() const { return header.state == static_cast<std::uint32_t>(layout::BlockState::free); }
    bool is(layout::BlockKind kind) const { return used() && header.kind == static_cast<std::uint32_t>(kind); }
    std::uint64_t payload_offset() const { return offset + layout::kBlockHeaderBytes; }
    std::uint64_t payload_bytes() const { return header.size - layout::kBlockHeaderBytes; }
  };

  // Why the chain walk stopped before the heap's end.
  struct ChainBreak {
    std::uint64_t offset = 0;
    std::string what;  // "has no block tag; ...", "has impossible size N", ...
  };

  struct Ledger {
    Block block;
    layout::LedgerChunk chunk{};
    std::uint64_t capacity = 0;  // entries to read: chunk.capacity bounded by the block's room
    bool valid = false;          // chunk.capacity fits the block
  };

  struct Channel {
    Block block;
    layout::ChannelHeader header{};
    bool valid = false;         // layout::channel_is_sane: the counters below may be used
    std::uint64_t pending = 0;  // layout::channel_pending when valid (0 once poisoned), else 0
    OwnedEntries owned;         // where the pending items lie (owned.count == pending)
  };

  struct ChildTable {
    Block block;
    layout::ChildTable table{};
    bool valid = false;  // layout::child_table_is_sane against the payload
    std::uint64_t count = 0;  // entries to read when valid, else 0
    OwnedEntries owned;       // where they lie (owned.count == count)
  };

  ArenaImage(const std::byte* base, std::uint64_t bytes);

  // The header: magic, layout version and geometry. Nothing else here may
  // be asked for unless it holds, except has_header()'s fields.
  bool is_valid() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  // Bytes enough for the header region (holders, in-flight and site tables).
  bool has_header() const { return bytes_ >= layout::kHeaderBytes; }
  const ArenaGeometry& geometry() const { return geometry_; }
  const std::byte* base() const { return base_; }
  std::uint64_t bytes() const { return bytes_; }

  // One field of the ArenaHeader is read with SHOAL_HEADER_FIELD(image, used_bytes) (below).
  layout::HolderSlot holder(std::uint32_t index) const;  // index < kMaxHolders

  // The block at `offset`, if the chain could hold one there (may_start_block, holds).
  std::optional<Block> block(std::uint64_t offset) const;
  // Visits every block from heap_begin; the first that cannot be stepped
  // over ends the walk, and is returned. Each step moves at least
  // kMinBlockBytes, so the walk ends.
  std::optional<ChainBreak> walk(const std::function<void(const Block&)>& visit) const;
  bool bitmap_bit(std::uint64_t offset) const;  // offset: a block start in the heap
  std::uint64_t bitmap_bits_set() const;        // over the heap's units
  layout::FreeLinks free_links(const Block& block) const;

  std::optional<Ledger> ledger(const Block& block) const;  // a used ledger block
  layout::LedgerEntry ledger_entry(const Ledger& ledger, std::uint64_t i) const;  // i < capacity
  std::optional<Channel> channel(const Block& block) const;  // a used channel block
  // A used channel_end block's end, when layout::channel_end_is_sane.
  std::optional<layout::ChannelEnd> channel_end(const Block& block) const;
  // The i-th pending item (i < pending), oldest first.
  layout::ChildEntry channel_item(const Channel& channel, std::uint64_t i) const;
  // Its name ("" if unnamed, or if what is stored does not fit the payload
  // or is not UTF-8).
  std::string channel_name(const Channel& channel) const;
  std::optional<ChildTable> child_table(const Block& block) const;  // a used object block
  layout::ChildEntry child(const ChildTable& table, std::uint64_t i) const;  // i < count
  // The array a used blob flagged kArrayBlob describes, checked as a
  // receiver checks it (heap::parse_array_blob) against the payload the
  // blob asked for; nothing if it does not check out, or for any other
  // block. Copies the header and shape out, never the data.
  std::optional<heap::ArrayBlob> array_blob(const Block& block) const;

  layout::InFlightTableHeader in_flight_table() const;         // has_header()
  layout::InFlightEntry in_flight_entry(std::uint64_t i) const;  // i < kInFlightEntries, has_header()
  SiteTable sites() const;  // decoded from a copy of the region; empty without a header

  // Copies a T out of [offset, offset + sizeof(T)), 8-aligned and inside
  // the image (debug-asserted; a zeroed T otherwise), one relaxed atomic
  // load per word.
  template <typename T>
  T copy(std::uint64_t offset) const;
  // One field of a scalar type, read once with a relaxed atomic load.
  template <typename T>
  T load(std::uint64_t offset) const;

 private:
  void copy_words(void* out, std::uint64_t offset, std::uint64_t size) const;
  bool in_image(std::uint64_t offset, std::uint64_t size, std::uint64_t align) const;

  const std::byte* base_;
  std::uint64_t bytes_;
  ArenaGeometry geometry_{};
  std::string error_;
};

template <typename T>
T ArenaImage::copy(std::uint64_t offset) const {
  static_assert(sizeof(T) % 8 == 0, "copied word by word");
  T value{};
  copy_words(&value, offset, sizeof(T));
  return value;
}

template <typename T>
T ArenaImage::load(std::uint64_t offset) const {
  static_assert(sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8);
  if (!in_image(offset, sizeof(T), sizeof(T))) return T{};
  return __atomic_load_n(reinterpret_cast<const T*>(base_ + offset), __ATOMIC_RELAXED);
}

}  // namespace shoal

// One scalar field of the image's ArenaHeader, read once (relaxed atomic load).
#define SHOAL_HEADER_FIELD(image, field) \
  (image).load<decltype(::shoal::layout::ArenaHeader::field)>(offsetof(::shoal::layout::ArenaHeader, field))
