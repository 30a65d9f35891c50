// layout_arena_header.hpp — the ArenaHeader at offset 0: the geometry, the
// arena lock, the free lists, the holder slots, the reaper lease (part of
// layout.hpp).
//
// "Under lock", "derived", "commit", "recycler" and "lock-free" mean what
// layout.hpp's opening comment says.
#pragma once

#include <pthread.h>

#include <cstddef>
#include <cstdint>

#include "shoal/layout_geometry.hpp"
#include "shoal/layout_holder.hpp"

namespace shoal::layout {

// ----------------------------------------------------------------- arena --

// ArenaHeader::reaper.
struct ReaperLease {
  std::int32_t pid;             // 0 = free
  std::uint32_t reserved;
  std::uint64_t start_time;     // with pid, the holding process (see HolderSlot::start_time)
  std::uint64_t token;          // which reaper of that process (several may stand by)
  std::uint64_t deadline_boot_ns;  // CLOCK_BOOTTIME; past it the lease is free for the taking
  std::uint64_t renewed_ns;     // CLOCK_REALTIME of the last renewal, for people
};
static_assert(sizeof(ReaperLease) == 40);

// ArenaHeader::lifecycle.
enum class ArenaLifecycle : std::uint32_t {
  open = 0,
  closing = 1,   // being destroyed: no new holders; the last to leave unlinks it
  unlinked = 2,  // its name has been removed (a mapping may outlive it)
};

struct ArenaHeader {
  // Written once by the creator before `ready` is set, then never changed.
  char magic[8];                // kMagic
  std::uint32_t layout_version;  // kLayoutVersion
  std::uint32_t ready;           // 0 while the creator initialises, then 1 (release store)
  std::uint64_t arena_size;      // bytes in the segment
  std::uint64_t bitmap_offset;   // block-start bitmap: one bit per 64-byte unit of heap
  std::uint64_t bitmap_bytes;
  std::uint64_t heap_begin;      // offset of the first block
  std::uint64_t heap_end;        // one past the last block
  std::uint64_t created_ns;
  std::int32_t creator_pid;
  std::uint32_t reserved0;
  std::uint64_t creator_start_time;  // with creator_pid, who owns the name (see HolderSlot::start_time)
  char name[256];               // the arena's name, NUL-terminated
  // Identity, so that a handle pickled for this arena cannot bind to
  // another one: 16 random bytes drawn at creation (a name is reused when
  // an arena is destroyed and created again), and the creating host's
  // /proc/sys/kernel/random/boot_id (36 characters, NUL-padded): another
  // host, or this one after a reboot, has another.
  std::uint8_t arena_id[16];
  char boot_id[48];

  // The arena lock: robust and process-shared. Guards every field below and
  // every block header, free list, ledger and the bitmap. The three fields
  // after it share its cache line, as every locker writes them: taking the
  // lock then moves one line between cores, not two.
  alignas(64) pthread_mutex_t lock;
  // Who holds it now (for error messages): stored by each locker, read
  // lock-free by a waiter that gave up and by the CLI (relaxed, both).
  std::int32_t lock_owner_pid;
  // The futex word of select() and of the async waker: bumped under the
  // lock by every send, receive, close and poison on any channel of the
  // arena (a receive, so that an async sender waiting on a full channel
  // wakes; a selector just re-checks).
  std::uint32_t activity_seq;
  // Odd while a locked section runs, bumped to even when it ends (release):
  // lock-free readers (the CLI) load it with acquire before and after a
  // copy and retry a snapshot that straddled a change.
  std::uint64_t mutation_seq;

  alignas(64) std::uint64_t next_generation;  // under lock
  std::uint64_t used_bytes;       // sum of used block sizes; derived
  std::uint64_t used_blocks;      // derived
  std::uint64_t free_blocks;      // derived
  std::uint64_t repairs;          // times a dead lock owner's state was repaired
  std::uint64_t reaped_holders;   // dead holders whose references were released
  // Threads asleep on activity_seq (atomic, no lock): a hint, so that a send
  // skips FUTEX_WAKE when nobody selects or awaits. A selector killed asleep leaves it
  // too high, which costs only spare wake-ups.
  std::uint32_t selectors;
  std::uint32_t reserved1;
  std::uint64_t class_mask[kClassMaskWords];  // bit c set iff free_heads[c] != 0; derived
  std::uint64_t free_heads[kSizeClasses];     // free-list heads per size class; derived

  HolderSlot holders[kMaxHolders];

  // Bytes of blocks freed since free pages were last returned to the
  // system (see the backing map, layout_header_tables.hpp): when it passes a threshold the
  // freer returns them; the broker's round does too. Under lock; a hint
  // (read without the lock by the broker, atomically), never authoritative.
  alignas(64) std::uint64_t unreturned_bytes;
  // Regions the last pass marked idle (see the backing map): the broker's
  // round runs a pass while some may be waiting to be returned. A hint.
  std::uint64_t idle_regions;

  // Who reaps for the arena now (broker/reaper_lease.hpp): the broker, or
  // once it is gone, a standby of some attached process that took the
  // lease over. Under lock. The holder renews the deadline every round; a
  // standby takes the lease when its holder has died or the deadline
  // passed. pid 0 = nobody holds it.
  alignas(64) ReaperLease reaper;
  // ArenaLifecycle, under lock. Once `closing`, attach_holder refuses, and
  // whoever releases the last holder slot (a detaching holder, a reaper)
  // sets `unlinked` and unlinks the segment, so the name is never given up
  // while a live holder still uses the arena.
  // Stored with relaxed atomics; read lock-free (Arena::lifecycle, the CLI).
  std::uint32_t lifecycle;
  std::uint32_t reserved2;
  std::uint64_t closing_since_ns;  // CLOCK_REALTIME when it began closing, for people

  // The lock-free gate, on its own line, which every lock-free fast path
  // reads and nearly nobody writes: 0 = open; else the pid of the lock
  // holder that closed it to see the whole arena still (repair, the
  // check; broker/quiescence.hpp). Closed and opened only under the lock,
  // with seq_cst stores, so it is open whenever nobody holds the lock (a
  // holder that died with it closed leaves it to repair, which opens it).
  // A fast path stores its intent, then loads the gate (seq_cst): closed,
  // it clears its intent and takes the locked path.
  alignas(64) std::uint32_t lf_gate;
  std::uint8_t reserved3[60];
};
static_assert(sizeof(ArenaHeader) <= kHeaderBytes);
static_assert(offsetof(ArenaHeader, mutation_seq) + sizeof(std::uint64_t) - offsetof(ArenaHeader, lock) <= 64,
              "the lock and the fields every locker writes share one cache line");

}  // namespace shoal::layout
