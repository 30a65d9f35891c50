// layout_holder.hpp — a holder slot and its ledger of references (part of
// layout.hpp).
//
// "Under lock", "derived", "commit", "recycler" and "lock-free" mean what
// layout.hpp's opening comment says.
#pragma once

#include <cstddef>
#include <cstdint>

namespace shoal::layout {

// --------------------------------------------------------------- holders --

enum class SlotState : std::uint32_t {
  free = 0,
  active = 0x45564C41u,  // "ALVE": registered; its process may since have died
};

// What a holder's owner thread is halfway through without the lock
// (HolderSlot::intent): written before a lock-free operation that moves
// ownership takes its first step, cleared after its last, so that a lock
// holder can tell how far a holder that died got, and can wait until no
// live holder is inside a structure it needs to see whole (quiescence,
// broker/quiescence.hpp). Only the slot's owner thread writes it: the
// fields first (relaxed), then `op` by a seq_cst exchange, which is the
// commit; cleared by exchanging `op` to 0. Lock holders load `op` seq_cst,
// then the fields. A lock-free fast path stores its intent, then loads
// ArenaHeader::lf_gate (both seq_cst, a Dekker pair): a closed gate sends
// it to the locked path with its intent cleared.
enum class IntentOp : std::uint32_t {
  idle = 0,
  send = 1,     // a move or inline send into the channel at target
  recv = 2,     // a receive from the channel at target
  alloc = 3,    // an allocation from the page at target
  free = 4,     // a free of item, a sub-block of the page at target
  collect = 5,  // collecting the page at target's delayed frees
};
inline constexpr std::uint32_t kMaxIntentOp = 5;
// Intent::op: the IntentOp in the low byte, the operation's step above it.
inline constexpr std::uint32_t intent_op_of(std::uint32_t op) { return op & 0xFFu; }
struct Intent {
  std::uint32_t op;                  // IntentOp | step << 8; 0 = idle; commit
  std::uint32_t ledger_index;        // the holder's ledger entry the operation uses
  std::uint64_t target_offset;       // the channel or page it works in
  std::uint64_t target_generation;
  std::uint64_t item_offset;         // the block it moves, if any
  std::uint64_t item_generation;
};
static_assert(sizeof(Intent) == 40);

// One attached (process, interpreter) pair, on two cache lines so that
// processes updating their own slots do not share lines: the first is
// written under the lock, the second only by the slot's owner thread (the
// cache counts and the intent). Under lock but for the owner thread's fields; read lock-free
// only by image readers (the CLI), which retry around mutation_seq.
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
  alignas(64) std::uint64_t cached_blocks;
  std::uint64_t cached_bytes;
  // Owner thread, lock-free (see Intent). Zero while the slot is free; set
  // to zero under the lock at registration and when the slot is released.
  Intent intent;
  std::uint64_t reserved0;
};
static_assert(sizeof(HolderSlot) == 128);
static_assert(offsetof(HolderSlot, cached_blocks) == 64 && offsetof(HolderSlot, intent) == 80);

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

}  // namespace shoal::layout
