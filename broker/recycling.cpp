// recycling.cpp — the holder's recycling cache (holder.hpp, "Recycling"):
// small raw and blob blocks kept for the next allocation of their size,
// taken and given back by the attaching thread without the arena lock.
//
// A recyclable ledger entry (generation 0) keeps owning its block while the
// block moves into and out of the cache. Only block fields no one else
// writes change (kind, generation, requested, site, flags, created_ns;
// atomically, since lock-holders read them), never an entry or a refcount,
// so a death at any point leaves the entry owning a used block, which
// reaping frees.
#include <atomic>
#include <span>

#include "arena_lock.hpp"
#include "block_heap.hpp"
#include "core_internals.hpp"
#include "recycling.hpp"
#include "shoal/holder.hpp"

namespace shoal {

using layout::ArenaHeader;
using layout::BlockHeader;
using layout::BlockKind;
using layout::LedgerEntry;

bool Holder::release_to_cache(std::uint32_t entry, LedgerEntry* ledger, Handle h) {
  if (!on_owner_thread() || generation_next_ == generation_end_) return false;
  // Only entries of the first ledger block, which a holder always has: a
  // cached entry further on would keep a ledger block alive that would
  // otherwise be given back, and the cache would cost more than its blocks.
  if (entry >= layout::kLedgerChunkEntries) return false;
  if (std::atomic_ref(ledger->offset).load(std::memory_order_relaxed) != h.offset) return false;  // reaped
  BlockHeader* block = reinterpret_cast<BlockHeader*>(base_ + h.offset);  // live: our entry owns it
  std::atomic_ref<std::uint64_t> generation(block->generation);
  const auto kind = std::atomic_ref(block->kind).load(std::memory_order_relaxed);
  if (generation.load(std::memory_order_relaxed) != h.generation ||
      (kind != static_cast<std::uint32_t>(BlockKind::raw) && kind != static_cast<std::uint32_t>(BlockKind::blob))) {
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
  // parent object) is counted, and only the lock holder raises a count from
  // a reference it already has: 1 means ours is the last. (Acquire: their
  // reads of the payload happened before they dropped theirs.)
  if (std::atomic_ref(block->refcount).load(std::memory_order_acquire) != 1) return false;
  generation.store(generation_next_++, std::memory_order_release);  // every old handle stops resolving
  std::atomic_ref(block->kind).store(static_cast<std::uint32_t>(BlockKind::cached), std::memory_order_release);
  stack.blocks[stack.count++] = cached_block(entry, h.offset);
  count_cached(1, static_cast<std::int64_t>(size));
  return true;
}

void Holder::reserve_generations_locked() {
  if (generation_next_ != generation_end_) return;
  ArenaHeader* header = ArenaInternals::header(*arena_);
  generation_next_ = header->next_generation + 1;
  header->next_generation += kGenerationBatch;
  generation_end_ = header->next_generation + 1;
}

void Holder::flush_cache_locked() {
  for (std::size_t c = 0; c < cache_.size(); ++c) {
    CachedStack& stack = cache_[c];
    const std::uint64_t block_bytes = (c + 1) * layout::kAlign + layout::kBlockHeaderBytes;  // the class's size
    for (const CachedBlock cached : std::span(stack.blocks).first(stack.count)) {
      LedgerEntry* ledger = first_entries_ + entry_of(cached);
      if (blocks_->resolve_recyclable(offset_of(cached), slot_) != nullptr) {
        count_cached(-1, -static_cast<std::int64_t>(block_bytes));
      }
      // Still ours, unless reaped meanwhile (then it reads 0).
      if (ledger->offset == offset_of(cached)) ArenaInternals::release_ledger_entry_locked(*arena_, slot_, ledger);
      entry_unused_locked(entry_of(cached));
    }
    stack.count = 0;
  }
}

void Holder::flush_cache() {
  if (!usable_here() || !on_owner_thread() || cached_bytes_ == 0) return;
  ArenaLock lock(*arena_);
  flush_cache_locked();
}

HeldBlock Holder::try_allocate_cached(std::uint64_t bytes, BlockKind kind, std::uint32_t site) noexcept {
  if (!usable_here()) return {};
  return allocate_from_cache(bytes, kind, site);
}

bool HeldBlock::try_recycle() noexcept {
  if (holder_ == nullptr || !holder_->usable_here()) return false;
  if (ledger_->generation != 0 || !holder_->release_to_cache(entry_, ledger_, handle_)) return false;
  holder_ = nullptr;
  handle_ = Handle{};
  bytes_ = {};
  return true;
}

}  // namespace shoal
