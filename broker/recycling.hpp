// recycling.hpp — the hot paths of the holder's recycling cache: taking a
// block from it and filing one into it (internal; the rest of the cache is
// recycling.cpp).
//
// Inline, for their callers in several files (Holder::allocate in
// allocation.cpp, Holder::release in holder.cpp, try_allocate_cached and
// HeldBlock::try_recycle in recycling.cpp): a recycled allocate+free is
// about 15 ns, and the calls across files the split of holder.cpp put in
// that path doubled it (A/B, alloc_bench).
#pragma once

#include <atomic>
#include <cstdint>

#include "block_heap.hpp"
#include "clock.hpp"
#include "process_identity.hpp"
#include "shoal/holder.hpp"
#include "test_hooks.hpp"

namespace shoal {

inline bool Holder::usable_here() const { return fork_generation_now() == fork_generation_; }

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

inline bool Holder::release_to_cache(std::uint32_t entry, layout::LedgerEntry* ledger, Handle h) {
  if (!on_owner_thread() || generation_next_ == generation_end_) return false;
  // Only entries of the first ledger block, which a holder always has: a
  // cached entry further on would keep a ledger block alive that would
  // otherwise be given back, and the cache would cost more than its blocks.
  if (entry >= layout::kLedgerChunkEntries) return false;
  if (std::atomic_ref(ledger->offset).load(std::memory_order_relaxed) != h.offset) return false;  // reaped
  auto* block = reinterpret_cast<layout::BlockHeader*>(base_ + h.offset);  // live: our entry owns it
  std::atomic_ref<std::uint64_t> generation(block->generation);
  const auto kind = std::atomic_ref(block->kind).load(std::memory_order_relaxed);
  if (generation.load(std::memory_order_relaxed) != h.generation ||
      (kind != static_cast<std::uint32_t>(layout::BlockKind::raw) && kind != static_cast<std::uint32_t>(layout::BlockKind::blob))) {
    return false;
  }
  // The size is read from the arena: a class index only from a sane one.
  const std::uint64_t size = block->size;
  if (size < layout::kMinBlockBytes || size % layout::kAlign != 0) return false;
  const std::uint64_t capacity = size - layout::kBlockHeaderBytes;
  if (capacity > kMaxCachedPayload) return false;
  CachedStack& stack = cache_[capacity / layout::kAlign - 1];
  if (stack.count >= kCachedPerClass || cached_bytes_ + size > kCacheBudgetBytes) return false;
  // Ours alone? Anyone else's reference (another holder, a channel slot, a
  // parent object) is counted: 1 means ours is the last. Claimed by CAS
  // 1 -> 0, so that a lock holder raising the count from a handle alone
  // (Holder::retain) either raised it first (then this fails, and the
  // locked path frees) or is refused while it reads 0, or raises the count
  // restored below and finds the generation moved (Arena::
  // take_reference_locked). (Acquire: the others' reads of the payload
  // happened before they dropped their references.)
  std::atomic_ref<std::uint32_t> count(block->refcount);
  if (std::uint32_t one = 1; !count.compare_exchange_strong(one, 0, std::memory_order_acquire, std::memory_order_relaxed)) {
    return false;
  }
  test_hooks::reach(test_hooks::Point::recycle_after_claim);
  generation.store(generation_next_++, std::memory_order_release);  // every old handle stops resolving
  std::atomic_ref(block->kind).store(static_cast<std::uint32_t>(layout::BlockKind::cached), std::memory_order_release);
  // Our entry owns the cached block: its count is 1 again (release: the new
  // generation before it). A plain store, the one refcount write that is
  // not a read-modify-write: at 0 every raise is refused, so the count is
  // now 0 (our claim) or 1 (a repair's recount of our entry meanwhile), and
  // 1 is right either way. (A CAS here cost 2 ns of the 15, alloc_bench.)
  count.store(1, std::memory_order_release);
  stack.blocks[stack.count++] = cached_block(entry, h.offset);
  count_cached(1, static_cast<std::int64_t>(size));
  return true;
}

}  // namespace shoal
