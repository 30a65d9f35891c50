// census.cpp — see census.hpp.
#include "census.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <unordered_map>

namespace shoal::cli {
namespace {

using layout::ArenaHeader;
using layout::BlockHeader;
using layout::BlockKind;
using layout::BlockState;

template <typename T>
T copy_at(const std::byte* base, std::uint64_t offset) {
  T value;
  std::memcpy(static_cast<void*>(&value), base + offset, sizeof value);
  return value;
}

bool kind_is(const BlockEntry& b, BlockKind kind) { return b.kind == static_cast<std::uint32_t>(kind); }

class Walker {
 public:
  Walker(const std::byte* base, std::uint64_t mapped, const Clocks& clocks)
      : base_(base), mapped_(mapped), clocks_(clocks) {}

  Census run() {
    Census census;
    auto header = std::make_unique<ArenaHeader>();  // > 128 KiB: not on the stack
    std::memcpy(static_cast<void*>(header.get()), base_, sizeof(ArenaHeader));
    const ArenaHeader& h = *header;
    // Not in the heap: readable even when the heap's bounds are not.
    census.in_flight = read_in_flight(base_, mapped_, clocks_);
    if (!(h.heap_begin % layout::kAlign == 0 && h.heap_begin >= layout::kHeaderBytes && h.heap_begin < h.heap_end &&
          h.heap_end <= mapped_)) {
      census.walk_error = "the header's heap bounds are inconsistent";
      return census;
    }
    walk(census, h.heap_begin, h.heap_end);
    for (std::size_t i = 0; i < census.blocks.size(); ++i) index_[census.blocks[i].handle.offset] = i;
    for (std::uint32_t slot = 0; slot < layout::kMaxHolders; ++slot) {
      if (h.holders[slot].state == static_cast<std::uint32_t>(layout::SlotState::active)) {
        read_ledger(census, slot, h.holders[slot].ledger_head);
      }
    }
    for (const InFlightView& entry : census.in_flight) {
      // Offset and generation must match, as for a ledger entry: an entry
      // naming a freed and reused block owns nothing of the new one.
      if (BlockEntry* b = live(census, entry.block.offset, entry.block.generation)) {
        b->owners.push_back({Owner::Kind::in_flight, 0, {}, entry.index});
      }
    }
    for (std::size_t i = 0; i < census.blocks.size(); ++i) {
      const BlockEntry& b = census.blocks[i];
      if (kind_is(b, BlockKind::object)) read_children(census, b);
      if (kind_is(b, BlockKind::channel)) read_channel(census, b);
    }
    // The site table, copied out first (the decoder reads it more than once).
    const auto region = site_table_region(base_, mapped_);
    std::vector<std::byte> sites(region.begin(), region.end());
    census.sites = decode_site_table(sites);
    return census;
  }

