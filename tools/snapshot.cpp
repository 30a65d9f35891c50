// snapshot.cpp — see snapshot.hpp.
#include "snapshot.hpp"

#include <algorithm>
#include <cstring>
#include <memory>

#include "in_flight_view.hpp"
#include "liveness.hpp"

namespace shoal::cli {
namespace {

using layout::ArenaHeader;
using layout::BlockHeader;
using layout::BlockState;

// Header geometry as the copy records it, checked against the mapping.
bool geometry_sound(const ArenaHeader& h, std::uint64_t mapped) {
  return h.heap_begin % layout::kAlign == 0 && h.heap_begin >= layout::kHeaderBytes && h.heap_begin < h.heap_end &&
         h.heap_end <= mapped;
}

// Walks the chain of blocks in [heap_begin, heap_end). Each header is
// copied out before it is looked at; a block must lie wholly inside the
// heap, so `at` grows by at least kMinBlockBytes a step and the loop ends.
BlockWalk walk_blocks(const std::byte* base, std::uint64_t begin, std::uint64_t end) {
  BlockWalk walk;
  for (std::uint64_t at = begin; at < end;) {
    const std::string where = "block at offset " + std::to_string(at);
    if (end - at < layout::kMinBlockBytes) {
      walk.error = where + " leaves too little room for a block";
      break;
    }
    BlockHeader block;
    std::memcpy(&block, base + at, sizeof block);
    if (block.tag != layout::kBlockTag) {
      walk.error = where + " has no block tag; the chain is broken there";
      break;
    }
    if (block.size < layout::kMinBlockBytes || block.size % layout::kAlign != 0 || block.size > end - at) {
      walk.error = where + " has impossible size " + std::to_string(block.size);
      break;
    }
    if (block.state == static_cast<std::uint32_t>(BlockState::free)) {
      walk.free.add(block.size);
      walk.largest_free = std::max(walk.largest_free, block.size);
    } else if (block.state == static_cast<std::uint32_t>(BlockState::used) && block.kind != 0 &&
               block.kind < layout::kBlockKindCount) {
      walk.used_by_kind[block.kind].add(block.size);
    } else {
      walk.unknown.add(block.size);
    }
    at += block.size;
  }
  return walk;
}

// Copies the fields the CLI shows out of a header copy (not the live one).
void fill_from_header(Snapshot& s, const ArenaHeader& h, std::uint64_t mapped) {
  s.size = h.arena_size;
  s.heap_bytes = geometry_sound(h, mapped) ? h.heap_end - h.heap_begin : 0;
  s.used_bytes = h.used_bytes;
  s.used_blocks = h.used_blocks;
  s.free_blocks = h.free_blocks;
  s.repairs = h.repairs;
  s.reaped_holders = h.reaped_holders;
  s.created_ns = h.created_ns;
  s.creator_pid = h.creator_pid;
  s.creator_start_time = h.creator_start_time;
  s.reaper_pid = h.reaper.pid;
  s.reaper_start_time = h.reaper.start_time;
  s.lifecycle = h.lifecycle;
  s.holders.clear();
  for (std::uint32_t i = 0; i < layout::kMaxHolders; ++i) {
    const layout::HolderSlot& slot = h.holders[i];
    if (slot.state != static_cast<std::uint32_t>(layout::SlotState::active)) continue;
    s.holders.push_back(HolderView{i, slot.pid, slot.start_time, slot.interpreter_id, slot.refs_held,
                                   slot.bytes_held, slot.attached_ns, /*alive=*/false});
  }
}

}  // namespace

std::uint64_t BlockWalk::used_bytes() const {
  std::uint64_t total = unknown.bytes;
  for (const Tally& t : used_by_kind) total += t.bytes;
  return total;
}

std::uint64_t Snapshot::holders_alive() const {
  return static_cast<std::uint64_t>(std::count_if(holders.begin(), holders.end(), [](const HolderView& h) { return h.alive; }));
}

Snapshot take_snapshot(const Arena& arena, Depth depth) {
  const std::byte* base = arena.base();
  const std::uint64_t mapped = arena.size();  // attach() checked it holds a whole header
  Snapshot s;
  s.name = arena.name();
  s.path = "/dev/shm/" + Arena::segment_name(arena.name());
  s.walked = depth == Depth::blocks;

  const Clocks clocks = Clocks::now();  // only for the entries' times, which a count ignores
  // On the heap: a header copy is over 128 KiB (the holder slots).
  auto header = std::make_unique<ArenaHeader>();
  s.read = read_consistently(base, [&] {
    std::memcpy(static_cast<void*>(header.get()), base, sizeof(ArenaHeader));
    fill_from_header(s, *header, mapped);
    // Counted here, not trusted from the table's `live` (derived, so
    // possibly stale after a death): the entries themselves own the refs.
    s.in_flight = read_in_flight(base, mapped, clocks).size();
    if (s.walked && geometry_sound(*header, mapped)) {
      s.blocks = walk_blocks(base, header->heap_begin, header->heap_end);
    } else if (s.walked) {
      s.blocks = BlockWalk{};
      s.blocks.error = "the header's heap bounds are inconsistent";
    }
  });

  // Liveness reads /proc: done once, after the copy, outside the retry loop.
  for (HolderView& h : s.holders) h.alive = holder_alive(h.pid, h.start_time);
  s.creator_alive = holder_alive(s.creator_pid, s.creator_start_time);
  s.reaper_alive = s.reaper_pid != 0 && holder_alive(s.reaper_pid, s.reaper_start_time);
  return s;
}

}  // namespace shoal::cli
