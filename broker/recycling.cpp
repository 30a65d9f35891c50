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
