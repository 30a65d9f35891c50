// channel_cycles.cpp — refusing the send that would make a channel own itself.
//
// Blocks own one another two ways: an object owns the children in its child
// table, a channel owns the items pending in its slots, a channel's end owns
// the channel. A block is freed
// when its last owner lets go, so a ring of owners (a channel holding a
// value that holds the channel, or two channels holding each other) would
// never be freed: reaping releases what holders held, and the ring holds
// itself. Nothing else can close such a ring: an object's children are
// fixed before anyone can see it, so checking every send is enough.
//
// The check walks what the item owns, down to this channel or to the end.
// Objects that hold no channel (the flag kHoldsChannel, set when an object
// is made) are leaves, as are blobs: the usual send reads one flag.
#include <atomic>
#include <unordered_set>
#include <vector>

#include "block_heap.hpp"
#include "core_internals.hpp"
#include "shoal/arena.hpp"
#include "shoal/channel.hpp"

namespace shoal {

namespace {

// Whether owning `block` can lead to owning a channel.
bool may_hold_channel(const layout::BlockHeader& block) {
  if (block.kind == static_cast<std::uint32_t>(layout::BlockKind::channel) ||
      block.kind == static_cast<std::uint32_t>(layout::BlockKind::channel_end)) {
    return true;
  }
  return block.kind == static_cast<std::uint32_t>(layout::BlockKind::object) &&
         (std::atomic_ref<const std::uint16_t>(block.flags).load(std::memory_order_relaxed) & layout::kHoldsChannel) != 0;
}

}  // namespace

bool Channel::closes_cycle_locked(std::uint64_t item) const {
  const Arena& arena = holder_->arena();
  const std::uint64_t self = block_.handle().offset;
  // A worklist, not recursion: a long chain of channels must not overflow
  // the stack. Every block is expanded once, so the walk ends.
  std::vector<std::uint64_t> work{item};
  std::unordered_set<std::uint64_t> seen{item};
  while (!work.empty()) {
    const std::uint64_t at = work.back();
    work.pop_back();
    if (at == self) return true;
    if (!may_hold_channel(*ArenaInternals::blocks(arena).header_at(at))) continue;
    // The same entries that refcounts and repair count (bounded there).
    for (const std::uint64_t child : ArenaInternals::owned_children_locked(arena, at)) {
      if (seen.insert(child).second) work.push_back(child);
    }
  }
  return false;
}

}  // namespace shoal
