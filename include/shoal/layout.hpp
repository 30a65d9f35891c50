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
// The layout is split by structure, each part included here: the
// geometry (layout_geometry.hpp), blocks and their payload headers
// (layout_block.hpp), channels (layout_channel.hpp), holder slots and
// ledgers (layout_holder.hpp), the ArenaHeader (layout_arena_header.hpp)
// and the tables in its padding (layout_header_tables.hpp). The format's
// identity, kMagic and kLayoutVersion, is here.
//
// This header is shared by the core and the CLI; it is not a user API.
#pragma once

#include <cstdint>

#include "shoal/layout_arena_header.hpp"   // ArenaHeader, ReaperLease, ArenaLifecycle
#include "shoal/layout_block.hpp"          // BlockHeader, BlockFlags, ChildTable, ArrayBlobHeader
#include "shoal/layout_channel.hpp"        // ChannelHeader, InlineTag
#include "shoal/layout_geometry.hpp"       // kAlign, kHeaderBytes, kSizeClasses, ...
#include "shoal/layout_header_tables.hpp"  // the backing map, the site table, the in-flight table
#include "shoal/layout_holder.hpp"         // HolderSlot, LedgerChunk

namespace shoal::layout {

inline constexpr char kMagic[8] = {'S', 'H', 'O', 'A', 'L', 'A', 'R', 'N'};
// Bump whenever any struct in layout_*.hpp changes shape or meaning.
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
// 10: a channel's name (ChannelHeader::name_bytes, the bytes after the
// slots), which an older reader would not show; and frozen objects whose
// message names other objects (FrozenView, the object among its children)
// or carries hash indexes and indexed sets (schemas/value.capnp), which an
// older reader would refuse as corrupt. 11: channel ends (BlockKind::
// channel_end, ChannelEnd) and ChannelHeader's end counts and closed_by; an
// older reader would not know the kind and never close a channel whose
// senders are gone. 12: refcounts change only by read-modify-write, and a
// used block may read 0 while its owner thread recycles it (CAS 1 -> 0,
// see BlockHeader::refcount): an older writer's plain stores would undo a
// claim, an older check would call the state damage. HolderSlot's second
// line holds the owner thread's intent (Intent) and the header has the
// lock-free gate (ArenaHeader::lf_gate): an older reader would not wait
// for quiescence.
inline constexpr std::uint32_t kLayoutVersion = 12;

}  // namespace shoal::layout
