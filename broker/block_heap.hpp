// block_heap.hpp — the arena's block allocator (internal).
//
// A segregated-fit allocator with boundary tags, over offsets. Free blocks
// sit in doubly linked lists, one per size class: 32 exact classes for
// blocks of 64..2048 bytes of payload+header, then four classes per power of
// two. Freeing merges a block with free neighbours at once, so no two free
// blocks are ever adjacent.
//
// Crash safety: the only authoritative state is the chain of block sizes and
// states, walked forward from heap_begin. Every change to the chain is a
// single aligned store (see layout.hpp, "commit"); free lists, prev_size,
// the bitmap and the statistics are derived, and rebuild() recomputes them
// after a process died in the middle of a change.
//
// Every method requires the arena lock, except resolve(), which is safe for
// a block the caller holds a reference to. Links read from the arena (free
// lists, sizes) are checked before they are followed: a stray write yields
// CorruptArena, never a wild access.
#pragma once

#include <cstdint>
#include <string>

#include "shoal/handle.hpp"
#include "shoal/layout.hpp"

namespace shoal {

class BlockHeap {
 public:
  BlockHeap(std::byte* base, std::uint64_t mapped_bytes, const std::string& arena_name);

  // Lays out an empty heap: one free block spanning it. For create() only.
  void format();

  // Allocates a block whose payload holds at least `bytes`. Returns the
  // offset of its header, state used, refcount 0, a fresh generation.
  // Throws ArenaFull (the heap is left exactly as it was).
  std::uint64_t allocate(std::uint64_t bytes, layout::BlockKind kind, std::uint32_t creator_slot);

  // Returns a used block to the heap, merging it with free neighbours.
  void free(std::uint64_t offset);

  // The header of the used block `h` names, or nullptr when `h` is out of
  // range, not a block start, not in use, or stale. Never follows anything
  // it has not bounds-checked.
  // Refuses a cached block (layout.hpp, BlockKind::cached) too.
  layout::BlockHeader* resolve(Handle h) const;

  // The used block a recyclable ledger entry of holder `slot` names
  // (layout.hpp, LedgerEntry): checked as resolve() does, but by offset and
  // creator instead of generation, and a cached block included.
  layout::BlockHeader* resolve_recyclable(std::uint64_t offset, std::uint32_t slot) const;

  // The payload bytes a resolved block at `offset` hands out: its
  // `requested`, with that and its `size` each read once and checked again
  // against the heap (a stray write may have changed either since the block
  // was resolved); 0 when they no longer fit. Every span given out over a
  // payload is this long, never longer.
  std::uint64_t payload_bytes(std::uint64_t offset) const;

  // Header at a known-good block offset (from the chain walk).
  layout::BlockHeader* header_at(std::uint64_t offset) const {
    return reinterpret_cast<layout::BlockHeader*>(base_ + offset);
  }

  // True when `offset` is in the heap, aligned, marked in the bitmap, and
  // holds a tagged header of a sane size.
  bool is_block_start(std::uint64_t offset) const;

  // Recomputes every derived structure (prev_size, bitmap, free lists,
  // statistics) from the chain, merging adjacent free blocks. Returns false
  // if the chain itself is broken, which no crash can cause (only a stray
  // write): the arena is then corrupt.
  bool rebuild();

  // Largest free block's payload capacity (scans the top size class).
  std::uint64_t largest_free_payload() const;

  static std::uint32_t size_class(std::uint64_t block_bytes);
  static std::uint64_t block_bytes_for(std::uint64_t payload_bytes) {
    const std::uint64_t payload = payload_bytes < layout::kAlign ? layout::kAlign : payload_bytes;
    return layout::kBlockHeaderBytes + (payload + layout::kAlign - 1) / layout::kAlign * layout::kAlign;
  }

  layout::ArenaHeader* arena() const { return header_; }

  // The backing store (backing.cpp): pages reserved before a block is
  // handed out, free ones returned to the system.
  //
  // Makes sure every page of [begin, end) and its bitmap bytes are backed
  // by tmpfs; throws ArenaFull when /dev/shm has no room for them.
  void reserve_backing(std::uint64_t begin, std::uint64_t end);
  // One pass over the free blocks: returns to the system the backed regions
  // lying wholly inside one that the previous pass marked idle, and marks
  // the others (layout.hpp, "backing map"). Returns the bytes returned.
  std::uint64_t return_free_pages();
  // Freed bytes after which the freer makes a pass itself.
  static constexpr std::uint64_t kReturnEvery = 8ull << 20;

 private:
  // The used block starting at `offset`, bounds and header checked, or nullptr.
  layout::BlockHeader* used_block_at(std::uint64_t offset) const;
  // header_at() for an offset read from a link: throws CorruptArena, naming
  // `what` link it came from, unless is_block_start(offset).
  layout::BlockHeader* follow(std::uint64_t offset, const char* what) const;
  bool bitmap_test(std::uint64_t offset) const;
  void bitmap_set(std::uint64_t offset, bool value);
  void list_push(std::uint64_t offset);
  void list_remove(std::uint64_t offset);
  std::uint64_t find_fit(std::uint64_t block_bytes);
  void write_free_header(std::uint64_t offset, std::uint64_t size, std::uint64_t prev_size);
  void set_prev_size_of_next(std::uint64_t offset);
  // The backing map (layout.hpp) and the helpers of backing.cpp.
  std::uint64_t* backing_map() const;
  std::uint64_t* idle_map() const;
  bool region_backed(std::uint64_t region) const;
  void set_region_backed(std::uint64_t region, bool backed);
  void populate(std::uint64_t begin, std::uint64_t end);  // page-rounded; throws ArenaFull
  std::uint64_t bitmap_byte(std::uint64_t offset) const;   // where a heap offset's bit lies
  void note_freed(std::uint64_t bytes);                     // counts, and returns pages past kReturnEvery
  // Before an allocation is refused as ArenaFull: throws CorruptArena if
  // the header's geometry or free-list index was overwritten, which would
  // otherwise read as a full arena.
  void refuse_if_damaged() const;

  std::byte* base_;
  std::uint64_t mapped_bytes_;
  layout::ArenaHeader* header_;
  const std::string& arena_name_;
  std::uint64_t region_bytes_;  // layout::backing_region_bytes of the segment
};

}  // namespace shoal
