// layout_header_tables.hpp — the tables in the arena header's padding:
// the backing map, the site table and the in-flight table (part of
// layout.hpp).
//
// "Under lock", "derived", "commit", "recycler" and "lock-free" mean what
// layout.hpp's opening comment says.
#pragma once

#include <cstdint>

#include "shoal/layout_arena_header.hpp"
#include "shoal/layout_geometry.hpp"

namespace shoal::layout {

// ----------------------------------------------------------- backing map --
//
// tmpfs backs a page when it is first touched; if /dev/shm is full then,
// the toucher gets SIGBUS. So before a block is handed out its pages are
// reserved (madvise MADV_POPULATE_WRITE, which fails with an error instead),
// and free pages are given back (MADV_REMOVE) once enough were freed. The
// segment is cut into regions of backing_region_bytes(arena_size) (64 KiB,
// or more for arenas over 8 GiB, so that the map covers the whole
// segment), from offset 0; bit r of the map (one bit per region, in
// [kBackingMapOffset, kBackingMapOffset + kBackingMapBytes)) set means
// every page of region r, and the block-start bitmap's bytes for it, are
// backed.
//
// The idle map, right after it (same shape), marks backed regions found
// wholly free by one pass of return_free_pages (block_heap.hpp); an
// allocation touching a region clears its mark, and the next pass returns
// the regions still marked: free memory is returned once it stayed unused
// between two passes, so a loop that frees and allocates again between
// passes keeps its pages.
//
// Under lock. A backed bit is set only after its region was populated, and
// cleared before the region is removed, so a set bit never lies; a clear
// bit may (a death between the two steps leaves pages backed that no bit
// names, which only costs memory until the region is reserved again). Idle
// marks are hints. So repair and check have nothing to do here. A region
// is removed only when it lies wholly inside the payload of one free block,
// past its header and free links: nobody reads those bytes.
inline constexpr std::uint64_t kMinBackingRegionBytes = 64 * 1024;
inline constexpr std::uint64_t kBackingMapOffset = 160 * 1024;
inline constexpr std::uint64_t kBackingMapBytes = 16 * 1024;
inline constexpr std::uint64_t kIdleMapOffset = kBackingMapOffset + kBackingMapBytes;
inline constexpr std::uint64_t kBackingRegions = kBackingMapBytes * 8;
static_assert(sizeof(ArenaHeader) <= kBackingMapOffset);

// The smallest power of two of at least 64 KiB whose kBackingRegions
// regions cover `arena_size` bytes.
inline constexpr std::uint64_t backing_region_bytes(std::uint64_t arena_size) {
  std::uint64_t region = kMinBackingRegionBytes;
  while (region < (std::uint64_t{1} << 62) && region * kBackingRegions < arena_size) region *= 2;
  return region;
}

// ------------------------------------------------------------ site table --
//
// Where blocks were made: an append-only log of records in the header's
// padding, [kSiteTableOffset, kHeaderBytes), zero at creation. Two record
// types: a `file` record names a source file (id 1, 2, ... in log order), a
// `site` record a (file id, line) pair (id 1, 2, ...); BlockHeader::site
// holds a site id. Records are appended under the arena lock: the record's
// bytes first, then `used` grows past it (the commit, a release store).
// Bytes past `used` are ignored, so a writer killed mid-record leaves
// nothing half-visible and the next writer overwrites them. Readers bound
// `used` and every record (decode_site_table, include/shoal/sites.hpp).
// Nothing else refers into the log, so repair has nothing to do here. When
// the log is full, new sites are simply unknown (0).
inline constexpr std::uint64_t kSiteTableOffset = 192 * 1024;
inline constexpr std::uint64_t kSiteTableBytes = 64 * 1024;

struct SiteTableHeader {
  std::uint64_t used;  // record bytes committed after this header; commit
  std::uint8_t reserved[56];
  // Records follow, each 8-aligned.
};
static_assert(sizeof(SiteTableHeader) == 64);

enum class SiteRecordType : std::uint8_t { file = 1, site = 2 };

struct SiteRecord {
  std::uint8_t type;     // SiteRecordType
  std::uint8_t reserved;
  std::uint16_t length;  // payload bytes that follow (padded to 8 in the log)
  std::uint32_t id;      // file or site id: 1 + records of its type before it
  // file: the path, UTF-8, no NUL, 1..kMaxSiteFileBytes bytes
  // site: SitePayload
};
static_assert(sizeof(SiteRecord) == 8);

struct SitePayload {
  std::uint32_t file_id;
  std::uint32_t line;
};

inline constexpr std::uint64_t kMaxSiteFileBytes = 1024;
static_assert(sizeof(ArenaHeader) <= kSiteTableOffset);
static_assert(kIdleMapOffset + kBackingMapBytes <= kSiteTableOffset);

// --------------------------------------------------------- in-flight table --
//
// References owned by the arena itself on behalf of a pickle (a "ticket"):
// pickling a shoal.Buffer or Channel writes an entry here that holds one
// shared reference on the block until `expires_boot_ns` passes or someone
// cancels it, so the sender may drop everything at once and any process of
// the host may unpickle the bytes meanwhile. Entries are in
// [kInFlightOffset, kInFlightOffset + kInFlightBytes), after the site table.
//
// Under lock. An entry is written with every field but `offset` first, then
// `offset` (the commit: from that store on the entry owns a reference),
// then the block's refcount is raised (derived). It is released by zeroing
// `offset` (the commit), then dropping the reference. Repair recounts
// refcounts from the entries like from ledgers, and clears an entry that
// names no live block. `live` and `extent` are derived (repair recomputes
// them): entries at index >= extent are all unused, so readers scan only
// [0, extent). Lock-free: the expiry scan (InFlight::expire) reads
// `extent` (acquire), each entry's `offset` (acquire, its commit is a
// release store), `expires_boot_ns`, `creator_pid`, `creator_start_time`
// and `flags` (relaxed; stored so by the lock holder).
inline constexpr std::uint64_t kInFlightOffset = kSiteTableOffset + kSiteTableBytes;  // 256 KiB
inline constexpr std::uint64_t kInFlightBytes = 256 * 1024;

struct InFlightTableHeader {
  std::uint64_t live;    // entries in use; derived
  std::uint64_t extent;  // one past the highest entry in use; derived
  std::uint8_t reserved[48];
};
static_assert(sizeof(InFlightTableHeader) == 64);

struct InFlightEntry {
  std::uint64_t offset;      // the block; 0 = unused; commit
  std::uint64_t generation;  // of the block
  std::uint64_t ticket;      // unique per entry written (from next_generation): names this use of the entry
  std::uint64_t created_ns;  // CLOCK_REALTIME when written, for people
  // CLOCK_BOOTTIME deadlines: system-wide, never set back, so every
  // process of the host agrees when an entry ends.
  std::uint64_t created_boot_ns;
  std::uint64_t expires_boot_ns;
  std::int32_t creator_pid;  // who pickled it (with the next field: a private entry's owner)
  std::uint32_t flags;       // InFlightFlags; written with the entry
  std::uint64_t creator_start_time;  // see HolderSlot::start_time
};
static_assert(sizeof(InFlightEntry) == 64);

// InFlightEntry::flags.
enum InFlightFlags : std::uint32_t {
  // Any pickle of the same block may use this entry too (extending its
  // deadline): plain pickles, which nobody cancels, so one entry serves
  // every pickle of a block in flight. An entry without it is private: its
  // creator cancels it (a pool's pickles, released once received), so it
  // ends at its deadline only once its creator has died too (a call may
  // wait in a pool's queue behind a long task).
  kInFlightShared = 1,
};

// The longest lifetime an entry may have; a deadline further out than this
// (a stray write) is treated as past.
inline constexpr std::uint64_t kMaxInFlightNs = 24ull * 3600 * 1'000'000'000;

inline constexpr std::uint64_t kInFlightEntries = (kInFlightBytes - sizeof(InFlightTableHeader)) / sizeof(InFlightEntry);
static_assert(kInFlightOffset + kInFlightBytes <= kHeaderBytes);
static_assert(sizeof(ArenaHeader) <= kSiteTableOffset);

}  // namespace shoal::layout
