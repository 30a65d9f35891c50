// references.cpp — the ownership graph: who owns a reference on a block,
// and what dropping the last one sets off.
//
// A block's refcount is the number of its owners: ledger entries of
// holders, entries of the in-flight table, the child tables of objects and
// the pending slots of channels. When the count reaches zero the block is
// freed, and the references it owned (an object's children, a channel's
// pending items) are dropped in turn. owned_children_locked is the one
// definition of what a block owns: dropping, poisoning, cycle checks and
// repair's recount all use it, so they always agree.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "block_heap.hpp"
#include "shoal/arena.hpp"
#include "test_hooks.hpp"

namespace shoal {

using layout::BlockHeader;
using layout::BlockKind;
using layout::ChildEntry;
using layout::ChildTable;

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

void Arena::add_reference_locked(BlockHeader* block) { set_refcount_locked(block, block->refcount + 1); }

void Arena::set_refcount_locked(BlockHeader* block, std::uint32_t count) {
  std::atomic_ref(block->refcount).store(count, std::memory_order_release);
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

}  // namespace shoal
