// references.cpp — the ownership graph: who owns a reference on a block,
// and what dropping the last one sets off.
//
// A block's refcount is the number of its owners: ledger entries of
// holders, entries of the in-flight table, the child tables of objects and
// the pending slots of channels, and a channel's ends. When the count reaches zero the block is
// freed, and the references it owned (an object's children, a channel's
// pending items, an end's channel) are dropped in turn. owned_children_locked is the one
// definition of what a block owns: dropping, poisoning, cycle checks and
// repair's recount all use it, so they always agree.
#include <atomic>
#include <cstring>
#include <vector>

#include "block_heap.hpp"
#include "shoal/arena.hpp"
#include "shoal/arena_image.hpp"
#include "test_hooks.hpp"

namespace shoal {

using layout::BlockHeader;
using layout::BlockKind;
using layout::ChildEntry;

std::vector<std::uint64_t> Arena::owned_children_locked(std::uint64_t offset) const {
  // Under the lock, on a block the caller knows to be one: the table or
  // channel header is copied once and judged by the reader's own rule
  // (owned_entries, arena_image.hpp), which bounds every entry by the
  // payload. Not through a whole ArenaImage: this runs on every free of
  // an object or channel, and building one costs more than the free.
  const BlockHeader* block = heap_->header_at(offset);
  const std::byte* payload = base_ + offset + layout::kBlockHeaderBytes;
  const std::uint64_t payload_bytes = block->size - layout::kBlockHeaderBytes;
  const std::uint32_t kind = std::atomic_ref(const_cast<BlockHeader*>(block)->kind).load(std::memory_order_relaxed);
  OwnedEntries entries;
  if (kind == static_cast<std::uint32_t>(BlockKind::object)) {
    layout::ChildTable table;
    std::memcpy(&table, payload, sizeof table);
    entries = owned_entries(table, payload_bytes);
  } else if (kind == static_cast<std::uint32_t>(BlockKind::channel)) {
    layout::ChannelHeader channel;
    std::memcpy(&channel, payload, sizeof channel);
    entries = owned_entries(channel, payload_bytes);
  } else if (kind == static_cast<std::uint32_t>(BlockKind::channel_end)) {
    layout::ChannelEnd end;
    if (payload_bytes < sizeof end) return {};
    std::memcpy(&end, payload, sizeof end);
    entries = owned_entries(end, payload_bytes);
  } else {
    return {};
  }
  std::vector<std::uint64_t> owned;
  for (std::uint64_t i = 0; i < entries.count; ++i) {
    ChildEntry entry;
    std::memcpy(&entry, payload + entries.entry_at(i), sizeof entry);
    const BlockHeader* child = heap_->resolve(Handle{entry.offset, entry.generation});
    // The same test as repair's recount, so the two always agree. An
    // inline item (a value in a channel slot) resolves to nothing.
    if (child != nullptr && entry.offset != offset &&
        std::atomic_ref(const_cast<BlockHeader*>(child)->kind).load(std::memory_order_relaxed) !=
            static_cast<std::uint32_t>(BlockKind::ledger)) {
      owned.push_back(entry.offset);
    }
  }
  return owned;
}

bool Arena::add_reference_locked(BlockHeader* block) {
  std::atomic_ref<std::uint32_t> count(block->refcount);
  std::uint32_t seen = count.load(std::memory_order_relaxed);
  do {
    if (seen == 0) return false;  // its owner thread is recycling it (or it is free)
  } while (!count.compare_exchange_weak(seen, seen + 1, std::memory_order_acq_rel, std::memory_order_relaxed));
  return true;
}

bool Arena::take_reference_locked(Handle h) {
  BlockHeader* block = heap_->resolve(h);
  if (block == nullptr || !add_reference_locked(block)) return false;
  // Resolved, then raised: between the two the owner thread may have
  // recycled the block (new generation, count back to 1). Once raised, no
  // recycle can start (it needs the count at 1), so the generation seen now
  // is the one the reference is on.
  if (heap_->resolve(h) == block) return true;
  // The undo cannot reach 0: the block's owner still holds its reference,
  // and any recycle meanwhile failed its CAS 1 -> 0 and waits for our lock.
  std::atomic_ref(block->refcount).fetch_sub(1, std::memory_order_acq_rel);
  return false;
}

void Arena::set_refcount_locked(BlockHeader* block, std::uint32_t count) {
  std::atomic_ref(block->refcount).exchange(count, std::memory_order_acq_rel);
}

void Arena::drop_reference_locked(std::uint64_t offset) {
  // A worklist, not recursion: a long chain of parents must not overflow
  // the stack.
  std::vector<std::uint64_t> work{offset};
  while (!work.empty()) {
    const std::uint64_t at = work.back();
    work.pop_back();
    BlockHeader* block = heap_->header_at(at);
    std::atomic_ref<std::uint32_t> count(block->refcount);
    std::uint32_t seen = count.load(std::memory_order_relaxed);
    do {
      if (seen == 0) break;  // only a corrupt arena gets here; repair recounts
    } while (!count.compare_exchange_weak(seen, seen - 1, std::memory_order_acq_rel, std::memory_order_relaxed));
    if (seen != 1) continue;  // others own it still (or it was at 0)
    // An end counts itself out of its channel while it still holds it
    // (during repair the recount does, from the ends left).
    if (!repairing_ &&
        std::atomic_ref(block->kind).load(std::memory_order_relaxed) == static_cast<std::uint32_t>(BlockKind::channel_end)) {
      channel_end_gone_locked(at);
    }
    const std::vector<std::uint64_t> children = owned_children_locked(at);
    heap_->free(at);
    if (!children.empty()) test_hooks::reach(test_hooks::Point::drop_after_free_parent);
    work.insert(work.end(), children.begin(), children.end());
  }
}

}  // namespace shoal
