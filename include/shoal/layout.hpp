// layout.hpp — the bytes of an arena, documented field by field.
//
// An arena is one POSIX shared-memory segment, mapped at a different address
// in every process, so nothing in it is a pointer: every reference is a byte
// offset from the start of the segment. The segment is laid out as
//
//   [ArenaHeader, padded to kHeaderBytes][block-start bitmap][heap ...... ]
//
// The heap is a sequence of blocks, each a 64-byte BlockHeader followed by
// its payload; every block starts at a multiple of 64 and its size is a
// multiple of 64, so every payload is 64-byte aligned.
//
// Who may write what:
//   * Everything marked "under lock" is written only while holding
//     ArenaHeader::lock (a robust, process-shared pthread mutex).
//   * Fields marked "derived" can be recomputed from the others; after a
//     process dies holding the lock, repair() rebuilds them. They are never
//     the only record of anything.
//   * Fields marked "commit" are the single aligned 8-byte store that makes a
//     multi-step change take effect: a process killed before it leaves the
//     old state, after it the new one, and both are consistent.
//
//   * Fields marked "recycler" are written without the lock too, by the one
//     thread that owns a holder's recycling cache, on a block only that
//     holder's recyclable ledger entry owns (refcount 1; see LedgerEntry).
//   * Fields marked "lock-free" are read (or written) by someone who does
//     not hold the lock, with the memory order stated there.
// Every access to a "recycler" or "lock-free" field goes through
// std::atomic_ref (or an equivalent builtin) on both sides, except the
// writes that set up a block, channel or entry before anyone else can see
// it (allocation, creation under the lock).
//
// Readers that do not take the lock (the CLI, which maps the arena
// read-only; the consistency check's read-only pass) go through the core's
// one reader, ArenaImage (arena_image.hpp): every byte untrusted, every
// offset bounded, every structure copied out with relaxed atomic loads,
// and the whole picture retried around ArenaHeader::mutation_seq.
//
// This header is shared by the core and the CLI; it is not a user API.
#pragma once

#include <pthread.h>

#include <cstddef>
#include <cstdint>

