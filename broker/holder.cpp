// holder.cpp — holder slots: attaching one, and the references it takes
// and releases through its ledger (HeldBlock).
//
// Every shared reference a holder takes is one ledger entry in the arena.
// Taking one: write the entry (commit), then raise the block's refcount.
// Dropping one: clear the entry (commit), then lower the refcount and free
// the block at zero. Both happen under the arena lock; if a process dies in
// between, repair (repair.cpp) recounts every refcount from the ledgers, so
// the entry is the truth and the count follows it.
//
// Where the rest lives: the ledger's blocks (ledger.cpp), new blocks and
// objects (allocation.cpp), the recycling cache, which takes and gives back
// blocks without the lock (recycling.cpp), dropping references and what
// they owned (references.cpp), and reaping dead holders (reclamation.cpp).
#include "shoal/holder.hpp"

#include <algorithm>
#include <atomic>
#include <utility>

#include "arena_lock.hpp"
#include "block_heap.hpp"
#include "clock.hpp"
#include "core_internals.hpp"
#include "shoal/errors.hpp"
#include "process_identity.hpp"
#include "recycling.hpp"
#include "test_hooks.hpp"

namespace shoal {

using layout::BlockHeader;
using layout::BlockKind;
using layout::ChildTable;
using layout::HolderSlot;
using layout::LedgerEntry;
using layout::SlotState;

namespace {
constexpr auto kActive = static_cast<std::uint32_t>(SlotState::active);
}  // namespace

std::unique_ptr<Holder> Arena::attach_holder(std::int64_t interpreter_id) {
  const ProcessIdentity me = current_process();
  for (int attempt = 0; attempt < 2; ++attempt) {
    {
      ArenaLock lock(*this);
      if (header()->lifecycle != static_cast<std::uint32_t>(layout::ArenaLifecycle::open)) {
        // Being destroyed (retire): its name goes when its last holder leaves.
        throw ArenaNotFound("arena '" + name_ + "' is being destroyed: it accepts no new holders, and is unlinked "
                            "when its last holder leaves (see `shoal ls`)");
      }
      for (std::uint32_t i = 0; i < layout::kMaxHolders; ++i) {
        HolderSlot& slot = header()->holders[i];
        if (slot.state == kActive) continue;
        const std::uint64_t epoch = slot.epoch + 1;
        slot.pid = me.pid;
        slot.start_time = me.start_time;
        slot.interpreter_id = interpreter_id;
        slot.epoch = epoch;
        slot.ledger_head = 0;
        slot.refs_held = 0;
        slot.bytes_held = 0;
        slot.attached_ns = clock::realtime_ns();
        slot.cached_blocks = 0;
        slot.cached_bytes = 0;
        slot.intent = layout::Intent{};  // idle (a slot is released with its intent cleared)
        slot.state = kActive;  // commit
        std::unique_ptr<Holder> holder = HolderInternals::make(shared_from_this(), i, epoch);
        try {
          HolderInternals::reserve_entry_locked(*holder);  // its first ledger block, now
        } catch (const ArenaFull&) {
          slot.state = static_cast<std::uint32_t>(SlotState::free);
          HolderInternals::mark_detached(*holder);
          throw;
        }
        return holder;
      }
    }
    if (reap_dead_holders() == 0) break;
  }
  throw TooManyHolders("arena '" + name_ + "': all " + std::to_string(layout::kMaxHolders) +
                       " holder slots are taken by live processes");
}

Holder::Holder(std::shared_ptr<Arena> arena, std::uint32_t slot, std::uint64_t epoch)
    : arena_(std::move(arena)),
      slot_(slot),
      epoch_(epoch),
      fork_generation_(fork_generation()),
      base_(arena_->base()),
      slot_header_(&ArenaInternals::header(*arena_)->holders[slot]),
      blocks_(&ArenaInternals::blocks(*arena_)) {}

Holder::~Holder() {
  if (!attached_ || !usable_here()) return;
  try {
    ArenaLock lock(*arena_);
    const HolderSlot& slot = *slot_header_;
    if (slot.state == kActive && slot.epoch == epoch_) ArenaInternals::release_all_locked(*arena_, slot_);
    ArenaInternals::unlink_if_unheld_locked(*arena_);  // the last holder of a closing arena
  } catch (const Error&) {
    // The lock timed out or the arena is corrupt: our references stay in
    // the ledger, and are reaped once this process exits.
  }
}

// The constructor called fork_generation(), which started the counting.

HeldBlock Holder::retain(Handle h) {
  if (!usable_here()) throw InvalidArgument("a holder cannot be used in a child process after fork()");
  ArenaLock lock(*arena_);
  if (blocks_->resolve(h) == nullptr) {
    throw InvalidHandle("arena '" + arena_->name() + "': handle " + to_string(h) + " names no live block");
  }
  test_hooks::reach(test_hooks::Point::retain_after_resolve);
  ensure_free_entry_locked();
  // Raised by CAS, then the generation checked again: the block's owner
  // thread may have recycled it since it was resolved (without the lock).
  if (!ArenaInternals::take_reference_locked(*arena_, h)) {
    throw InvalidHandle("arena '" + arena_->name() + "': handle " + to_string(h) + " names no live block");
  }
  return record_locked(h.offset, /*take_over=*/true);  // the count is raised: the entry takes it
}

std::uint64_t Holder::refs_held() {
  ArenaLock lock(*arena_);
  const HolderSlot& slot = *slot_header_;
  // The cache's entries hold blocks, not values: not counted.
  return slot.refs_held - std::min(slot.refs_held, std::atomic_ref(slot.cached_blocks).load(std::memory_order_relaxed));
}

HeldBlock Holder::record_locked(std::uint64_t offset, bool take_over, bool recyclable) {
  BlockHeader* block = blocks_->header_at(offset);
  auto& unused = unused_[lowest_with_room_];
  const auto index = static_cast<std::uint32_t>(lowest_with_room_ * layout::kLedgerChunkEntries + unused.back());
  unused.pop_back();
  --unused_total_;
  LedgerEntry* entry = entry_at(index);
  entry->generation = recyclable ? 0 : block->generation;
  std::atomic_ref(entry->offset).store(offset, std::memory_order_release);  // commit: this holder owns a reference
  test_hooks::reach(test_hooks::Point::ledger_after_add);
  if (!take_over) ArenaInternals::add_held_reference_locked(block);
  HolderSlot& slot = *slot_header_;
  ++slot.refs_held;
  slot.bytes_held += block->size;
  const Handle handle{offset, block->generation};
  std::byte* payload = base_ + offset + layout::kBlockHeaderBytes;
  // Each length read once and bounded: a stray write since the block was
  // resolved must not make the span reach past it.
  std::span<std::byte> bytes{payload, static_cast<std::size_t>(blocks_->payload_bytes(offset))};
  if (block->kind == static_cast<std::uint32_t>(BlockKind::object)) {
    auto* table = reinterpret_cast<ChildTable*>(payload);
    const std::uint64_t body = bytes.size() >= sizeof(ChildTable)
                                   ? std::atomic_ref(table->body_offset).load(std::memory_order_relaxed)
                                   : bytes.size();
    bytes = body <= bytes.size() ? bytes.subspan(body) : std::span<std::byte>{};  // the user's part: the body
  }
  return HeldBlock(this, index, entry, handle, bytes);
}

HeldBlock Holder::record_new_locked(std::uint64_t offset, bool recyclable) {
  // No one else can see the block yet: a plain store sets it up.
  std::atomic_ref(blocks_->header_at(offset)->refcount).store(1, std::memory_order_relaxed);
  return record_locked(offset, /*take_over=*/true, recyclable);
}

bool HolderInternals::usable_here(const Holder& holder) { return holder.usable_here(); }

void Holder::release(std::uint32_t index, LedgerEntry* ledger, Handle h) noexcept {
  if (!usable_here()) return;  // a forked child must not drop its parent's references
  if (ledger->generation == 0 && release_to_cache(index, ledger, h)) return;
  try {
    ArenaLock lock(*arena_);
    LedgerEntry* entry = entry_at(index);
    // Still the reference we hold? (Not if repair or a reaping took it.)
    const std::uint64_t generation =
        entry->generation != 0 ? entry->generation : blocks_->header_at(h.offset)->generation;
    if (entry->offset != h.offset || generation != h.generation) return;
    ArenaInternals::release_ledger_entry_locked(*arena_, slot_, entry);
    entry_unused_locked(index);
  } catch (const Error&) {
    // The lock timed out or the arena is corrupt: the reference stays in the
    // ledger and is reaped once this process exits. Nothing is freed twice.
  }
}

void Holder::forget_locked(HeldBlock& block) {
  LedgerEntry* entry = entry_at(block.entry_);
  BlockHeader* header = blocks_->header_at(block.handle_.offset);
  entry->offset = 0;  // commit: this holder no longer owns the reference
  HolderSlot& slot = *slot_header_;
  --slot.refs_held;
  slot.bytes_held -= header->size;
  entry_unused_locked(block.entry_);
  block.holder_ = nullptr;
  block.handle_ = Handle{};
  block.bytes_ = {};
}

bool HeldBlock::frozen() const {
  if (holder_ == nullptr) return false;
  auto* block = reinterpret_cast<layout::BlockHeader*>(holder_->arena().base() + handle_.offset);
  return (std::atomic_ref<std::uint16_t>(block->flags).load(std::memory_order_acquire) & layout::kFrozen) != 0;
}

layout::BlockKind HeldBlock::kind() const {
  if (holder_ == nullptr) return layout::BlockKind::none;
  auto* block = reinterpret_cast<layout::BlockHeader*>(holder_->arena().base() + handle_.offset);
  return static_cast<layout::BlockKind>(std::atomic_ref<std::uint32_t>(block->kind).load(std::memory_order_acquire));
}

}  // namespace shoal
