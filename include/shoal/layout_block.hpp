// layout_block.hpp — a block: its header, its flags, and what the payload
// of a free block, an object and an array blob begins with (part of
// layout.hpp).
//
// "Under lock", "derived", "commit", "recycler" and "lock-free" mean what
// layout.hpp's opening comment says.
#pragma once

#include <cstddef>
#include <cstdint>

#include "shoal/layout_geometry.hpp"

namespace shoal::layout {

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
  // One end of a channel (ChannelEnd, layout_channel.hpp): owns one
  // reference on the channel; the channel counts its live ends, and when
  // the last sender (or receiver) end goes, the channel closes.
  channel_end = 7,
};
inline constexpr std::uint32_t kBlockKindCount = 8;

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
  // Shared references: one per owner (a holder's ledger entry, a channel
  // slot, a parent object, an in-flight entry, a channel end); derived
  // (recounted by repair from the owners themselves). Changed only by
  // read-modify-write: under lock, raised by CAS n -> n+1 refusing 0 and
  // lowered by CAS (repair: one exchange); recycler: CAS 1 -> 0 to claim a
  // block its entry alone owns, a release store of 1 once it is cached (at
  // 0 nobody else changes it). Also set with a plain store at allocation,
  // before anyone else sees the block.
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
  // Creation site: an id in the site table (SiteTableHeader, layout_header_tables.hpp), the
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
// commit). A reader bounds both before use (child_table_is_sane below).
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

}  // namespace shoal::layout