 private:
  void walk(Census& census, std::uint64_t begin, std::uint64_t end) {
    for (std::uint64_t at = begin; at < end;) {
      if (end - at < layout::kMinBlockBytes) {
        census.walk_error = "block at offset " + std::to_string(at) + " leaves too little room for a block";
        return;
      }
      const auto block = copy_at<BlockHeader>(base_, at);
      if (block.tag != layout::kBlockTag || block.size < layout::kMinBlockBytes || block.size % layout::kAlign != 0 ||
          block.size > end - at) {
        census.walk_error = "block at offset " + std::to_string(at) + " is not a sound block header";
        return;
      }
      if (block.state == static_cast<std::uint32_t>(BlockState::used)) {
        if (block.kind == static_cast<std::uint32_t>(BlockKind::ledger)) {
          ledgers_[at] = block;
        } else if (block.kind == static_cast<std::uint32_t>(BlockKind::cached)) {
          // Free space a holder keeps for reuse, not a value: `shoal stat`
          // counts it; the object listing leaves it out.
        } else {
          BlockEntry e;
          e.handle = {at, block.generation};
          e.kind = block.kind;
          e.size = block.size;
          e.requested = std::min(block.requested, block.size - layout::kBlockHeaderBytes);
          e.refcount = block.refcount;
          e.created_ns = block.created_ns;
          e.creator_slot = block.creator_slot;
          e.flags = block.flags;
          e.site = block.site;
          census.blocks.push_back(std::move(e));
        }
      }
      at += block.size;
    }
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
      const std::uint64_t payload = it->second.size - layout::kBlockHeaderBytes;
      const auto chunk = copy_at<layout::LedgerChunk>(base_, at + layout::kBlockHeaderBytes);
      const std::uint64_t room = (payload - sizeof(layout::LedgerChunk)) / sizeof(layout::LedgerEntry);
      const std::uint64_t count = std::min<std::uint64_t>(chunk.capacity, room);
      const std::uint64_t first = at + layout::kBlockHeaderBytes + sizeof(layout::LedgerChunk);
      for (std::uint64_t i = 0; i < count; ++i) {
        const auto entry = copy_at<layout::LedgerEntry>(base_, first + i * sizeof(layout::LedgerEntry));
        if (entry.offset == 0) continue;
        // A recyclable entry (generation 0) names its block by offset alone.
        BlockEntry* b = entry.generation == 0 ? live_made_by(census, entry.offset, slot)
                                               : live(census, entry.offset, entry.generation);
        if (b != nullptr) b->owners.push_back({Owner::Kind::holder, slot, {}});
      }
      ledgers_.erase(it);  // visited
      at = chunk.next;
    }
  }

  void read_children(Census& census, const BlockEntry& parent) {
    const std::uint64_t payload = parent.handle.offset + layout::kBlockHeaderBytes;
    const auto table = copy_at<layout::ChildTable>(base_, payload);
    if (!layout::child_table_is_sane(table, parent.requested)) return;
    const Handle owner = parent.handle;
    for (std::uint64_t i = 0; i < table.count; ++i) {
      const auto child = copy_at<layout::ChildEntry>(base_, payload + sizeof table + i * sizeof(layout::ChildEntry));
      if (child.offset == owner.offset) continue;
      if (BlockEntry* b = live(census, child.offset, child.generation)) {
        b->owners.push_back({Owner::Kind::object, 0, owner});
      }
    }
  }

  void read_channel(Census& census, const BlockEntry& block) {
    const std::uint64_t payload = block.handle.offset + layout::kBlockHeaderBytes;
    const auto header = copy_at<layout::ChannelHeader>(base_, payload);
    ChannelEntry c;
    c.handle = block.handle;
    c.refcount = block.refcount;
    c.capacity = header.capacity;
    c.state = header.state;
    c.head = header.head;
    c.tail = header.tail;
    c.sleepers = header.sleepers;
    c.blocked_senders = header.blocked_senders;
    c.blocked_receivers = header.blocked_receivers;
    // Sanity as the core defines it, but any state value: a state this
    // build does not know is shown, not rejected.
    layout::ChannelHeader probe = header;
    probe.state = 0;
    c.sane = layout::channel_is_sane(probe, block.requested);
    if (c.sane) {
      // A poisoned channel's slots own nothing, whatever head and tail say.
      const std::uint64_t pending = layout::channel_pending(header);
      for (std::uint64_t i = header.head; i < header.head + pending; ++i) {
        const std::uint64_t slot = payload + sizeof header + (i % header.capacity) * sizeof(layout::ChildEntry);
        const auto item = copy_at<layout::ChildEntry>(base_, slot);
        c.pending.push_back({item.offset, item.generation});
        if (layout::is_inline_item(item)) {
          ++c.pending_inline;
          continue;
        }
        if (BlockEntry* b = live(census, item.offset, item.generation)) {
          b->owners.push_back({Owner::Kind::channel, 0, block.handle});
          c.pending_bytes += b->size;
        }
      }
    }
    census.channels.push_back(std::move(c));
  }

  const std::byte* base_;
  std::uint64_t mapped_;
  Clocks clocks_;
  std::unordered_map<std::uint64_t, BlockHeader> ledgers_;  // unvisited ledger blocks
  std::unordered_map<std::uint64_t, std::size_t> index_;    // offset -> Census::blocks index
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

}  // namespace shoal::cli