namespace shoal::layout {

inline constexpr std::uint64_t kAlign = 64;                 // block and payload alignment
inline constexpr std::uint64_t kBlockHeaderBytes = 64;
inline constexpr std::uint64_t kMinBlockBytes = 2 * kAlign;  // header + 64-byte payload
// ArenaHeader, padded, then the backing map, the site table and the in-flight
// table (below).
inline constexpr std::uint64_t kHeaderBytes = 512 * 1024;
inline constexpr std::uint64_t kMinArenaBytes = 1024 * 1024;

// The bitmap's size in an arena of `arena_size` bytes: one bit per 64-byte
// unit after the header, rounded up to whole 64-byte units. The geometry
// (bitmap at kHeaderBytes, heap right after it, to the end) follows from
// the size alone, so anyone holding the mapping can tell a header whose
// geometry was overwritten.
inline constexpr std::uint64_t bitmap_bytes_for(std::uint64_t arena_size) {
  const std::uint64_t units = (arena_size - kHeaderBytes) / kAlign;
  return ((units + 63) / 64 * 8 + kAlign - 1) / kAlign * kAlign;
}

inline constexpr char kMagic[8] = {'S', 'H', 'O', 'A', 'L', 'A', 'R', 'N'};
// Bump whenever any struct in this file changes shape or meaning.
// 2: child tables, creator_start_time; 3: block flags; 4: a channel can be
// poisoned (ChannelState::poisoned: its slots own nothing any more), and the
// arena header has select()'s futex word and sleeper count (activity_seq,
// selectors). An older reader would count a poisoned channel's dead slots
// as owners and sleep on nothing while others select. 5: the site table in
// the header's padding (kSiteTableOffset) and ChannelHeader's blocked
// sender/receiver counts. 6: lock_owner_pid, activity_seq and
// mutation_seq moved into the lock's cache line; a channel slot may carry
// a small value itself (an inline item, see InlineTag) instead of naming a
// block, which an older reader would report as naming no live block; a
// ledger entry of generation 0 (a recyclable entry) and blocks of kind
// `cached` (a holder's cache of free small blocks, see HolderSlot). 7: a
// blob may begin with its own array header (kArrayBlob, ArrayBlobHeader)
// and travel through a channel as itself, which an older reader would
// refuse as a slot naming something other than an object. 8: the arena's
// identity (ArenaHeader::arena_id, boot_id) and the in-flight table
// (InFlightEntry), an owner an older reader would not count. 9: objects
// that hold a channel carry kHoldsChannel (a writer that does not set it
// would let a send close a reference cycle unseen); an object may carry a
// checksum (ChildTable::checksum, kChecksummed) and a channel its options
// (ChannelHeader::options), which an older reader would not verify; the
// backing map (kBackingMapOffset) and ArenaHeader::unreturned_bytes: free
// pages are returned to the system, so a writer that did not reserve a
// region's pages first (an older one) could fault on a hole tmpfs cannot
// fill; and a holder gives back empty ledger blocks from the middle of its
// chain; the reaper's lease (ArenaHeader::reaper) and the arena's
// lifecycle state (ArenaHeader::lifecycle): a writer that ignored them
// would attach to an arena being destroyed, or leave reaping to a broker
// that is gone.
inline constexpr std::uint32_t kLayoutVersion = 9;

inline constexpr std::uint32_t kMaxHolders = 1024;
inline constexpr std::uint16_t kNoHolder = 0xFFFF;
inline constexpr std::uint32_t kSizeClasses = 192;
inline constexpr std::uint32_t kClassMaskWords = kSizeClasses / 64;

// ---------------------------------------------------------------- blocks --

inline constexpr std::uint32_t kBlockTag = 0x4B4C4253u;  // "SBLK": a header, not payload

enum class BlockState : std::uint32_t {
  free = 0x45455246u,  // "FREE"
  used = 0x44455355u,  // "USED"
};

// What a used block holds. Stored in BlockHeader::kind.
enum class BlockKind : std::uint32_t {
  none = 0,     // a free block
  raw = 1,      // bytes allocated directly through the C++ API
  blob = 2,     // a large buffer (a shoal.Buffer or the data of an array)
  object = 3,   // a frozen object: a Cap'n Proto message (heap issue)
  channel = 4,  // a channel's ring (channel issue)
  ledger = 5,   // a chunk of one holder's ledger; owned by the holder slot
  // Free for reuse by the holder whose recyclable ledger entry owns it (see
  // LedgerEntry): its payload means nothing; its generation is one no
  // handle names. Not a value: resolve() refuses it.
  cached = 6,
};
inline constexpr std::uint32_t kBlockKindCount = 7;

struct BlockHeader {
  // Whole block in bytes, header included; a multiple of 64, >= 128.
  // Under lock; commit point of split and merge. Lock-free reads (relaxed)
  // only of a block the reader holds a reference on, which no split or
  // merge touches, or by an image reader, which bounds what it finds.
  std::uint64_t size;
  // Size of the physically previous block, 0 for the first. Under lock; derived.
  std::uint64_t prev_size;
  // Unique per allocation (taken from ArenaHeader::next_generation), so a
  // handle to a freed and reused block never matches. Under lock at
  // allocation; recycler: a fresh one (from the holder's reserved batch)
  // stored with release when the block is cached, so every old handle
  // stops resolving. Lock-free: resolve() loads it with acquire.
  std::uint64_t generation;
  std::uint32_t tag;       // kBlockTag
  std::uint32_t state;     // BlockState, under lock
  // BlockKind. Under lock at allocation and free; recycler: `cached` when
  // cached (release, after the new generation), raw or blob when handed out
  // again (release: the last of its stores, so whoever sees the kind sees
  // requested, site, created_ns and flags too). Lock-free: relaxed or
  // acquire loads (resolve refuses `cached`).
  std::uint32_t kind;
  // Shared references: one per owner (a holder's ledger entry; later a
  // channel slot or a parent object). Under lock, stored with release;
  // derived (recounted by repair from the owners themselves). Lock-free:
  // the recycler loads it with acquire (1: its entry's is the last).
  std::uint32_t refcount;
  // Payload bytes asked for (<= size - 64). Under lock at allocation;
  // recycler: relaxed store when handed out again. Lock-free: relaxed.
  std::uint64_t requested;
  // CLOCK_REALTIME at allocation. As `requested`.
  std::uint64_t created_ns;
  std::uint16_t creator_slot;  // holder slot that allocated it, or kNoHolder
  // BlockFlags. Set under the lock (fetch_or, release), except by a block's
  // creator before anyone else can see it (kArrayBlob); recycler: reset to
  // 0 (relaxed) when handed out again. Lock-free: loaded with acquire.
  std::uint16_t flags;
  // Creation site: an id in the site table (SiteTableHeader below), the
  // Python file and line that made the block; 0 = unknown. Under lock at
  // allocation; recycler: relaxed store when handed out again.
  std::uint32_t site;
};

// BlockHeader::flags.
enum BlockFlags : std::uint16_t {
  // Published: a child of an object or sent through a channel. Its bytes
  // must not change any more; the Python layer exports it read-only only.
  kFrozen = 1,
  // A blob whose payload begins with an ArrayBlobHeader (below): an array
  // made in the arena (shoal.empty) that can be sent as itself. Set once by
  // its creator before anyone else can see the block; cleared when the
  // block is reused.
  kArrayBlob = 2,
  // An object whose child table names a channel (or an object flagged so).
  // Set under the lock when the object is allocated, before anyone else can
  // see it. Lets a send's cycle check (channel_cycles.cpp) stop at every
  // other object without reading its table.
  kHoldsChannel = 4,
  // An object whose ChildTable::checksum covers it: every reader checks it
  // (Arena::object) and refuses altered bytes as CorruptObject. Set by its
  // creator before anyone else can see the block.
  kChecksummed = 8,
};

// The payload of a blob flagged kArrayBlob: this header, `ndim` dimensions
// (std::uint64_t each), padding, then the array's bytes at `data_offset`, a
// multiple of kAlign, C-contiguous. Written before the block is published,
// never changed after; a reader copies it out and checks every field
// against the payload it lies in (heap::parse_array_blob).
inline constexpr std::uint32_t kArrayBlobMagic = 0x52524153u;  // "SARR"
inline constexpr std::size_t kArrayDtypeChars = 32;            // NumPy type string, NUL-padded
inline constexpr std::uint32_t kMaxArrayDims = 64;              // NumPy 2's limit
struct ArrayBlobHeader {
  std::uint32_t magic;       // kArrayBlobMagic
  std::uint32_t ndim;        // <= kMaxArrayDims
  std::uint64_t data_offset;  // from the payload start
  std::uint64_t nbytes;       // of the array: itemsize times every dimension
  char dtype[kArrayDtypeChars];  // e.g. "<f8"; the rest NUL
  // std::uint64_t shape[ndim] follows.
};
static_assert(sizeof(ArrayBlobHeader) == 56);

// Where the bytes of an array of `ndim` dimensions start in its blob.
inline constexpr std::uint64_t array_blob_data_offset(std::uint32_t ndim) {
  return (sizeof(ArrayBlobHeader) + std::uint64_t{ndim} * sizeof(std::uint64_t) + kAlign - 1) / kAlign * kAlign;
}
static_assert(sizeof(BlockHeader) == kBlockHeaderBytes);
static_assert(kMaxHolders < kNoHolder);

// In the payload of a free block: its links in the free list of its size
// class (offsets of other free blocks, 0 = none). Under lock; derived.
struct FreeLinks {
  std::uint64_t next;
  std::uint64_t prev;
};

// An `object` block's payload starts with a ChildTable: the blocks it holds
// a shared reference on (its children, e.g. the blobs of a frozen object),
// then its body. Written before the block is published, never changed
// after. Entries are written first, then `count` and `body_offset` (the
// commit). A reader bounds both before use (parse_child_table below).
struct ChildTable {
  std::uint32_t count;        // entries that follow
  // With kChecksummed: the CRC-32 of the body, the entries and each blob
  // child's payload (object_checksum.cpp), written by the creator before
  // the object is sent; else 0.
  std::uint32_t checksum;
  std::uint64_t body_offset;  // from the payload start; 64-aligned, past the entries
  // ChildEntry entries[count] follow.
};
static_assert(sizeof(ChildTable) == 16);

struct ChildEntry {  // shaped like a Handle
  std::uint64_t offset;
  std::uint64_t generation;
};

inline constexpr std::uint64_t child_table_bytes(std::uint64_t count) {
  return (sizeof(ChildTable) + count * sizeof(ChildEntry) + kAlign - 1) / kAlign * kAlign;
}

// True when the table at the start of a payload of `payload_bytes` is
// well-formed: the entries fit before the body, the body fits the payload.
inline bool child_table_is_sane(const ChildTable& table, std::uint64_t payload_bytes) {
  if (payload_bytes < sizeof(ChildTable)) return false;
  const std::uint64_t room = (payload_bytes - sizeof(ChildTable)) / sizeof(ChildEntry);
  return table.count <= room && table.body_offset % kAlign == 0 &&
         table.body_offset >= sizeof(ChildTable) + std::uint64_t{table.count} * sizeof(ChildEntry) &&
         table.body_offset <= payload_bytes;
}

// A `channel` block's payload: a bounded queue of handles, each slot owning
// one shared reference on the block it names. Items [head, tail) are
// pending, in slot index % capacity. Written under the arena lock, except
// the waiters' counters (sleepers, blocked_*), which are atomic and need
// no lock. head, tail and state are read lock-free, so the lock holder
// stores each with release: a receiver polling an empty channel and select
// load them with acquire; image readers (the CLI, the check's read-only
// pass) copy them with relaxed loads, as everything else they read, and
// retry around mutation_seq. The slots, capacity and options are read only
// under the lock or by an image reader (which bounds what it finds).
//
// A poisoned channel owns nothing: storing `state = poisoned` is the commit
// that gives up every pending slot's reference at once (the poisoner then
// drops those references one by one and sets head = tail; a death halfway
// leaves refcounts too high, which repair recounts). So whoever counts a
// channel's owned entries counts channel_pending(), never tail - head.
enum class ChannelState : std::uint32_t { open = 0, closed = 1, poisoned = 2 };

// ChannelHeader::options.
enum ChannelOptions : std::uint32_t {
  // Values sent through it are checksummed objects (kChecksummed), so a
  // receiver detects bytes altered in the arena after the send.
  kChannelChecksum = 1,
};

struct ChannelHeader {
  std::uint32_t capacity;  // slots that follow; fixed at creation
  std::uint32_t state;     // ChannelState, under lock (release); commit of close and of poison; lock-free (acquire)
  std::uint64_t head;      // next item to receive; under lock (release); commit of a receive; lock-free (acquire)
  std::uint64_t tail;      // one past the last item sent; under lock (release); commit of a send; lock-free (acquire)
  // Bumped (under lock, seq_cst fetch_add) on every send, receive and
  // close; the futex word, loaded by waiters without the lock.
  std::uint32_t wake_seq;
  std::uint32_t sleepers;  // threads asleep on wake_seq: a hint, so an idle channel skips FUTEX_WAKE
  // Threads waiting in send() (channel full) and in recv() (channel empty),
  // spinning or asleep: atomic, not under the lock. A hint for `shoal
  // channels`, like `sleepers`: a waiter killed while waiting leaves it high.
  std::uint32_t blocked_senders;
  std::uint32_t blocked_receivers;
  std::uint32_t options;  // ChannelOptions; written at creation, never changed
  std::uint8_t reserved[20];
  // ChildEntry slots[capacity] follow.
};
static_assert(sizeof(ChannelHeader) == 64);

// A channel slot either names a block (a ChildEntry like any other, owning
// one reference) or carries a small value itself: an inline item, whose
// `offset` is an InlineTag and whose `generation` holds the value's 8
// bytes. A tag is below kAlign and never 0, so it can never be mistaken for
// a block offset (those are multiples of 64, at least heap_begin). An
// inline item owns nothing: sending one allocates no block, takes no
// reference, and a receiver gets the value from the slot. Only channel
// slots hold inline items; an object's child table never does.
enum class InlineTag : std::uint64_t {
  none = 1,      // word unused (0)
  boolean = 2,   // word 0 or 1
  int64 = 3,     // word: the two's-complement bits
  float64 = 4,   // word: the IEEE 754 bits
};
inline constexpr std::uint64_t kMaxInlineTag = 4;

inline bool is_inline_item(const ChildEntry& entry) { return entry.offset != 0 && entry.offset < kAlign; }
inline bool is_valid_inline_tag(std::uint64_t tag) { return tag >= 1 && tag <= kMaxInlineTag; }

// True when a channel payload of `payload_bytes` can hold `header`'s slots
// and its counters are within bounds.
inline bool channel_is_sane(const ChannelHeader& header, std::uint64_t payload_bytes) {
  if (payload_bytes < sizeof(ChannelHeader) || header.capacity == 0) return false;
  const std::uint64_t room = (payload_bytes - sizeof(ChannelHeader)) / sizeof(ChildEntry);
  return header.capacity <= room && header.head <= header.tail && header.tail - header.head <= header.capacity &&
         header.state <= static_cast<std::uint32_t>(ChannelState::poisoned);
}

// The items a (sane) channel owns references on: [head, tail), or none
// once it is poisoned.
inline std::uint64_t channel_pending(const ChannelHeader& header) {
  return header.state == static_cast<std::uint32_t>(ChannelState::poisoned) ? 0 : header.tail - header.head;
}

// --------------------------------------------------------------- holders --

enum class SlotState : std::uint32_t {
  free = 0,
  active = 0x45564C41u,  // "ALVE": registered; its process may since have died
};

// One attached (process, interpreter) pair. Padded to two cache lines so
// that processes updating their own slots do not share lines. Under lock
// but for the cached counts; read lock-free only by image readers (the
// CLI), which retry around mutation_seq.
struct alignas(64) HolderSlot {
  std::uint32_t state;  // SlotState, under lock
  std::int32_t pid;
  // Field 22 of /proc/PID/stat: process start time in clock ticks since
  // boot. With pid, identifies the process even after its pid is reused.
  std::uint64_t start_time;
  std::int64_t interpreter_id;  // -1 for a holder outside Python
  std::uint64_t epoch;          // bumped at each registration of this slot
  std::uint64_t ledger_head;    // offset of the first ledger block, 0 = none
  std::uint64_t refs_held;      // ledger entries in use; derived
  std::uint64_t bytes_held;     // sum of their block sizes; derived
  std::uint64_t attached_ns;    // CLOCK_REALTIME at registration
  // Blocks of kind `cached` this holder keeps for reuse, and their bytes:
  // written without the lock by the holder's owning thread only (atomic),
  // a figure for statistics (Arena::stats subtracts them from used bytes).
  // Zeroed when the slot is released.
  std::uint64_t cached_blocks;
  std::uint64_t cached_bytes;
  std::uint8_t reserved[48];
};
static_assert(sizeof(HolderSlot) == 128);

// A ledger block's payload: a link to the next ledger block of the same
// holder, then entries. An entry with offset 0 is unused. An entry is
// written generation first, then offset (the commit), and cleared by
// zeroing the offset (the commit), so a torn entry is either unused or
// complete.
//
// Generation 0 marks a recyclable entry: it owns one reference on the used
// block at `offset`, whatever that block's generation, provided the block
// was made by this holder (creator_slot). Its holder recycles the block
// without the lock: when the last reference is this entry's, a free marks
// the block `cached` under a fresh generation (so every old handle stops
// resolving) instead of returning it to the heap, and a later allocation of
// the same size takes it back. Neither changes the entry or the refcount
// (always 1 while cached), so at every instant the entry owns the block;
// reaping the holder frees its cached blocks like any other reference.
struct LedgerEntry {
  std::uint64_t offset;
  std::uint64_t generation;
};

struct LedgerChunk {
  std::uint64_t next;      // offset of the next ledger block, 0 = none; under lock
  std::uint32_t capacity;  // entries that follow
  std::uint32_t owner_slot;
  std::uint8_t reserved[48];
  // LedgerEntry entries[capacity] follow.
};
static_assert(sizeof(LedgerChunk) == 64);
inline constexpr std::uint32_t kLedgerChunkEntries = 1020;  // 16 KiB blocks

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
  // select()'s futex word: bumped under the lock by every send, close and
  // poison on any channel of the arena.
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
  // skips FUTEX_WAKE when nobody selects. A selector killed asleep leaves it
  // too high, which costs only spare wake-ups.
  std::uint32_t selectors;
  std::uint32_t reserved1;
  std::uint64_t class_mask[kClassMaskWords];  // bit c set iff free_heads[c] != 0; derived
  std::uint64_t free_heads[kSizeClasses];     // free-list heads per size class; derived

  HolderSlot holders[kMaxHolders];

  // Bytes of blocks freed since free pages were last returned to the
  // system (see the backing map below): when it passes a threshold the
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
};
static_assert(sizeof(ArenaHeader) <= kHeaderBytes);
static_assert(offsetof(ArenaHeader, mutation_seq) + sizeof(std::uint64_t) - offsetof(ArenaHeader, lock) <= 64,
              "the lock and the fields every locker writes share one cache line");

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
