// allocation.cpp — a holder making new blocks: raw and blob blocks
// (from its recycling cache when it can), and objects with their child
// tables.
//
// Every allocation makes room in the holder's ledger first, so that a full
// arena fails before the block exists, and gives back what it grew for the
// call when it fails: a failed allocation leaves nothing allocated.
#include <atomic>

#include "arena_lock.hpp"
#include "block_heap.hpp"
#include "core_internals.hpp"
#include "recycling.hpp"
#include "shoal/errors.hpp"
#include "shoal/holder.hpp"
#include "test_hooks.hpp"

namespace shoal {

using layout::BlockHeader;
using layout::BlockKind;
using layout::ChildEntry;
using layout::ChildTable;

HeldBlock Holder::allocate(std::uint64_t bytes, BlockKind kind, std::uint32_t site) {
  if (!usable_here()) throw InvalidArgument("a holder cannot be used in a child process after fork()");
  if (kind != BlockKind::raw && kind != BlockKind::blob) {
    // Objects, channels and ledgers carry structure the arena reads; they
    // are made by allocate_object(), Channel::create() and the ledger.
    throw InvalidArgument("Holder::allocate makes raw and blob blocks only");
  }
  if (HeldBlock recycled = allocate_from_cache(bytes, kind, site)) return recycled;
  ArenaLock lock(*arena_);
  // Make room in the ledger first, so that a full arena fails before the
  // block exists and nothing is left half-made.
  ensure_free_entry_locked();
  std::uint64_t offset = 0;
  try {
    offset = blocks_->allocate(bytes, kind, slot_);
  } catch (const ArenaFull&) {
    if (!on_owner_thread() || cached_bytes_ == 0) {  // the cache is the owner thread's alone: ask first
      shrink_ledger_locked();  // a ledger block grown for this call goes back too
      throw;
    }
    flush_cache_locked();  // our cache first: then the heap has all we can give
    try {
      offset = blocks_->allocate(bytes, kind, slot_);
    } catch (const ArenaFull&) {
      shrink_ledger_locked();
      throw;
    }
  }
  blocks_->header_at(offset)->site = site;
  const bool recycle = recyclable(bytes, kind);
  if (recycle && on_owner_thread()) reserve_generations_locked();
  return record_new_locked(offset, recycle);
}

HeldBlock Holder::allocate_object(std::span<const Handle> children, std::uint64_t body_bytes, std::uint32_t site) {
  if (!usable_here()) throw InvalidArgument("a holder cannot be used in a child process after fork()");
  const std::uint64_t table_bytes = layout::child_table_bytes(children.size());
  if (children.size() > 0xFFFFFFFFu || body_bytes > ~std::uint64_t{0} - table_bytes) {
    throw InvalidArgument("arena '" + arena_->name() + "': object too large");
  }
  ArenaLock lock(*arena_);
  bool holds_channel = false;
  for (std::size_t i = 0; i < children.size(); ++i) {
    const BlockHeader* child = blocks_->resolve(children[i]);
    if (child == nullptr || child->kind == static_cast<std::uint32_t>(BlockKind::ledger)) {
      throw InvalidHandle("arena '" + arena_->name() + "': child " + std::to_string(i) + " (" +
                          to_string(children[i]) + ") names no live block");
    }
    holds_channel = holds_channel || child->kind == static_cast<std::uint32_t>(BlockKind::channel) ||
                    child->kind == static_cast<std::uint32_t>(BlockKind::channel_end) ||
                    (std::atomic_ref<const std::uint16_t>(child->flags).load(std::memory_order_relaxed) &
                     layout::kHoldsChannel) != 0;
  }
  ensure_free_entry_locked();
  std::uint64_t offset = 0;
  try {
    offset = blocks_->allocate(table_bytes + body_bytes, BlockKind::object, slot_);
  } catch (const ArenaFull&) {
    shrink_ledger_locked();
    throw;
  }
  blocks_->header_at(offset)->site = site;
  if (holds_channel) {
    std::atomic_ref<std::uint16_t>(blocks_->header_at(offset)->flags)
        .store(layout::kHoldsChannel, std::memory_order_relaxed);  // no one else sees the block yet
  }
  std::byte* payload = base_ + offset + layout::kBlockHeaderBytes;
  auto* entries = reinterpret_cast<ChildEntry*>(payload + sizeof(ChildTable));
  for (std::size_t i = 0; i < children.size(); ++i) entries[i] = ChildEntry{children[i].offset, children[i].generation};
  auto* table = reinterpret_cast<ChildTable*>(payload);
  table->checksum = 0;  // sealed later, if at all (Arena::seal_checksum)
  table->body_offset = table_bytes;
  table->count = static_cast<std::uint32_t>(children.size());  // commit: the table is complete
  test_hooks::reach(test_hooks::Point::object_after_table);
  for (std::size_t i = 0; i < children.size(); ++i) {
    // From a handle: its block's owner thread may have recycled it since it
    // was resolved above (without the lock). Then the object is undone.
    if (!ArenaInternals::take_reference_locked(*arena_, children[i])) {
      blocks_->free(offset);  // in no ledger: the table owned nothing yet but what is dropped next
      for (std::size_t j = 0; j < i; ++j) ArenaInternals::drop_reference_locked(*arena_, children[j].offset);
      shrink_ledger_locked();
      throw InvalidHandle("arena '" + arena_->name() + "': child " + std::to_string(i) + " (" +
                          to_string(children[i]) + ") names no live block");
    }
  }
  for (const Handle& child : children) {
    // Published as part of an object: its bytes are final now.
    std::atomic_ref<std::uint16_t>(blocks_->header_at(child.offset)->flags)
        .fetch_or(layout::kFrozen, std::memory_order_release);
  }
  return record_new_locked(offset);
}

}  // namespace shoal
