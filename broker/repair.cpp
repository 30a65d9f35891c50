// repair.cpp — putting the arena right after a process died holding its lock.
//
// Nothing a dead lock owner was doing can be asked about, so repair does not
// try to finish or undo it. Instead it rebuilds everything derivable from
// the authoritative records, which every step keeps consistent (each change
// to them is one aligned store, see layout.hpp):
//
//   1. the block chain → free lists, bitmap, prev_size, statistics
//      (BlockHeap::rebuild, which also merges free neighbours);
//   2. the holders' ledgers, the in-flight table (references held for
//      pickles), objects' child tables and channels' pending slots (none for a poisoned channel: a poisoner killed halfway leaves
//      its dropped items unowned) → every block's refcount, and each
//      holder's totals, and each owned child's kFrozen flag; a ledger entry
//      naming no live block is cleared;
//   3. a used block that no one owns is freed: a block allocated but not
//      yet recorded, a ledger block not yet linked, or a block whose last
//      reference was dropped before it could be freed;
//   4. the channel ends left → every channel's end counts, and the closes
//      a lock owner killed after counting out a last end did not make.
//
// It runs with the lock held and the mutex still inconsistent: if this
// process dies here too, the next locker starts the repair again.
//
// First it closes the lock-free gate and waits until no live holder is
// halfway through a lock-free operation (quiescence.hpp); the gate opens
// again when repair ends, also one a dead lock owner left closed. Holders
// that died halfway are found then; no operation writes an intent yet, so
// there is nothing of theirs to resolve (their reaping clears the intent).
//
// Live holders keep recycling their own blocks meanwhile, without the lock
// and without an intent (holder.hpp): the only count they write is their
// own block's, by CAS 1 -> 0 and then a store of 1, the count of their one
// entry, which is what the recount finds too. So counts are made off to
// the side and each stored once (an exchange): a recycler reads either the
// old count or the new, never a half-made one. And the fields they write (layout.hpp: kind, generation, ...)
// are read here through the same bounded reader as the consistency check
// (ArenaImage), or atomically.
#include <atomic>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "block_heap.hpp"
#include "shoal/arena.hpp"
#include "shoal/arena_image.hpp"
#include "shoal/errors.hpp"
#include "quiescence.hpp"

