// holder.cpp — holder slots, their ledgers, and reaping dead holders.
//
// Every shared reference a holder takes is one ledger entry in the arena.
// Taking one: write the entry (commit), then raise the block's refcount.
// Dropping one: clear the entry (commit), then lower the refcount and free
// the block at zero. Both happen under the arena lock; if a process dies in
// between, repair (repair.cpp) recounts every refcount from the ledgers, so
// the entry is the truth and the count follows it.
//
// Recycling (holder.hpp) is the exception: a recyclable entry keeps owning
// its block while the attaching thread moves it into and out of the cache
// without the lock. Only block fields no one else writes change (kind,
// generation, requested, site, flags, created_ns; atomically, since
// lock-holders read them), never an entry or a refcount, so a death at any
// point leaves the entry owning a used block, which reaping frees.
#include "shoal/holder.hpp"


#include <algorithm>
#include <atomic>
#include <cstring>
#include <utility>

#include "arena_lock.hpp"
#include "block_heap.hpp"
#include "clock.hpp"
#include "shoal/process_identity.hpp"
#include "shoal/errors.hpp"
#include "shoal/test_hooks.hpp"

namespace shoal {

using layout::ArenaHeader;
using layout::BlockHeader;
using layout::BlockKind;
using layout::ChildEntry;
using layout::ChildTable;
using layout::HolderSlot;
using layout::LedgerChunk;
using layout::LedgerEntry;
using layout::SlotState;

namespace {

constexpr auto kActive = static_cast<std::uint32_t>(SlotState::active);

LedgerChunk* chunk_at(std::byte* base, std::uint64_t block_offset) {
  return reinterpret_cast<LedgerChunk*>(base + block_offset + layout::kBlockHeaderBytes);
}

LedgerEntry* entries_of(LedgerChunk* chunk) { return reinterpret_cast<LedgerEntry*>(chunk + 1); }

constexpr std::uint64_t kLedgerPayloadBytes =
    sizeof(LedgerChunk) + std::uint64_t{layout::kLedgerChunkEntries} * sizeof(LedgerEntry);

}  // namespace

// ------------------------------------------------------------- Arena -----

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
        slot.state = kActive;  // commit
        std::unique_ptr<Holder> holder(new Holder(shared_from_this(), i, epoch));
        try {
          holder->ensure_free_entry_locked();  // its first ledger block, now
        } catch (const ArenaFull&) {
          slot.state = static_cast<std::uint32_t>(SlotState::free);
          holder->attached_ = false;
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

void Arena::release_ledger_entry_locked(std::uint32_t slot_index, LedgerEntry* entry) {
  const Handle h{entry->offset, entry->generation};
  entry->offset = 0;  // commit: this holder no longer owns the reference
  test_hooks::reach(test_hooks::Point::ledger_after_clear);
  BlockHeader* block = h.generation == 0 ? heap_->resolve_recyclable(h.offset, slot_index) : heap_->resolve(h);
  if (block == nullptr) return;  // already repaired away
  HolderSlot& slot = header()->holders[slot_index];
  --slot.refs_held;
  slot.bytes_held -= block->size;
  drop_reference_locked(h.offset);
}

std::vector<std::uint64_t> Arena::owned_children_locked(std::uint64_t offset) const {
  const BlockHeader* block = heap_->header_at(offset);
  const std::byte* payload = base_ + offset + layout::kBlockHeaderBytes;
  const std::uint64_t payload_bytes = block->size - layout::kBlockHeaderBytes;
  // The entries this block owns, as (first, count, ring capacity).
  const ChildEntry* entries = nullptr;
  std::uint64_t first = 0;
  std::uint64_t count = 0;
  std::uint64_t ring = 1;
  if (block->kind == static_cast<std::uint32_t>(BlockKind::object)) {
    ChildTable table;
    std::memcpy(&table, payload, sizeof table);
    if (!layout::child_table_is_sane(table, payload_bytes)) return {};
    entries = reinterpret_cast<const ChildEntry*>(payload + sizeof(ChildTable));
    count = table.count;
    ring = std::max<std::uint64_t>(count, 1);
  } else if (block->kind == static_cast<std::uint32_t>(BlockKind::channel)) {
    layout::ChannelHeader channel;
    std::memcpy(&channel, payload, sizeof channel);
    if (!layout::channel_is_sane(channel, payload_bytes)) return {};
    entries = reinterpret_cast<const ChildEntry*>(payload + sizeof(layout::ChannelHeader));
    first = channel.head;
    count = layout::channel_pending(channel);  // the pending items; none once poisoned
    ring = channel.capacity;
  } else {
    return {};
  }
  std::vector<std::uint64_t> owned;
  for (std::uint64_t i = 0; i < count; ++i) {
    const ChildEntry& entry = entries[(first + i) % ring];
    const BlockHeader* child = heap_->resolve(Handle{entry.offset, entry.generation});
    // The same test as repair's recount, so the two always agree.
    if (child != nullptr && entry.offset != offset &&
        child->kind != static_cast<std::uint32_t>(BlockKind::ledger)) {
      owned.push_back(entry.offset);
    }
  }
  return owned;
}

void Arena::drop_reference_locked(std::uint64_t offset) {
  // A worklist, not recursion: a long chain of parents must not overflow
  // the stack.
  std::vector<std::uint64_t> work{offset};
  while (!work.empty()) {
    const std::uint64_t at = work.back();
    work.pop_back();
    BlockHeader* block = heap_->header_at(at);
    if (block->refcount == 0) continue;  // only a corrupt arena gets here; repair recounts
    set_refcount_locked(block, block->refcount - 1);
    if (block->refcount != 0) continue;
    const std::vector<std::uint64_t> children = owned_children_locked(at);
    heap_->free(at);
    if (!children.empty()) test_hooks::reach(test_hooks::Point::drop_after_free_parent);
    work.insert(work.end(), children.begin(), children.end());
  }
}

void Arena::add_reference_locked(BlockHeader* block) { set_refcount_locked(block, block->refcount + 1); }

void Arena::set_refcount_locked(BlockHeader* block, std::uint32_t count) {
  std::atomic_ref(block->refcount).store(count, std::memory_order_release);
}

LedgerChunk* Arena::ledger_chunk_locked(std::uint64_t offset) const {
  if (!heap_->is_block_start(offset)) return nullptr;
  const BlockHeader* block = heap_->header_at(offset);
  if (block->state != static_cast<std::uint32_t>(layout::BlockState::used) ||
      block->kind != static_cast<std::uint32_t>(BlockKind::ledger)) {
    return nullptr;
  }
  auto* chunk = chunk_at(base_, offset);
  const std::uint64_t room = (block->size - layout::kBlockHeaderBytes - sizeof(LedgerChunk)) / sizeof(LedgerEntry);
  return chunk->capacity <= room ? chunk : nullptr;
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
    LedgerChunk* chunk = chunk_at(base_, chunks[c]);
    LedgerEntry* entries = entries_of(chunk);
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

// ------------------------------------------------------------ Holder -----

Holder::Holder(std::shared_ptr<Arena> arena, std::uint32_t slot, std::uint64_t epoch)
    : arena_(std::move(arena)),
      slot_(slot),
      epoch_(epoch),
      fork_generation_(fork_generation()),
      base_(arena_->base_),
      slot_header_(&arena_->header()->holders[slot]) {}

Holder::~Holder() {
  if (!attached_ || !usable_here()) return;
  try {
    ArenaLock lock(*arena_);
    const HolderSlot& slot = arena_->header()->holders[slot_];
    if (slot.state == kActive && slot.epoch == epoch_) arena_->release_all_locked(slot_);
    arena_->unlink_if_unheld_locked();  // the last holder of a closing arena
  } catch (const Error&) {
    // The lock timed out or the arena is corrupt: our references stay in
    // the ledger, and are reaped once this process exits.
  }
}

// The constructor called fork_generation(), which started the counting.
bool Holder::usable_here() const { return fork_generation_now() == fork_generation_; }

LedgerEntry* Holder::entry_at(std::uint32_t index) const {
  const std::uint64_t chunk = chunks_[index / layout::kLedgerChunkEntries];
  return entries_of(chunk_at(arena_->base_, chunk)) + index % layout::kLedgerChunkEntries;
}

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
    offset = arena_->heap_->allocate(bytes, kind, slot_);
  } catch (const ArenaFull&) {
    if (!on_owner_thread() || cached_bytes_ == 0) {  // the cache is the owner thread's alone: ask first
      shrink_ledger_locked();  // a ledger block grown for this call goes back too
      throw;
    }
    flush_cache_locked();  // our cache first: then the heap has all we can give
    try {
      offset = arena_->heap_->allocate(bytes, kind, slot_);
    } catch (const ArenaFull&) {
      shrink_ledger_locked();
      throw;
    }
  }
  arena_->heap_->header_at(offset)->site = site;
  const bool recycle = recyclable(bytes, kind);
  if (recycle && on_owner_thread()) reserve_generations_locked();
  return record_locked(offset, /*take_over=*/false, recycle);
}

HeldBlock Holder::try_allocate_cached(std::uint64_t bytes, BlockKind kind, std::uint32_t site) noexcept {
  if (!usable_here()) return {};
  return allocate_from_cache(bytes, kind, site);
}

// ------------------------------------------------------------ recycling --

bool Holder::recyclable(std::uint64_t bytes, BlockKind kind) {
  return (kind == BlockKind::raw || kind == BlockKind::blob) && bytes <= kMaxCachedPayload;
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

HeldBlock Holder::allocate_from_cache(std::uint64_t bytes, BlockKind kind, std::uint32_t site) {
  if (!recyclable(bytes, kind) || !on_owner_thread()) return {};
  const std::uint64_t capacity = BlockHeap::block_bytes_for(bytes) - layout::kBlockHeaderBytes;
  CachedStack& stack = cache_[capacity / layout::kAlign - 1];
  if (stack.count == 0) return {};
  const CachedBlock cached = stack.blocks[--stack.count];
  const std::uint32_t entry = entry_of(cached);
  LedgerEntry* ledger = first_entries_ + entry;
  const std::uint64_t offset = offset_of(cached);
  BlockHeader* block = reinterpret_cast<BlockHeader*>(base_ + offset);  // ours: the entry owns it
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
  ArenaHeader* header = arena_->header();
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
      if (arena_->heap_->resolve_recyclable(offset_of(cached), slot_) != nullptr) {
        count_cached(-1, -static_cast<std::int64_t>(block_bytes));
      }
      // Still ours, unless reaped meanwhile (then it reads 0).
      if (ledger->offset == offset_of(cached)) arena_->release_ledger_entry_locked(slot_, ledger);
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

HeldBlock Holder::retain(Handle h) {
  if (!usable_here()) throw InvalidArgument("a holder cannot be used in a child process after fork()");
  ArenaLock lock(*arena_);
  if (arena_->heap_->resolve(h) == nullptr) {
    throw InvalidHandle("arena '" + arena_->name() + "': handle " + to_string(h) + " names no live block");
  }
  ensure_free_entry_locked();
  return record_locked(h.offset);
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
    const BlockHeader* child = arena_->heap_->resolve(children[i]);
    if (child == nullptr || child->kind == static_cast<std::uint32_t>(BlockKind::ledger)) {
      throw InvalidHandle("arena '" + arena_->name() + "': child " + std::to_string(i) + " (" +
                          to_string(children[i]) + ") names no live block");
    }
    holds_channel = holds_channel || child->kind == static_cast<std::uint32_t>(BlockKind::channel) ||
                    (std::atomic_ref<const std::uint16_t>(child->flags).load(std::memory_order_relaxed) &
                     layout::kHoldsChannel) != 0;
  }
  ensure_free_entry_locked();
  std::uint64_t offset = 0;
  try {
    offset = arena_->heap_->allocate(table_bytes + body_bytes, BlockKind::object, slot_);
  } catch (const ArenaFull&) {
    shrink_ledger_locked();
    throw;
  }
  arena_->heap_->header_at(offset)->site = site;
  if (holds_channel) {
    std::atomic_ref<std::uint16_t>(arena_->heap_->header_at(offset)->flags)
        .store(layout::kHoldsChannel, std::memory_order_relaxed);  // no one else sees the block yet
  }
  std::byte* payload = arena_->base_ + offset + layout::kBlockHeaderBytes;
  auto* entries = reinterpret_cast<ChildEntry*>(payload + sizeof(ChildTable));
  for (std::size_t i = 0; i < children.size(); ++i) entries[i] = ChildEntry{children[i].offset, children[i].generation};
  auto* table = reinterpret_cast<ChildTable*>(payload);
  table->checksum = 0;  // sealed later, if at all (Arena::seal_checksum)
  table->body_offset = table_bytes;
  table->count = static_cast<std::uint32_t>(children.size());  // commit: the table is complete
  test_hooks::reach(test_hooks::Point::object_after_table);
  for (const Handle& child : children) {
    BlockHeader* block = arena_->heap_->header_at(child.offset);
    Arena::add_reference_locked(block);
    // Published as part of an object: its bytes are final now.
    std::atomic_ref<std::uint16_t>(block->flags).fetch_or(layout::kFrozen, std::memory_order_release);
  }
  return record_locked(offset);
}

std::uint64_t Holder::refs_held() {
  ArenaLock lock(*arena_);
  const HolderSlot& slot = arena_->header()->holders[slot_];
  // The cache's entries hold blocks, not values: not counted.
  return slot.refs_held - std::min(slot.refs_held, std::atomic_ref(slot.cached_blocks).load(std::memory_order_relaxed));
}

void Holder::ensure_free_entry_locked() {
  HolderSlot& slot = arena_->header()->holders[slot_];
  if (slot.state != kActive || slot.epoch != epoch_) {
    throw InvalidArgument("arena '" + arena_->name() + "': holder slot " + std::to_string(slot_) +
                          " was reaped (was this process thought dead?)");
  }
  while (lowest_with_room_ < chunks_.size() && unused_[lowest_with_room_].empty()) ++lowest_with_room_;
  if (lowest_with_room_ < chunks_.size()) return;

  const std::uint64_t offset = arena_->heap_->allocate(kLedgerPayloadBytes, BlockKind::ledger, slot_);
  LedgerChunk* chunk = chunk_at(arena_->base_, offset);
  std::memset(static_cast<void*>(chunk), 0, kLedgerPayloadBytes);
  chunk->capacity = layout::kLedgerChunkEntries;
  chunk->owner_slot = slot_;
  // Commit: link it at the end of the chain. Until here a death leaves an
  // unowned ledger block, which repair frees.
  if (chain_.empty()) {
    slot.ledger_head = offset;
    first_entries_ = entries_of(chunk);  // never given back while the holder lives
  } else {
    chunk_at(arena_->base_, chunks_[chain_.back()])->next = offset;
  }
  // Its number: the lowest hole, else a new one.
  const auto hole = std::find(chunks_.begin() + (chunks_.empty() ? 0 : 1), chunks_.end(), std::uint64_t{0});
  const auto number = static_cast<std::size_t>(hole - chunks_.begin());
  if (hole == chunks_.end()) {
    chunks_.push_back(offset);
    unused_.emplace_back();
  } else {
    *hole = offset;
  }
  chain_.push_back(static_cast<std::uint32_t>(number));
  auto& unused = unused_[number];
  unused.reserve(layout::kLedgerChunkEntries);
  for (std::uint32_t i = layout::kLedgerChunkEntries; i-- > 0;) unused.push_back(i);  // lowest on top
  unused_total_ += layout::kLedgerChunkEntries;
  lowest_with_room_ = number;
}

void Holder::give_back_chunk_locked(std::size_t number) {
  const auto at = std::find(chain_.begin(), chain_.end(), static_cast<std::uint32_t>(number));
  if (number == 0 || at == chain_.end()) return;  // the first block stays; (never unlinked twice)
  const std::uint64_t offset = chunks_[number];
  LedgerChunk* before = chunk_at(arena_->base_, chunks_[*(at - 1)]);
  before->next = chunk_at(arena_->base_, offset)->next;  // commit: unlinked, owned by no one
  // A death here leaves a used ledger block no holder links: repair frees it.
  test_hooks::reach(test_hooks::Point::ledger_after_unlink);
  arena_->heap_->free(offset);
  chain_.erase(at);
  chunks_[number] = 0;
  unused_total_ -= unused_[number].size();
  unused_[number].clear();
  unused_[number].shrink_to_fit();
  if (spare_ == number) spare_ = kNoSpare;
  while (chunks_.back() == 0) {  // no trailing holes: the first block is never one
    chunks_.pop_back();
    unused_.pop_back();
  }
  lowest_with_room_ = std::min(lowest_with_room_, chunks_.size() - 1);
}

void Holder::give_back_spare_locked() {
  if (spare_ == kNoSpare || unused_[spare_].size() != layout::kLedgerChunkEntries) return;
  if (room_besides(spare_) >= layout::kLedgerChunkEntries / 2) give_back_chunk_locked(spare_);
}

void Holder::entry_unused_locked(std::uint32_t index) {
  const std::size_t number = index / layout::kLedgerChunkEntries;
  unused_[number].push_back(index % layout::kLedgerChunkEntries);
  ++unused_total_;
  lowest_with_room_ = std::min(lowest_with_room_, number);
  if (number != 0 && unused_[number].size() == layout::kLedgerChunkEntries) {
    if (room_besides(number) >= layout::kLedgerChunkEntries / 2) {
      give_back_chunk_locked(number);
    } else {
      spare_ = number;  // too little room elsewhere: kept for the next allocation
    }
  }
  give_back_spare_locked();
}

void Holder::shrink_ledger_locked() {
  for (std::size_t number = chunks_.size(); number-- > 1;) {
    if (chunks_[number] != 0 && unused_[number].size() == layout::kLedgerChunkEntries) give_back_chunk_locked(number);
  }
}

HeldBlock Holder::record_locked(std::uint64_t offset, bool take_over, bool recyclable) {
  BlockHeader* block = arena_->heap_->header_at(offset);
  auto& unused = unused_[lowest_with_room_];
  const auto index = static_cast<std::uint32_t>(lowest_with_room_ * layout::kLedgerChunkEntries + unused.back());
  unused.pop_back();
  --unused_total_;
  LedgerEntry* entry = entry_at(index);
  entry->generation = recyclable ? 0 : block->generation;
  std::atomic_ref(entry->offset).store(offset, std::memory_order_release);  // commit: this holder owns a reference
  test_hooks::reach(test_hooks::Point::ledger_after_add);
  if (!take_over) Arena::add_reference_locked(block);
  HolderSlot& slot = arena_->header()->holders[slot_];
  ++slot.refs_held;
  slot.bytes_held += block->size;
  const Handle handle{offset, block->generation};
  std::byte* payload = arena_->base_ + offset + layout::kBlockHeaderBytes;
  // Each length read once and bounded: a stray write since the block was
  // resolved must not make the span reach past it.
  std::span<std::byte> bytes{payload, static_cast<std::size_t>(arena_->heap_->payload_bytes(offset))};
  if (block->kind == static_cast<std::uint32_t>(BlockKind::object)) {
    auto* table = reinterpret_cast<ChildTable*>(payload);
    const std::uint64_t body = bytes.size() >= sizeof(ChildTable)
                                   ? std::atomic_ref(table->body_offset).load(std::memory_order_relaxed)
                                   : bytes.size();
    bytes = body <= bytes.size() ? bytes.subspan(body) : std::span<std::byte>{};  // the user's part: the body
  }
  return HeldBlock(this, index, entry, handle, bytes);
}

void Holder::release(std::uint32_t index, LedgerEntry* ledger, Handle h) noexcept {
  if (!usable_here()) return;  // a forked child must not drop its parent's references
  if (ledger->generation == 0 && release_to_cache(index, ledger, h)) return;
  try {
    ArenaLock lock(*arena_);
    LedgerEntry* entry = entry_at(index);
    // Still the reference we hold? (Not if repair or a reaping took it.)
    const std::uint64_t generation =
        entry->generation != 0 ? entry->generation : arena_->heap_->header_at(h.offset)->generation;
    if (entry->offset != h.offset || generation != h.generation) return;
    arena_->release_ledger_entry_locked(slot_, entry);
    entry_unused_locked(index);
  } catch (const Error&) {
    // The lock timed out or the arena is corrupt: the reference stays in the
    // ledger and is reaped once this process exits. Nothing is freed twice.
  }
}

void Holder::forget_locked(HeldBlock& block) {
  LedgerEntry* entry = entry_at(block.entry_);
  BlockHeader* header = arena_->heap_->header_at(block.handle_.offset);
  entry->offset = 0;  // commit: this holder no longer owns the reference
  HolderSlot& slot = arena_->header()->holders[slot_];
  --slot.refs_held;
  slot.bytes_held -= header->size;
  entry_unused_locked(block.entry_);
  block.holder_ = nullptr;
  block.handle_ = Handle{};
  block.bytes_ = {};
}

// --------------------------------------------------------- HeldBlock -----

HeldBlock& HeldBlock::operator=(HeldBlock&& other) noexcept {
  if (this != &other) {
    reset();
    holder_ = std::exchange(other.holder_, nullptr);
    entry_ = other.entry_;
    ledger_ = other.ledger_;
    handle_ = std::exchange(other.handle_, Handle{});
    bytes_ = std::exchange(other.bytes_, {});
  }
  return *this;
}

bool HeldBlock::frozen() const {
  if (holder_ == nullptr) return false;
  auto* block = reinterpret_cast<layout::BlockHeader*>(holder_->arena().base() + handle_.offset);
  return (std::atomic_ref<std::uint16_t>(block->flags).load(std::memory_order_acquire) & layout::kFrozen) != 0;
}

bool HeldBlock::try_recycle() noexcept {
  if (holder_ == nullptr || !holder_->usable_here()) return false;
  if (ledger_->generation != 0 || !holder_->release_to_cache(entry_, ledger_, handle_)) return false;
  holder_ = nullptr;
  handle_ = Handle{};
  bytes_ = {};
  return true;
}

layout::BlockKind HeldBlock::kind() const {
  if (holder_ == nullptr) return layout::BlockKind::none;
  auto* block = reinterpret_cast<layout::BlockHeader*>(holder_->arena().base() + handle_.offset);
  return static_cast<layout::BlockKind>(std::atomic_ref<std::uint32_t>(block->kind).load(std::memory_order_acquire));
}

}  // namespace shoal
