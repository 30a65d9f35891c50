// census.cpp — see census.hpp.
#include "census.hpp"

#include <algorithm>
#include <unordered_map>

#include "shoal/arena_image.hpp"

namespace shoal::cli {
namespace {

using layout::BlockHeader;
using layout::BlockKind;
using layout::BlockState;

class Walker {
 public:
  Walker(const std::byte* base, std::uint64_t mapped, const Clocks& clocks)
      : image_(base, mapped), clocks_(clocks) {}

  Census run() {
    Census census;
    // Not in the heap: readable even when the heap's bounds are not.
    census.in_flight = read_in_flight(image_, clocks_);
    if (!image_.is_valid()) {
      census.walk_error = "the header's heap bounds are inconsistent";
      return census;
    }
    walk(census);
    for (std::size_t i = 0; i < census.blocks.size(); ++i) index_[census.blocks[i].handle.offset] = i;
    for (std::uint32_t slot = 0; slot < layout::kMaxHolders; ++slot) {
      const layout::HolderSlot holder = image_.holder(slot);
      if (holder.state == static_cast<std::uint32_t>(layout::SlotState::active)) {
        read_ledger(census, slot, holder.ledger_head);
      }
    }
    for (const InFlightView& entry : census.in_flight) {
      // Offset and generation must match, as for a ledger entry: an entry
      // naming a freed and reused block owns nothing of the new one.
      if (BlockEntry* b = live(census, entry.block.offset, entry.block.generation)) {
        b->owners.push_back({Owner::Kind::in_flight, 0, {}, entry.index});
      }
    }
    for (const auto& [at, block] : structured_) {
      if (const auto table = image_.child_table(block)) read_children(census, *table);
      if (const auto channel = image_.channel(block)) read_channel(census, *channel);
      if (const auto end = image_.channel_end(block)) {
        // An end owns its channel.
        if (BlockEntry* b = live(census, end->channel.offset, end->channel.generation)) {
          b->owners.push_back({Owner::Kind::channel_end, 0, {block.offset, block.header.generation}});
        }
      }
    }
    census.sites = image_.sites();
    return census;
  }

 private:
  void walk(Census& census) {
    const auto broken = image_.walk([&](const ArenaImage::Block& b) {
      const BlockHeader& block = b.header;
      if (b.is(BlockKind::ledger)) {
        ledgers_[b.offset] = b;
      } else if (b.is(BlockKind::cached)) {
        // Free space a holder keeps for reuse, not a value: `shoal stat`
        // counts it; the object listing leaves it out.
      } else if (b.used()) {
        BlockEntry e;
        e.handle = {b.offset, block.generation};
        e.kind = block.kind;
        e.size = block.size;
        e.requested = std::min(block.requested, b.payload_bytes());
        e.refcount = block.refcount;
        e.created_ns = block.created_ns;
        e.creator_slot = block.creator_slot;
        e.flags = block.flags;
        e.site = block.site;
        census.blocks.push_back(std::move(e));
        if (b.is(BlockKind::object) || b.is(BlockKind::channel) || b.is(BlockKind::channel_end)) {
          structured_.emplace_back(b.offset, b);
        }
      }
    });
    if (broken) census.walk_error = "block at offset " + std::to_string(broken->offset) + " " + broken->what;
  }

  // The live block `entry` names, if any (offset and generation match).
  BlockEntry* live(Census& census, std::uint64_t offset, std::uint64_t generation) {
    const auto it = index_.find(offset);
    if (it == index_.end()) return nullptr;
    BlockEntry& b = census.blocks[it->second];
    return b.handle.generation == generation ? &b : nullptr;
  }

  // The live block at `offset` if holder `slot` made it.
  BlockEntry* live_made_by(Census& census, std::uint64_t offset, std::uint32_t slot) {
    const auto it = index_.find(offset);
    if (it == index_.end()) return nullptr;
    BlockEntry& b = census.blocks[it->second];
    return b.creator_slot == slot ? &b : nullptr;
  }

  void read_ledger(Census& census, std::uint32_t slot, std::uint64_t at) {
    // Each ledger block is visited at most once, so a cycle ends.
    for (std::size_t steps = 0; at != 0 && steps <= ledgers_.size(); ++steps) {
      const auto it = ledgers_.find(at);
      if (it == ledgers_.end()) return;
      const auto ledger = image_.ledger(it->second);  // a used ledger block: never empty
      for (std::uint64_t i = 0; i < ledger->capacity; ++i) {
        const layout::LedgerEntry entry = image_.ledger_entry(*ledger, i);
        if (entry.offset == 0) continue;
        // A recyclable entry (generation 0) names its block by offset alone.
        BlockEntry* b = entry.generation == 0 ? live_made_by(census, entry.offset, slot)
                                               : live(census, entry.offset, entry.generation);
        if (b != nullptr) b->owners.push_back({Owner::Kind::holder, slot, {}});
      }
      ledgers_.erase(it);  // visited
      at = ledger->chunk.next;
    }
  }

