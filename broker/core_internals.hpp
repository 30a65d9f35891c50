// core_internals.hpp — what the core's own files use of an Arena and a
// Holder beyond their public API (internal).
//
// Arena and Holder keep their state and locked operations private; these
// two classes are their only friends besides HeldBlock, and say in one
// place what the rest of the core (the arena lock, holders, channels, the
// in-flight table) may do with them. Every `_locked` operation needs the
// arena lock held (ArenaLock).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "block_heap.hpp"
#include "debug_assert.hpp"
#include "shoal/arena.hpp"
#include "shoal/holder.hpp"

namespace shoal {

class ArenaInternals {
 public:
  static layout::ArenaHeader* header(const Arena& arena) { return arena.header(); }
  // The block allocator (block_heap.hpp).
  static BlockHeap& blocks(const Arena& arena) { return *arena.heap_; }

  // ---- The arena lock (arena_lock.cpp) ----
  static std::chrono::milliseconds lock_timeout(const Arena& arena) { return arena.options_.lock_timeout; }
  // Notes a wait for the lock, for Arena::max_lock_wait.
  static void note_lock_wait(Arena& arena, std::chrono::nanoseconds waited) {
    std::int64_t seen = arena.max_lock_wait_ns_.load(std::memory_order_relaxed);
    while (waited.count() > seen &&
           !arena.max_lock_wait_ns_.compare_exchange_weak(seen, waited.count(), std::memory_order_relaxed)) {
    }
  }
  // After a dead lock owner (repair.cpp).
  static void repair_locked(Arena& arena) { arena.repair_locked(); }

  // ---- The ownership graph (references.cpp) ----
  // Raises the count for a reference the caller has, so it is at least 1
  // and the CAS is never refused (a refusal, under a caller that broke that
  // contract, leaves the count one low: check reports it, repair recounts).
  static void add_held_reference_locked(layout::BlockHeader* block) {
    [[maybe_unused]] const bool raised = Arena::add_reference_locked(block);
    SHOAL_DEBUG_ASSERT(raised);
  }
  // A reference from a handle alone (Arena::take_reference_locked).
  [[nodiscard]] static bool take_reference_locked(Arena& arena, Handle h) { return arena.take_reference_locked(h); }
  static void drop_reference_locked(Arena& arena, std::uint64_t offset) { arena.drop_reference_locked(offset); }
  static std::vector<std::uint64_t> owned_children_locked(const Arena& arena, std::uint64_t offset) {
    return arena.owned_children_locked(offset);
  }

  // ---- Holders leaving (reclamation.cpp, arena_lifecycle.cpp) ----
  static void release_ledger_entry_locked(Arena& arena, std::uint32_t slot, layout::LedgerEntry* entry) {
    arena.release_ledger_entry_locked(slot, entry);
  }
  static void release_all_locked(Arena& arena, std::uint32_t slot) { arena.release_all_locked(slot); }
  static void unlink_if_unheld_locked(Arena& arena) { arena.unlink_if_unheld_locked(); }

  // ---- The in-flight table (in_flight.cpp) ----
  static void end_in_flight_locked(Arena& arena, std::uint64_t index) { arena.end_in_flight_locked(index); }
};

// How references move into and out of a holder's ledger from elsewhere: a
// channel's slots, the in-flight table, the arena attaching a holder.
class HolderInternals {
 public:
  // A holder for slot `slot`, which the caller just claimed (under the lock).
  static std::unique_ptr<Holder> make(std::shared_ptr<Arena> arena, std::uint32_t slot, std::uint64_t epoch) {
    return std::unique_ptr<Holder>(new Holder(std::move(arena), slot, epoch));
  }
  // The caller gave the holder's slot back: its destructor must not release it.
  static void mark_detached(Holder& holder) { holder.attached_ = false; }

  // False in a child created by fork(): the holder is its parent's.
  static bool usable_here(const Holder& holder);  // holder.cpp (Holder::usable_here is inline in recycling.hpp)

  // Makes room for one more ledger entry (grows the ledger if it is full).
  // Throws ArenaFull, or InvalidArgument if the holder was reaped.
  static void reserve_entry_locked(Holder& holder) { holder.ensure_free_entry_locked(); }
  // After an allocation failed: gives back what reserve_entry_locked grew.
  static void unreserve_locked(Holder& holder) { holder.shrink_ledger_locked(); }

  // Records a reference to the block at `offset` in the reserved entry:
  // a new one (raising the refcount), or with take_over one moving in from
  // elsewhere (a channel slot), whose count is already there.
  static HeldBlock record_locked(Holder& holder, std::uint64_t offset, bool take_over = false) {
    return holder.record_locked(offset, take_over);
  }
  // Records the first reference to a block just allocated (refcount 0,
  // seen by no one): its count is set to 1, then the entry committed.
  static HeldBlock record_new_locked(Holder& holder, std::uint64_t offset) { return holder.record_new_locked(offset); }
  // The reference `block` holds has moved elsewhere (a channel slot): its
  // ledger entry is cleared, the refcount left as it is, `block` emptied.
  static void forget_locked(HeldBlock& block) { block.holder()->forget_locked(block); }
};

}  // namespace shoal
