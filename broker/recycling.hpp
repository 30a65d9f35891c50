// recycling.hpp — taking a block from the holder's recycling cache
// (internal; the cache itself is recycling.cpp).
//
// Inline, for the two callers of the take path, Holder::allocate
// (allocation.cpp) and try_allocate_cached (recycling.cpp): a recycled
// allocation is a few nanoseconds, and a call across files would add to
// each one.
#pragma once

#include <atomic>
#include <cstdint>

#include "block_heap.hpp"
#include "clock.hpp"
#include "shoal/holder.hpp"

namespace shoal {

inline bool Holder::recyclable(std::uint64_t bytes, layout::BlockKind kind) {
  return (kind == layout::BlockKind::raw || kind == layout::BlockKind::blob) && bytes <= kMaxCachedPayload;
}

inline void Holder::count_cached(std::int64_t blocks, std::int64_t bytes) {
  // New values in locals first: reading a field back right after storing it
  // stalled on store forwarding here (a third of the recycling time).
  const std::uint64_t blocks_now = cached_blocks_ + static_cast<std::uint64_t>(blocks);
  const std::uint64_t bytes_now = cached_bytes_ + static_cast<std::uint64_t>(bytes);
  cached_blocks_ = blocks_now;
  cached_bytes_ = bytes_now;
  // Published for Arena::stats, which reads them from other threads and
  // processes; only this holder's attaching thread writes them.
  std::atomic_ref(slot_header_->cached_blocks).store(blocks_now, std::memory_order_relaxed);
  std::atomic_ref(slot_header_->cached_bytes).store(bytes_now, std::memory_order_relaxed);
}

inline HeldBlock Holder::allocate_from_cache(std::uint64_t bytes, layout::BlockKind kind, std::uint32_t site) {
  if (!recyclable(bytes, kind) || !on_owner_thread()) return {};
  const std::uint64_t capacity = BlockHeap::block_bytes_for(bytes) - layout::kBlockHeaderBytes;
  CachedStack& stack = cache_[capacity / layout::kAlign - 1];
  if (stack.count == 0) return {};
  const CachedBlock cached = stack.blocks[--stack.count];
  const std::uint32_t entry = entry_of(cached);
  layout::LedgerEntry* ledger = first_entries_ + entry;
  const std::uint64_t offset = offset_of(cached);
  auto* block = reinterpret_cast<layout::BlockHeader*>(base_ + offset);  // ours: the entry owns it
  // The size is read back (release_to_cache checked it when it filed the
  // block): only the cache's byte count uses it. Deriving it from the class
  // instead cost half a nanosecond here (A/B), a tenth of malloc.
  count_cached(-1, -static_cast<std::int64_t>(block->size));
  std::atomic_ref(block->requested).store(bytes, std::memory_order_relaxed);
  std::atomic_ref(block->site).store(site, std::memory_order_relaxed);
  std::atomic_ref(block->created_ns).store(clock::realtime_ns(/*coarse=*/true), std::memory_order_relaxed);
  std::atomic_ref(block->flags).store(0, std::memory_order_relaxed);
  // Its generation was made fresh when it was cached, and nobody has seen it.
  std::atomic_ref(block->kind).store(static_cast<std::uint32_t>(kind), std::memory_order_release);
  const Handle handle{offset, std::atomic_ref(block->generation).load(std::memory_order_relaxed)};
  std::byte* payload = base_ + offset + layout::kBlockHeaderBytes;
  return HeldBlock(this, entry, ledger, handle, {payload, static_cast<std::size_t>(bytes)});
}

}  // namespace shoal
