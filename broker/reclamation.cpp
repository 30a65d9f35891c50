// reclamation.cpp — taking back what a holder held: one ledger entry, a
// whole ledger (a holder leaving, or a dead one), and reaping the holders
// whose process has died.
//
// A dead process cannot release its references; its ledger in the arena
// still lists them. Reaping finds holder slots whose process (pid and start
// time, process_identity.hpp) is gone and releases every entry of their
// ledgers, as the holder itself would have: clear the entry (commit), then
// drop the reference. A reaper that dies halfway leaves some entries
// cleared and some not; the next reaper (or repair) finishes the job.
#include <atomic>
#include <vector>

#include "arena_lock.hpp"
#include "block_heap.hpp"
#include "ledger.hpp"
#include "shoal/arena.hpp"
#include "process_identity.hpp"
#include "test_hooks.hpp"

namespace shoal {

using layout::BlockHeader;
using layout::HolderSlot;
using layout::LedgerChunk;
using layout::LedgerEntry;
using layout::SlotState;

namespace {
constexpr auto kActive = static_cast<std::uint32_t>(SlotState::active);
}  // namespace

void Arena::release_ledger_entry_locked(std::uint32_t slot_index, LedgerEntry* entry) {
  const Handle h{entry->offset, entry->generation};
  entry->offset = 0;  // commit: this holder no longer owns the reference
  test_hooks::reach(test_hooks::Point::ledger_after_clear);
  BlockHeader* block = h.generation == 0 ? heap_->resolve_recyclable(h.offset, slot_index) : heap_->resolve(h);
  if (block == nullptr) return;  // already repaired away
  if (h.generation == 0) {
    // A recyclable entry's block at count 0: its owner thread died (or left
    // it) between claiming it (CAS 1 -> 0) and restoring the count
    // (recycling.hpp). The entry's reference is still the one the count
    // stands for.
    std::uint32_t zero = 0;
    std::atomic_ref(block->refcount).compare_exchange_strong(zero, 1, std::memory_order_acq_rel);
  }
  HolderSlot& slot = header()->holders[slot_index];
  --slot.refs_held;
  slot.bytes_held -= block->size;
  drop_reference_locked(h.offset);
}

void Arena::release_all_locked(std::uint32_t slot_index) {
  HolderSlot& slot = header()->holders[slot_index];
  std::vector<std::uint64_t> chunks;
  for (std::uint64_t at = slot.ledger_head; at != 0;) {
    const LedgerChunk* chunk = ledger_chunk_locked(at);
    if (chunk == nullptr || chunks.size() > header()->used_blocks) break;  // damaged: stop, repair recounts
    chunks.push_back(at);
    at = chunk->next;
  }
  for (std::size_t c = 0; c < chunks.size(); ++c) {
    LedgerChunk* chunk = ledger::chunk_at(base_, chunks[c]);
    LedgerEntry* entries = ledger::entries_of(chunk);
    for (std::uint32_t i = 0; i < chunk->capacity; ++i) {  // capacity checked by ledger_chunk_locked
      if (entries[i].offset != 0) release_ledger_entry_locked(slot_index, &entries[i]);
      if (c == 0 && i == chunk->capacity / 2) test_hooks::reach(test_hooks::Point::reap_mid_holder);
    }
  }
  slot.ledger_head = 0;  // commit: the ledger blocks are no longer owned
  for (std::uint64_t at : chunks) heap_->free(at);
  slot.refs_held = 0;
  slot.bytes_held = 0;
  std::atomic_ref(slot.cached_blocks).store(0, std::memory_order_relaxed);
  std::atomic_ref(slot.cached_bytes).store(0, std::memory_order_relaxed);
  // A dead holder's intent was resolved before its references went (there
  // is nothing to resolve yet: no operation writes one); a live one's is idle.
  std::atomic_ref(slot.intent.op).store(0, std::memory_order_seq_cst);
  slot.state = static_cast<std::uint32_t>(SlotState::free);  // commit
}

std::size_t Arena::reap_dead_holders() {
  struct Candidate {
    std::uint32_t slot;
    ProcessIdentity identity;
    std::uint64_t epoch;
  };
  std::vector<Candidate> candidates;
  {
    ArenaLock lock(*this);
    for (std::uint32_t i = 0; i < layout::kMaxHolders; ++i) {
      const HolderSlot& slot = header()->holders[i];
      if (slot.state == kActive) candidates.push_back({i, {slot.pid, slot.start_time}, slot.epoch});
    }
  }
  // Liveness is checked without the lock: it reads /proc.
  std::size_t reaped = 0;
  for (const Candidate& c : candidates) {
    if (is_alive(c.identity)) continue;
    ArenaLock lock(*this);
    const HolderSlot& slot = header()->holders[c.slot];
    if (slot.state != kActive || slot.epoch != c.epoch) continue;  // someone else reaped it
    release_all_locked(c.slot);
    ++header()->reaped_holders;
    ++reaped;
    unlink_if_unheld_locked();  // the last holder of a closing arena
  }
  return reaped;
}

}  // namespace shoal
