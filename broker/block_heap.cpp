// block_heap.cpp — the arena's block allocator. See block_heap.hpp.
#include "block_heap.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>

#include "clock.hpp"
#include "debug_assert.hpp"
#include "shoal/arena_image.hpp"
#include "shoal/errors.hpp"
#include "shoal/size.hpp"
#include "test_hooks.hpp"

namespace shoal {

using layout::ArenaHeader;
using layout::BlockHeader;
using layout::BlockKind;
using layout::BlockState;
using layout::FreeLinks;
using layout::kAlign;

namespace {

constexpr std::uint32_t kExactClasses = 32;
// How many blocks of the first, possibly too small, class to try before
// moving to a class whose every block fits.
constexpr int kFirstFitScan = 16;

}  // namespace

BlockHeap::BlockHeap(std::byte* base, std::uint64_t mapped_bytes, const std::string& arena_name)
    : base_(base),
      mapped_bytes_(mapped_bytes),
      header_(reinterpret_cast<ArenaHeader*>(base)),
      arena_name_(arena_name),
      region_bytes_(layout::backing_region_bytes(mapped_bytes)) {}

std::uint32_t BlockHeap::size_class(std::uint64_t block_bytes) {
  const std::uint64_t units = block_bytes / kAlign;
  if (units <= kExactClasses) return static_cast<std::uint32_t>(units - 1);
  const auto log2 = static_cast<std::uint32_t>(std::bit_width(units) - 1);  // >= 5
  const auto sub = static_cast<std::uint32_t>((units >> (log2 - 2)) & 3u);
  return std::min(kExactClasses + (log2 - 5) * 4 + sub, layout::kSizeClasses - 1);
}


bool BlockHeap::is_block_start(std::uint64_t offset) const {
  if (offset < header_->heap_begin || offset % kAlign != 0) return false;
  if (header_->heap_end < layout::kMinBlockBytes || offset > header_->heap_end - layout::kMinBlockBytes) return false;
  if (!bitmap_test(offset)) return false;
  const BlockHeader* block = header_at(offset);
  return block->tag == layout::kBlockTag && block->size >= layout::kMinBlockBytes && block->size % kAlign == 0 &&
         block->size <= header_->heap_end - offset;
}

BlockHeader* BlockHeap::follow(std::uint64_t offset, const char* what) const {
  // The allocator's own links live in shared memory too: a stray write by
  // any process could have changed them. Check before following.
  if (!is_block_start(offset)) {
    throw CorruptArena("arena '" + arena_name_ + "': " + what + " leads to " + std::to_string(offset) +
                       ", which is not a block; the arena is damaged (run `shoal check`)");
  }
  return header_at(offset);
}

// ------------------------------------------------------------- bitmap ----

bool BlockHeap::bitmap_test(std::uint64_t offset) const {
  const std::uint64_t unit = (offset - header_->heap_begin) / kAlign;
  auto* words = reinterpret_cast<std::uint64_t*>(base_ + header_->bitmap_offset);
  const std::uint64_t word = std::atomic_ref<std::uint64_t>(words[unit / 64]).load(std::memory_order_acquire);
  return (word >> (unit % 64)) & 1u;
}

void BlockHeap::bitmap_set(std::uint64_t offset, bool value) {
  const std::uint64_t unit = (offset - header_->heap_begin) / kAlign;
  auto* words = reinterpret_cast<std::uint64_t*>(base_ + header_->bitmap_offset);
  std::atomic_ref<std::uint64_t> word(words[unit / 64]);
  const std::uint64_t bit = std::uint64_t{1} << (unit % 64);
  if (value) {
    word.fetch_or(bit, std::memory_order_release);
  } else {
    word.fetch_and(~bit, std::memory_order_release);
  }
}

// ---------------------------------------------------------- free lists ----

void BlockHeap::list_push(std::uint64_t offset) {
  BlockHeader* block = header_at(offset);
  const std::uint32_t c = size_class(block->size);
  auto* links = reinterpret_cast<FreeLinks*>(block + 1);
  links->prev = 0;
  links->next = header_->free_heads[c];
  if (links->next != 0) reinterpret_cast<FreeLinks*>(follow(links->next, "a free-list head") + 1)->prev = offset;
  header_->free_heads[c] = offset;
  header_->class_mask[c / 64] |= std::uint64_t{1} << (c % 64);
  ++header_->free_blocks;
}

void BlockHeap::list_remove(std::uint64_t offset) {
  BlockHeader* block = header_at(offset);
  const std::uint32_t c = size_class(block->size);
  auto* links = reinterpret_cast<FreeLinks*>(block + 1);
  if (links->prev != 0) {
    reinterpret_cast<FreeLinks*>(follow(links->prev, "a free-list back link") + 1)->next = links->next;
  } else {
    header_->free_heads[c] = links->next;
  }
  if (links->next != 0) reinterpret_cast<FreeLinks*>(follow(links->next, "a free-list link") + 1)->prev = links->prev;
  if (header_->free_heads[c] == 0) header_->class_mask[c / 64] &= ~(std::uint64_t{1} << (c % 64));
  --header_->free_blocks;
}

std::uint64_t BlockHeap::find_fit(std::uint64_t block_bytes) {
  const std::uint32_t first = size_class(block_bytes);
  // The first class may hold blocks smaller than asked (above the exact
  // classes, a class spans a range): try a few of them.
  std::uint64_t candidate = header_->free_heads[first];
  for (int i = 0; candidate != 0 && i < kFirstFitScan; ++i) {
    const BlockHeader* block = follow(candidate, "a free list");
    if (block->size >= block_bytes) return candidate;
    candidate = reinterpret_cast<const FreeLinks*>(block + 1)->next;
  }
  // Every block of any higher class fits.
  for (std::uint32_t c = first + 1; c < layout::kSizeClasses;) {
    const std::uint64_t word = header_->class_mask[c / 64] >> (c % 64);
    if (word == 0) {
      c = (c / 64 + 1) * 64;
      continue;
    }
    c += static_cast<std::uint32_t>(std::countr_zero(word));
    if (c >= layout::kSizeClasses) break;
    follow(header_->free_heads[c], "a free-list head");
    return header_->free_heads[c];
  }
  return 0;
}

// -------------------------------------------------------------- blocks ----

void BlockHeap::write_free_header(std::uint64_t offset, std::uint64_t size, std::uint64_t prev_size) {
  BlockHeader* block = header_at(offset);
  std::memset(block, 0, sizeof(BlockHeader));
  block->size = size;
  block->prev_size = prev_size;
  block->tag = layout::kBlockTag;
  block->state = static_cast<std::uint32_t>(BlockState::free);
  block->kind = static_cast<std::uint32_t>(BlockKind::none);
  block->creator_slot = layout::kNoHolder;
}

void BlockHeap::set_prev_size_of_next(std::uint64_t offset) {
  const std::uint64_t next = offset + header_at(offset)->size;
  if (next < header_->heap_end) follow(next, "a block's size")->prev_size = header_at(offset)->size;
}

void BlockHeap::format() {
  std::memset(header_->free_heads, 0, sizeof header_->free_heads);
  std::memset(header_->class_mask, 0, sizeof header_->class_mask);
  header_->free_blocks = 0;
  header_->used_blocks = 0;
  header_->used_bytes = 0;
  // The header's pages now, so that no later write to it (a holder slot,
  // the site or in-flight table) can fault on a full /dev/shm; the heap's
  // are reserved block by block (reserve_backing).
  populate(0, layout::kHeaderBytes);
  populate(header_->heap_begin, header_->heap_begin + layout::kBlockHeaderBytes);
  populate(bitmap_byte(header_->heap_begin), bitmap_byte(header_->heap_begin) + 1);
  write_free_header(header_->heap_begin, header_->heap_end - header_->heap_begin, 0);
  bitmap_set(header_->heap_begin, true);
  list_push(header_->heap_begin);
}

void BlockHeap::refuse_if_damaged() const {
  const std::uint64_t size = header_->arena_size;
  const std::uint64_t bitmap = layout::bitmap_bytes_for(mapped_bytes_);
  if (size != mapped_bytes_ || header_->bitmap_offset != layout::kHeaderBytes || header_->bitmap_bytes != bitmap ||
      header_->heap_begin != layout::kHeaderBytes + bitmap || header_->heap_end != mapped_bytes_) {
    throw CorruptArena("arena '" + arena_name_ + "': its header's geometry was overwritten (heap " +
                       std::to_string(header_->heap_begin) + ".." + std::to_string(header_->heap_end) +
                       " in a segment of " + std::to_string(mapped_bytes_) + " bytes)");
  }
  std::uint64_t listed_classes = 0;
  for (std::uint32_t c = 0; c < layout::kSizeClasses; ++c) {
    const bool marked = (header_->class_mask[c / 64] >> (c % 64)) & 1;
    if (marked != (header_->free_heads[c] != 0)) {
      throw CorruptArena("arena '" + arena_name_ + "': its free-list index is damaged (size class " +
                         std::to_string(c) + (marked ? " marked but empty)" : " listed but not marked)"));
    }
    listed_classes += marked;
  }
  if ((listed_classes == 0) != (header_->free_blocks == 0)) {
    throw CorruptArena("arena '" + arena_name_ + "': its free-list index is damaged (" +
                       std::to_string(header_->free_blocks) + " free blocks counted, " +
                       std::to_string(listed_classes) + " size classes listed)");
  }
}

std::uint64_t BlockHeap::allocate(std::uint64_t bytes, BlockKind kind, std::uint32_t creator_slot) {
  const std::uint64_t heap_bytes = header_->heap_end - header_->heap_begin;
  if (bytes > heap_bytes) {
    refuse_if_damaged();
    throw ArenaFull("arena '" + arena_name_ + "' is full: " + format_size(bytes) +
                    " asked for, more than the whole arena (" + format_size(heap_bytes) + ")");
  }
  const std::uint64_t need = block_bytes_for(bytes);
  const std::uint64_t offset = find_fit(need);
  if (offset == 0) {
    refuse_if_damaged();
    throw ArenaFull("arena '" + arena_name_ + "' is full: cannot allocate " + format_size(bytes) +
                    " (used " + format_size(header_->used_bytes) + " of " + format_size(heap_bytes) +
                    ", largest free block " + format_size(largest_free_payload()) + ")");
  }
  BlockHeader* block = header_at(offset);
  const std::uint64_t have = block->size;
  // Back its pages, and the remainder's header a split writes, before
  // anything changes: no room in /dev/shm is ArenaFull here, not a SIGBUS
  // in whoever touches the block later.
  reserve_backing(offset, std::min(have, need + layout::kBlockHeaderBytes) + offset);
  list_remove(offset);
  if (have - need >= layout::kMinBlockBytes) {
    // Write the remainder's header inside our own free payload first, then
    // commit the split by shrinking this block: a death in between leaves
    // the chain as it was (the new header is unreachable payload).
    const std::uint64_t rest = offset + need;
    write_free_header(rest, have - need, need);
    test_hooks::reach(test_hooks::Point::alloc_after_split_header);
    block->size = need;  // commit
    bitmap_set(rest, true);
    set_prev_size_of_next(rest);
    list_push(rest);
  }
  block->generation = ++header_->next_generation;
  block->kind = static_cast<std::uint32_t>(kind);
  block->refcount = 0;
  block->requested = bytes;
  // The coarse clock is plenty for a block's age (the CLI sorts by it).
  block->created_ns = clock::realtime_ns(/*coarse=*/true);
  block->creator_slot = static_cast<std::uint16_t>(creator_slot);
  block->flags = 0;
  block->site = 0;
  block->state = static_cast<std::uint32_t>(BlockState::used);  // commit
  // What was just written holds by the reader's rules, whatever the free
  // block's old header said (a split leaves exactly `need`; no split, more).
  SHOAL_DEBUG_ASSERT(block_is_valid(*block) && block->size >= need);
  header_->used_bytes += block->size;
  ++header_->used_blocks;
  test_hooks::reach(test_hooks::Point::alloc_after_mark_used);
  return offset;
}

void BlockHeap::free(std::uint64_t offset) {
  BlockHeader* block = header_at(offset);
  const std::uint64_t freed = block->size;
  header_->used_bytes -= block->size;
  --header_->used_blocks;
  block->kind = static_cast<std::uint32_t>(BlockKind::none);
  block->refcount = 0;
  block->state = static_cast<std::uint32_t>(BlockState::free);  // commit
  test_hooks::reach(test_hooks::Point::free_after_mark_free);

  const std::uint64_t next = offset + block->size;
  if (next < header_->heap_end && follow(next, "a block's size")->state == static_cast<std::uint32_t>(BlockState::free)) {
    list_remove(next);
    block->size += header_at(next)->size;  // commit: the next header becomes payload
    bitmap_set(next, false);
    test_hooks::reach(test_hooks::Point::free_after_merge);
  }
  if (block->prev_size != 0) {
    const std::uint64_t prev = offset - block->prev_size;
    BlockHeader* before = follow(prev, "a block's prev_size");
    if (before->state == static_cast<std::uint32_t>(BlockState::free)) {
      list_remove(prev);
      before->size += block->size;  // commit: our header becomes payload
      bitmap_set(offset, false);
      offset = prev;
    }
  }
  set_prev_size_of_next(offset);
  list_push(offset);
  note_freed(freed);
}

BlockHeader* BlockHeap::used_block_at(std::uint64_t offset) const {
  const std::uint64_t begin = header_->heap_begin;
  const std::uint64_t end = std::min<std::uint64_t>(header_->heap_end, mapped_bytes_);
  if (offset < begin || offset % kAlign != 0) return nullptr;
  if (end < layout::kMinBlockBytes || offset > end - layout::kMinBlockBytes) return nullptr;
  if (!bitmap_test(offset)) return nullptr;
  BlockHeader* block = header_at(offset);
  if (block->tag != layout::kBlockTag) return nullptr;
  if (block->state != static_cast<std::uint32_t>(BlockState::used)) return nullptr;
  if (block->size < layout::kMinBlockBytes || block->size % kAlign != 0 || block->size > end - offset) {
    return nullptr;
  }
  // The fields a holder's recycling writes without the lock (recycling.cpp)
  // are read atomically.
  const std::uint64_t requested = std::atomic_ref(block->requested).load(std::memory_order_relaxed);
  if (requested > block->size - layout::kBlockHeaderBytes) return nullptr;
  return block;
}

std::uint64_t BlockHeap::payload_bytes(std::uint64_t offset) const {
  BlockHeader* block = header_at(offset);
  const std::uint64_t end = std::min<std::uint64_t>(header_->heap_end, mapped_bytes_);
  const std::uint64_t size = std::atomic_ref(block->size).load(std::memory_order_relaxed);
  const std::uint64_t requested = std::atomic_ref(block->requested).load(std::memory_order_relaxed);
  if (size < layout::kMinBlockBytes || offset > end || size > end - offset ||
      requested > size - layout::kBlockHeaderBytes) {
    return 0;
  }
  return requested;
}

BlockHeader* BlockHeap::resolve(Handle h) const {
  BlockHeader* block = used_block_at(h.offset);
  if (block == nullptr) return nullptr;
  if (std::atomic_ref(block->generation).load(std::memory_order_acquire) != h.generation) return nullptr;
  if (std::atomic_ref(block->kind).load(std::memory_order_relaxed) == static_cast<std::uint32_t>(BlockKind::cached)) {
    return nullptr;
  }
  return block;
}

BlockHeader* BlockHeap::resolve_recyclable(std::uint64_t offset, std::uint32_t slot) const {
  BlockHeader* block = used_block_at(offset);
  if (block == nullptr || block->creator_slot != slot) return nullptr;
  return block;
}

std::uint64_t BlockHeap::largest_free_payload() const {
  for (std::uint32_t c = layout::kSizeClasses; c-- > 0;) {
    std::uint64_t largest = 0;
    std::uint64_t seen = 0;
    for (std::uint64_t at = header_->free_heads[c]; at != 0 && seen < 4096 && is_block_start(at); ++seen) {
      largest = std::max(largest, header_at(at)->size);
      at = reinterpret_cast<FreeLinks*>(header_at(at) + 1)->next;
    }
    if (largest != 0) return largest - layout::kBlockHeaderBytes;
  }
  return 0;
}

bool BlockHeap::rebuild() {
  const std::uint64_t begin = header_->heap_begin;
  const std::uint64_t end = header_->heap_end;
  // The geometry was checked at attach, but this may be a damaged copy:
  // check again, by the reader's rule (arena_image.hpp), before clearing
  // the bitmap it describes.
  const ArenaGeometry geometry{header_->arena_size, header_->bitmap_offset, header_->bitmap_bytes, begin, end};
  if (!geometry.is_valid(mapped_bytes_)) return false;

  std::memset(base_ + header_->bitmap_offset, 0, header_->bitmap_bytes);
  std::memset(header_->free_heads, 0, sizeof header_->free_heads);
  std::memset(header_->class_mask, 0, sizeof header_->class_mask);
  header_->free_blocks = 0;
  header_->used_blocks = 0;
  header_->used_bytes = 0;

  std::uint64_t prev = 0;  // offset of the previous block, 0 = none
  for (std::uint64_t at = begin; at < end;) {
    BlockHeader* block = header_at(at);
    // Stepped over as the check's walk steps (ArenaGeometry::holds), of a known state.
    const bool sane = geometry.holds(*block, at) && (block->state == static_cast<std::uint32_t>(BlockState::free) ||
                                                     block->state == static_cast<std::uint32_t>(BlockState::used));
    if (!sane) return false;
    const bool is_free = block->state == static_cast<std::uint32_t>(BlockState::free);
    if (is_free && prev != 0 && header_at(prev)->state == static_cast<std::uint32_t>(BlockState::free)) {
      header_at(prev)->size += block->size;  // merge a run a death left unmerged
      at = prev + header_at(prev)->size;
      continue;
    }
    block->prev_size = prev == 0 ? 0 : at - prev;
    bitmap_set(at, true);
    if (!is_free) {
      header_->used_bytes += block->size;
      ++header_->used_blocks;
    }
    prev = at;
    at += block->size;
  }
  // Free lists last, once every merge is done.
  for (std::uint64_t at = begin; at < end; at += header_at(at)->size) {
    if (header_at(at)->state == static_cast<std::uint32_t>(BlockState::free)) list_push(at);
  }
  return true;
}

}  // namespace shoal