  void read_children(Census& census, const ArenaImage::ChildTable& table) {
    const Handle owner{table.block.offset, table.block.header.generation};
    for (std::uint64_t i = 0; i < table.count; ++i) {  // 0 unless the table is valid
      const layout::ChildEntry child = image_.child(table, i);
      if (child.offset == owner.offset) continue;
      if (BlockEntry* b = live(census, child.offset, child.generation)) {
        b->owners.push_back({Owner::Kind::object, 0, owner});
      }
    }
  }

  void read_channel(Census& census, const ArenaImage::Channel& channel) {
    const layout::ChannelHeader& header = channel.header;
    ChannelEntry c;
    c.handle = {channel.block.offset, channel.block.header.generation};
    c.name = image_.channel_name(channel);
    c.refcount = channel.block.header.refcount;
    c.capacity = header.capacity;
    c.state = header.state;  // shown even when this build does not know it (then not valid)
    c.head = header.head;
    c.tail = header.tail;
    c.sleepers = header.sleepers;
    c.blocked_senders = header.blocked_senders;
    c.blocked_receivers = header.blocked_receivers;
    c.senders = header.senders;
    c.receivers = header.receivers;
    c.ends_tracked = header.ends_tracked;
    c.closed_by = header.closed_by;
    c.sane = channel.valid;
    // The items it owns (channel_pending: none once poisoned), oldest first.
    for (std::uint64_t i = 0; i < channel.pending; ++i) {
      const layout::ChildEntry item = image_.channel_item(channel, i);
      c.pending.push_back({item.offset, item.generation});
      if (layout::is_inline_item(item)) {
        ++c.pending_inline;
        continue;
      }
      if (BlockEntry* b = live(census, item.offset, item.generation)) {
        b->owners.push_back({Owner::Kind::channel, 0, c.handle});
        c.pending_bytes += b->size;
      }
    }
    census.channels.push_back(std::move(c));
  }

  ArenaImage image_;
  Clocks clocks_;
  std::unordered_map<std::uint64_t, ArenaImage::Block> ledgers_;  // unvisited ledger blocks
  std::vector<std::pair<std::uint64_t, ArenaImage::Block>> structured_;  // objects and channels, by offset
  std::unordered_map<std::uint64_t, std::size_t> index_;  // offset -> Census::blocks index
};
}  // namespace

const BlockEntry* Census::find(std::uint64_t offset) const {
  const auto it = std::lower_bound(blocks.begin(), blocks.end(), offset,
                                   [](const BlockEntry& b, std::uint64_t o) { return b.handle.offset < o; });
  return it != blocks.end() && it->handle.offset == offset ? &*it : nullptr;
}

const BlockEntry* Census::find(const Handle& handle) const {
  const BlockEntry* b = find(handle.offset);
  return b != nullptr && b->handle.generation == handle.generation ? b : nullptr;
}

const InFlightView* Census::find_in_flight(std::uint64_t index) const {
  const auto it = std::lower_bound(in_flight.begin(), in_flight.end(), index,
                                   [](const InFlightView& e, std::uint64_t i) { return e.index < i; });
  return it != in_flight.end() && it->index == index ? &*it : nullptr;
}

Census take_census(const Arena& arena) {
  Census census;
  // One pair of clock readings for every retry: an entry's time left is
  // relative to when the census was asked for.
  const Clocks clocks = Clocks::now();
  const ReadOutcome read =
      read_consistently(arena.base(), [&] { census = Walker(arena.base(), arena.size(), clocks).run(); });
  census.read = read;
  census.clocks = clocks;
  return census;
}

std::string channel_state_name(std::uint32_t state) {
  switch (state) {
    case static_cast<std::uint32_t>(layout::ChannelState::open): return "open";
    case static_cast<std::uint32_t>(layout::ChannelState::closed): return "closed";
    case static_cast<std::uint32_t>(layout::ChannelState::poisoned): return "poisoned";
  }
  return "state " + std::to_string(state);
}

std::string channel_closer_name(std::uint8_t closed_by) {
  switch (static_cast<layout::ChannelCloser>(closed_by)) {
    case layout::ChannelCloser::call: return "close";
    case layout::ChannelCloser::senders_gone: return "senders gone";
    case layout::ChannelCloser::receivers_gone: return "receivers gone";
  }
  return "reason " + std::to_string(closed_by);
}

}  // namespace shoal::cli
