// snapshot.cpp — see snapshot.hpp.
#include "snapshot.hpp"

#include <algorithm>

#include "shoal/arena_image.hpp"

#include "in_flight_view.hpp"
#include "liveness.hpp"

namespace shoal::cli {
namespace {

using layout::ArenaHeader;

// Tallies the chain of blocks by kind. The image bounds every step (a
// block lies wholly inside the heap, so the walk ends) and says where the
// chain broke.
BlockWalk walk_blocks(const ArenaImage& image) {
  BlockWalk walk;
  const auto broken = image.walk([&](const ArenaImage::Block& b) {
    if (b.free()) {
      walk.free.add(b.header.size);
      walk.largest_free = std::max(walk.largest_free, b.header.size);
    } else if (b.used() && block_is_valid(b.header)) {
      walk.used_by_kind[b.header.kind].add(b.header.size);
    } else {
      walk.unknown.add(b.header.size);
    }
  });
  if (broken) walk.error = "block at offset " + std::to_string(broken->offset) + " " + broken->what;
  return walk;
}

// The fields the CLI shows, each read once from the image (not the live header).
void fill_from_header(Snapshot& s, const ArenaImage& image) {
  s.size = SHOAL_HEADER_FIELD(image, arena_size);
  s.heap_bytes = image.is_valid() ? image.geometry().heap_end - image.geometry().heap_begin : 0;
  s.used_bytes = SHOAL_HEADER_FIELD(image, used_bytes);
  s.used_blocks = SHOAL_HEADER_FIELD(image, used_blocks);
  s.free_blocks = SHOAL_HEADER_FIELD(image, free_blocks);
  s.repairs = SHOAL_HEADER_FIELD(image, repairs);
  s.reaped_holders = SHOAL_HEADER_FIELD(image, reaped_holders);
  s.created_ns = SHOAL_HEADER_FIELD(image, created_ns);
  s.creator_pid = SHOAL_HEADER_FIELD(image, creator_pid);
  s.creator_start_time = SHOAL_HEADER_FIELD(image, creator_start_time);
  const auto reaper = image.copy<layout::ReaperLease>(offsetof(ArenaHeader, reaper));
  s.reaper_pid = reaper.pid;
  s.reaper_start_time = reaper.start_time;
  s.lifecycle = SHOAL_HEADER_FIELD(image, lifecycle);
  s.holders.clear();
  for (std::uint32_t i = 0; i < layout::kMaxHolders; ++i) {
    const layout::HolderSlot slot = image.holder(i);
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
  s.read = read_consistently(base, [&] {
    const ArenaImage image(base, mapped);  // the geometry read afresh on every attempt
    fill_from_header(s, image);
    // Counted here, not trusted from the table's `live` (derived, so
    // possibly stale after a death): the entries themselves own the refs.
    s.in_flight = read_in_flight(image, clocks).size();
    if (s.walked && image.is_valid()) {
      s.blocks = walk_blocks(image);
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