namespace shoal {

using layout::BlockHeader;
using layout::BlockKind;
using layout::BlockState;
using layout::HolderSlot;
using layout::LedgerChunk;
using layout::LedgerEntry;

namespace {

// A block's kind, which its holder's recycler may be storing meanwhile.
std::uint32_t kind_of(const BlockHeader* block) {
  return std::atomic_ref(const_cast<BlockHeader*>(block)->kind).load(std::memory_order_relaxed);
}

constexpr auto kLedger = static_cast<std::uint32_t>(BlockKind::ledger);

}  // namespace

void Arena::repair_locked() {
  layout::ArenaHeader* h = header();
  ++h->repairs;
  const LockFreeGate gate(*this);
  if (!heap_->rebuild()) {
    throw CorruptArena("arena '" + name_ +
                       "': a process died holding the lock and the block chain is damaged; it cannot be repaired");
  }

  // The ledgers are read as the check reads them: each chunk and entry
  // copied out and bounded by the image's validators.
  const ArenaImage image(base_, size_);

  // Recount from zero, off to the side.
  std::unordered_map<std::uint64_t, std::uint32_t> counts;
  std::unordered_set<std::uint64_t> owned_ledgers;
  for (HolderSlot& slot : h->holders) {
    if (slot.state != static_cast<std::uint32_t>(layout::SlotState::active)) continue;
    slot.refs_held = 0;
    slot.bytes_held = 0;
    std::uint64_t* link = &slot.ledger_head;
    while (*link != 0) {
      const std::uint64_t at = *link;
      // (The bitmap is_block_start checks was just rebuilt.)
      const auto block = heap_->is_block_start(at) ? image.block(at) : std::nullopt;
      const auto ledger = block ? image.ledger(*block) : std::nullopt;
      if (!ledger || !ledger->valid || owned_ledgers.contains(at)) {
        *link = 0;  // cut a damaged chain; what it listed is recounted as unowned
        break;
      }
      owned_ledgers.insert(at);
      auto* chunk = reinterpret_cast<LedgerChunk*>(base_ + block->payload_offset());
      auto* entries = reinterpret_cast<LedgerEntry*>(chunk + 1);
      const auto slot_index = static_cast<std::uint32_t>(&slot - h->holders);
      for (std::uint64_t i = 0; i < ledger->capacity; ++i) {
        const LedgerEntry entry = image.ledger_entry(*ledger, i);
        if (entry.offset == 0) continue;
        BlockHeader* target = entry.generation == 0 ? heap_->resolve_recyclable(entry.offset, slot_index)
                                                    : heap_->resolve(Handle{entry.offset, entry.generation});
        if (target == nullptr || kind_of(target) == kLedger) {
          entries[i].offset = 0;
          continue;
        }
        ++counts[entry.offset];
        ++slot.refs_held;
        slot.bytes_held += target->size;
      }
      link = &chunk->next;
    }
  }

  // The in-flight table owns a reference per entry in use; an entry naming
  // no live block (a stray write, or a block freed by a wrong count) is
  // cleared. `live` and `extent` are derived: recomputed here.
  {
    auto* table = reinterpret_cast<layout::InFlightTableHeader*>(base_ + layout::kInFlightOffset);
    auto* entries = reinterpret_cast<layout::InFlightEntry*>(table + 1);
    std::uint64_t live = 0;
    std::uint64_t extent = 0;
    for (std::uint64_t i = 0; i < layout::kInFlightEntries; ++i) {
      if (entries[i].offset == 0) continue;
      const BlockHeader* target = heap_->resolve(Handle{entries[i].offset, entries[i].generation});
      if (target == nullptr || kind_of(target) == kLedger) {
        entries[i].offset = 0;
        continue;
      }
      ++counts[entries[i].offset];
      ++live;
      extent = i + 1;
      // Published: an issuer killed between its commit and setting the flag left it unset.
      std::atomic_ref<std::uint16_t>(heap_->header_at(entries[i].offset)->flags)
          .fetch_or(layout::kFrozen, std::memory_order_release);
    }
    table->live = live;
    std::atomic_ref(table->extent).store(extent, std::memory_order_release);
  }

  // Parents own their children: count every used object's live children
  // and every channel's pending items (the same test drop_reference_locked
  // uses when the parent goes; a poisoned channel owns none). An owned child
  // is published, so frozen: a publisher killed between its commit and
  // setting kFrozen (send_locked, allocate_object) left the flag unset.
  for (std::uint64_t at = h->heap_begin; at < h->heap_end; at += heap_->header_at(at)->size) {
    if (heap_->header_at(at)->state != static_cast<std::uint32_t>(BlockState::used)) continue;
    // Only objects, channels and channel ends own children; their kind
    // never changes without the lock, but a recycler may be storing a raw
    // block's now.
    const std::uint32_t kind = kind_of(heap_->header_at(at));
    if (kind != static_cast<std::uint32_t>(BlockKind::object) && kind != static_cast<std::uint32_t>(BlockKind::channel) &&
        kind != static_cast<std::uint32_t>(BlockKind::channel_end)) {
      continue;
    }
    for (std::uint64_t child : owned_children_locked(at)) {
      ++counts[child];
      std::atomic_ref<std::uint16_t>(heap_->header_at(child)->flags).fetch_or(layout::kFrozen, std::memory_order_release);
    }
  }
  for (std::uint64_t at = h->heap_begin; at < h->heap_end; at += heap_->header_at(at)->size) {
    BlockHeader* block = heap_->header_at(at);
    if (block->state != static_cast<std::uint32_t>(BlockState::used)) continue;
    const auto counted = counts.find(at);
    set_refcount_locked(block, counted == counts.end() ? 0 : counted->second);
  }

  // Free what no one owns. Collect first: freeing changes the chain.
  std::vector<std::uint64_t> orphans;
  for (std::uint64_t at = h->heap_begin; at < h->heap_end; at += heap_->header_at(at)->size) {
    const BlockHeader* block = heap_->header_at(at);
    if (block->state != static_cast<std::uint32_t>(BlockState::used)) continue;
    const bool is_ledger = kind_of(block) == kLedger;
    if (is_ledger ? !owned_ledgers.contains(at) : block->refcount == 0) orphans.push_back(at);
  }
  // Dropping the (zero) reference frees each orphan and releases its
  // children; an orphan already freed as another's child is skipped. Ends
  // freed here are not counted out (the counts may be stale, and an orphan
  // end may be one whose maker died before writing it): the recount below
  // counts the ends that are left.
  repairing_ = true;
  struct Done {
    bool& flag;
    ~Done() { flag = false; }
  } done{repairing_};
  for (std::uint64_t at : orphans) {
    BlockHeader* block = heap_->header_at(at);
    if (block->state != static_cast<std::uint32_t>(BlockState::used)) continue;
    if (kind_of(block) == kLedger) {
      heap_->free(at);
    } else {
      set_refcount_locked(block, 1);
      drop_reference_locked(at);
    }
  }

  // Channels' end counts, from the live ends; the closes a dead lock owner
  // did not make (it counted out a last end, or was freeing one).
  recount_channel_ends_locked();
}

}  // namespace shoal
