// snapshot.hpp — a consistent, read-only picture of one arena.
//
// take_snapshot() copies the arena header (geometry, counters, holder
// slots) out of a read-only mapping, counts the in-flight table's entries
// in use and, when asked, walks the chain of blocks to tally them by kind.
// It never locks the arena and never writes to it: the copy is made under
// the seqlock of seqlock.hpp through the core's ArenaImage, which bounds
// every offset taken from shared memory before it is followed, so a corrupted or changing arena yields an
// error text or an approximate picture, never a crash or a hang.
//
// The snapshot is plain data: the commands format it as tables or JSON.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "seqlock.hpp"
#include "shoal/arena.hpp"
#include "shoal/layout.hpp"

namespace shoal::cli {

struct HolderView {
  std::uint32_t slot = 0;
  std::int32_t pid = 0;
  std::uint64_t start_time = 0;      // clock ticks since boot (/proc/PID/stat field 22)
  std::int64_t interpreter_id = -1;  // -1 for a holder outside Python
  std::uint64_t refs_held = 0;
  std::uint64_t bytes_held = 0;
  std::uint64_t attached_ns = 0;     // CLOCK_REALTIME
  bool alive = false;                // same pid and start time, not a zombie
};

struct Tally {
  std::uint64_t count = 0;
  std::uint64_t bytes = 0;  // whole blocks, headers included

  void add(std::uint64_t block_bytes) {
    ++count;
    bytes += block_bytes;
  }
};

// The chain of blocks, walked from heap_begin.
struct BlockWalk {
  std::array<Tally, layout::kBlockKindCount> used_by_kind;  // indexed by BlockKind; [none] stays empty
  Tally free;
  Tally unknown;  // used blocks of an unknown kind, or blocks in an unknown state
  std::uint64_t largest_free = 0;  // whole block bytes, header included
  // Why the walk stopped before heap_end (a broken chain); empty when it
  // reached the end.
  std::string error;

  std::uint64_t used_bytes() const;
};

struct Snapshot {
  std::string name;
  std::string path;  // /dev/shm/shoal.NAME
  std::uint64_t size = 0;
  std::uint64_t heap_bytes = 0;
  std::uint64_t used_bytes = 0;  // the header's counter
  std::uint64_t used_blocks = 0;
  std::uint64_t free_blocks = 0;
  std::uint64_t repairs = 0;
  std::uint64_t reaped_holders = 0;
  std::uint64_t created_ns = 0;
  std::int32_t creator_pid = 0;
  std::uint64_t creator_start_time = 0;
  bool creator_alive = false;
  // The reaper's lease (layout::ReaperLease): who reaps for the arena now.
  std::int32_t reaper_pid = 0;  // 0: nobody
  std::uint64_t reaper_start_time = 0;
  bool reaper_alive = false;
  // layout::ArenaLifecycle: open, or closing (destroyed once its last holder leaves).
  std::uint32_t lifecycle = 0;
  std::vector<HolderView> holders;  // registered slots, alive or dead, by slot
  std::uint64_t in_flight = 0;      // in-flight entries in use: references the arena holds for pickles
  bool walked = false;              // `blocks` is filled in
  BlockWalk blocks;
  ReadOutcome read;

  std::uint64_t holders_alive() const;
  std::uint64_t holders_dead() const { return holders.size() - holders_alive(); }
  bool closing() const { return lifecycle == static_cast<std::uint32_t>(layout::ArenaLifecycle::closing); }
  // Nobody will ever clean it up: no live holder, no live reaper, creator
  // gone (`shoal reap --abandoned` removes it; Arena::remove_if_abandoned).
  bool abandoned() const { return holders_alive() == 0 && !reaper_alive && !creator_alive; }
};

enum class Depth {
  header,  // geometry, counters and holders: cheap, for `ls`
  blocks,  // also walk every block
};

// `arena` must have been attached (read-only is enough).
Snapshot take_snapshot(const Arena& arena, Depth depth);

}  // namespace shoal::cli
