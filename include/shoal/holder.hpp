// holder.hpp — who holds which blocks.
//
// A Holder is one registered slot of an arena: this process (pid and start
// time) and interpreter. It owns a ledger in the arena listing every block
// it holds a shared reference to, so that when the process dies anyone can
// release those references without its help (Arena::reap_dead_holders).
//
// A HeldBlock owns exactly one such reference (one ledger entry): moving it
// moves the reference, destroying it releases the reference, and the block
// is freed when its last reference goes. It is the only type that owns a
// block; a Handle is just its name.
//
// Two-level counting: a holder takes one shared reference per block it
// uses; counting the many local uses of that block (Python objects in one
// interpreter) is the caller's job, under its own lock or GIL.
//
// A Holder belongs to the process that attached it: in a child created by
// fork() its HeldBlocks neither release nor allocate (the child attaches
// its own holder).
//
// Recycling: raw and blob blocks of up to kMaxCachedPayload bytes are
// recorded in recyclable ledger entries (layout.hpp, LedgerEntry). When the
// thread that attached the holder drops the last reference to one, the
// block goes into this holder's cache instead of back to the heap, and its
// next allocation of that size takes it from there: neither takes the arena
// lock. Other threads may use the holder too; they take the locked path.
// The cache is bounded (kCachedPerClass blocks a size, kCacheBudgetBytes in
// all), shows in Arena::stats as cached bytes, and is given back to the
// heap when an allocation would otherwise fail, or with the holder.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include "shoal/arena.hpp"
#include "shoal/handle.hpp"

namespace shoal {

class HeldBlock;

class Holder {
 public:
  ~Holder();  // releases every reference still in the ledger, frees the slot
  Holder(const Holder&) = delete;
  Holder& operator=(const Holder&) = delete;

  // A new block of at least `bytes` payload, 64-byte aligned, held by this
  // holder. `site` is the creation site (Arena::intern_site; 0 = unknown).
  // Throws ArenaFull, leaving the arena as it was.
  HeldBlock allocate(std::uint64_t bytes, layout::BlockKind kind = layout::BlockKind::raw, std::uint32_t site = 0);
  // The same, only if this holder's recycling cache has one: never takes the
  // lock, never blocks, never throws; empty otherwise. For callers that
  // must give something up before they may wait (Python: the GIL).
  HeldBlock try_allocate_cached(std::uint64_t bytes, layout::BlockKind kind, std::uint32_t site = 0) noexcept;

  // A new block of kind `object` whose payload starts with a child table
  // listing `children`; the new block holds one shared reference on each
  // child, released when it is freed. bytes() of the result is the body
  // (after the table): `body_bytes` long, 64-byte aligned. Throws
  // InvalidHandle if a child is not live, ArenaFull; on failure nothing is
  // allocated or retained.
  HeldBlock allocate_object(std::span<const Handle> children, std::uint64_t body_bytes, std::uint32_t site = 0);

  // A new shared reference to an existing block. Throws InvalidHandle.
  HeldBlock retain(Handle h);

  std::uint32_t slot() const { return slot_; }
  Arena& arena() const { return *arena_; }
  std::uint64_t refs_held();

  // Gives every cached block back to the heap (see "Recycling" above). From
  // the attaching thread only; elsewhere a no-op.
  void flush_cache();

  // 4 KiB of data plus the largest common array header (array_blob.hpp: 128
  // bytes, up to nine dimensions), so that a 4 KiB array made in the arena
  // is recycled as a 4 KiB buffer was before arrays carried headers.
  static constexpr std::uint64_t kMaxCachedPayload = 4096 + 128;
  static_assert(kMaxCachedPayload % layout::kAlign == 0);
  static constexpr std::size_t kCachedPerClass = 64;
  static constexpr std::uint64_t kCacheBudgetBytes = std::uint64_t{1} << 20;

 private:
  friend class HeldBlock;
  // Channels, the in-flight table and the arena move references in and out
  // of the ledger through HolderInternals (broker/core_internals.hpp).
  friend class HolderInternals;
  Holder(std::shared_ptr<Arena> arena, std::uint32_t slot, std::uint64_t epoch);

  void ensure_free_entry_locked();  // grows the ledger if it is full
  // After a failed allocation: gives back every empty ledger block but the
  // first (one grown for the call among them), spare included.
  void shrink_ledger_locked();
  // Ledger entry `index` is unused again: notes it, and gives back its
  // ledger block if that emptied it (see "Ledger blocks" below).
  void entry_unused_locked(std::uint32_t index);
  void give_back_spare_locked();                  // if there is room enough elsewhere
  void give_back_chunk_locked(std::size_t chunk);  // an empty one, never the first
  std::uint64_t room_besides(std::size_t chunk) const { return unused_total_ - unused_[chunk].size(); }
  // Adds a ledger entry for the block at `offset` and raises its refcount,
  // or, with take_over, records a reference moving in from elsewhere (a
  // channel slot) without raising it.
  // A recyclable entry (generation 0) when `recyclable`.
  HeldBlock record_locked(std::uint64_t offset, bool take_over = false, bool recyclable = false);
  // The first reference to a block just allocated, whose count (0) no one
  // else has seen: set to 1, then recorded. (A raise refuses a count of 0.)
  HeldBlock record_new_locked(std::uint64_t offset, bool recyclable = false);
  void release(std::uint32_t entry, layout::LedgerEntry* ledger, Handle h) noexcept;
  // Clears `block`'s ledger entry without lowering the refcount: its
  // reference has moved elsewhere (a channel slot). Empties `block`.
  void forget_locked(HeldBlock& block);
  layout::LedgerEntry* entry_at(std::uint32_t index) const;
  bool usable_here() const;

  // The recycling cache, touched by the attaching thread only. Each cached
  // block is one word of this process's memory: its ledger entry index
  // (recycled entries all sit in the first ledger block, see
  // release_to_cache, whose entries start at first_entries_) in the low
  // bits, its offset above them. The offset is kept here, not read back from
  // the ledger in the arena, which a stray write could have changed. (One
  // word: a struct was stored field by field and loaded back 16 bytes at a
  // time, which stalls store forwarding.)
  using CachedBlock = std::uint64_t;
  static constexpr unsigned kEntryBits = 10;  // kLedgerChunkEntries <= 1024
  static_assert(layout::kLedgerChunkEntries <= (1u << kEntryBits));
  static constexpr CachedBlock cached_block(std::uint32_t entry, std::uint64_t offset) {
    return offset << kEntryBits | entry;  // offsets are far below 2^54
  }
  static constexpr std::uint32_t entry_of(CachedBlock c) { return static_cast<std::uint32_t>(c & ((1u << kEntryBits) - 1)); }
  static constexpr std::uint64_t offset_of(CachedBlock c) { return c >> kEntryBits; }
  static constexpr std::size_t kCacheClasses = kMaxCachedPayload / layout::kAlign;
  // One size class of the cache: a fixed stack in the Holder itself, so a
  // push or pop is one count and one slot (a std::vector kept three
  // pointers to load and compare on every recycled allocation and release).
  struct CachedStack {
    std::uint32_t count = 0;
    std::array<CachedBlock, kCachedPerClass> blocks;
  };
  static constexpr std::uint64_t kGenerationBatch = 4096;
  // The thread pointer names the running thread in one register read, where
  // std::this_thread::get_id() is a call into libc: the recycling paths ask
  // on every allocation and release. (Like a pthread_t, a dead thread's
  // value may name a later thread; only one live thread has it.)
  static const void* current_thread() { return __builtin_thread_pointer(); }
  bool on_owner_thread() const { return current_thread() == owner_thread_; }
  static bool recyclable(std::uint64_t bytes, layout::BlockKind kind);
  HeldBlock allocate_from_cache(std::uint64_t bytes, layout::BlockKind kind, std::uint32_t site);  // empty if none
  bool release_to_cache(std::uint32_t entry, layout::LedgerEntry* ledger, Handle h);
  void reserve_generations_locked();  // from the attaching thread
  void flush_cache_locked();
  inline void count_cached(std::int64_t blocks, std::int64_t bytes);  // defined in recycling.hpp

  std::shared_ptr<Arena> arena_;
  std::uint32_t slot_;
  std::uint64_t epoch_;
  std::uint64_t fork_generation_;
  bool attached_ = true;  // false once the slot was given back
  // Process-local view of this holder's ledger, changed only under the
  // arena lock. Chunk numbers are stable (an entry's index is its chunk
  // number times kLedgerChunkEntries plus its place there, and HeldBlocks
  // keep it): chunks_ has the offset of each numbered ledger block, 0 for
  // one given back (a hole, refilled first); unused_ its unused entry
  // indexes; chain_ the chunk numbers in the arena's chain order (the
  // first block, number 0, first: it is never given back). Entries are
  // taken from the lowest-numbered block with room.
  //
  // Ledger blocks: a block other than the first whose entries are all
  // unused is given back to the heap at once (unlinked from the chain, the
  // commit, then freed) when the holder's other blocks have at least half
  // a block of room; otherwise it is kept as the spare, so that an
  // allocate/free loop at a block boundary does not make and free a ledger
  // block each time. The spare goes once that much room is free elsewhere.
  std::vector<std::uint64_t> chunks_;
  std::vector<std::vector<std::uint32_t>> unused_;
  std::vector<std::uint32_t> chain_;
  std::uint64_t unused_total_ = 0;  // sum of unused_[i].size()
  static constexpr std::size_t kNoSpare = ~std::size_t{0};
  std::size_t spare_ = kNoSpare;  // an empty ledger block kept, or kNoSpare
  std::size_t lowest_with_room_ = 0;

  const void* owner_thread_ = current_thread();
  std::byte* base_;  // the arena's mapping, and this holder's slot in it: the
  layout::HolderSlot* slot_header_;  // recycling paths use them without the lock
  layout::LedgerEntry* first_entries_ = nullptr;  // of the first ledger block, which stays
  // The two counts are kept apart on purpose: side by side, the compiler
  // read them with one 16-byte load, which cannot be forwarded from the two
  // 8-byte stores just before it and stalled every recycled allocation.
  std::uint64_t cached_blocks_ = 0;
  std::array<CachedStack, kCacheClasses> cache_;  // by payload capacity / 64 - 1
  std::uint64_t cached_bytes_ = 0;
  // Generations reserved for recycled blocks: [next, end).
  std::uint64_t generation_next_ = 0;
  std::uint64_t generation_end_ = 0;
  // Last, so the fields above keep the places the recycling paths were
  // tuned for (store forwarding, one cache line for the hot ones).
  BlockHeap* blocks_;  // the arena's block allocator
};

class HeldBlock {
 public:
  HeldBlock() = default;
  // Moves are inline: a recycled allocation returns its block by a move,
  // and a call here cost a quarter of its time (alloc_bench).
  HeldBlock(HeldBlock&& other) noexcept
      : holder_(std::exchange(other.holder_, nullptr)),
        entry_(other.entry_),
        ledger_(other.ledger_),
        handle_(std::exchange(other.handle_, Handle{})),
        bytes_(std::exchange(other.bytes_, {})) {}
  HeldBlock& operator=(HeldBlock&& other) noexcept {
    if (this != &other) {
      reset();
      holder_ = std::exchange(other.holder_, nullptr);
      entry_ = other.entry_;
      ledger_ = other.ledger_;
      handle_ = std::exchange(other.handle_, Handle{});
      bytes_ = std::exchange(other.bytes_, {});
    }
    return *this;
  }
  HeldBlock(const HeldBlock&) = delete;
  HeldBlock& operator=(const HeldBlock&) = delete;
  ~HeldBlock() { reset(); }

  Handle handle() const { return handle_; }
  Holder* holder() const { return holder_; }  // whose reference this is; null if empty
  explicit operator bool() const { return holder_ != nullptr; }
  // The payload, exactly the bytes asked for at allocation, 64-byte aligned
  // (for an object block: its body, after the child table).
  std::span<std::byte> bytes() const { return bytes_; }
  // True once the block is published (a child of an object, or sent
  // through a channel): from then on its bytes must not be written. The
  // C++ API cannot stop a write through bytes(); the Python layer exports a
  // frozen block read-only only.
  bool frozen() const;
  // What the block is (read from the arena: a corrupt arena may say anything).
  layout::BlockKind kind() const;
  // Gives the block back to its holder's recycling cache if that needs no
  // lock (see "Recycling" above) and empties this HeldBlock: true. Else
  // false, and nothing changed: reset() then takes the lock.
  bool try_recycle() noexcept;
  // Releases the reference now (the block is freed if it was the last).
  void reset() noexcept {
    if (holder_ == nullptr) return;
    std::exchange(holder_, nullptr)->release(entry_, ledger_, handle_);
    handle_ = Handle{};
    bytes_ = {};
  }

 private:
  friend class Holder;
  HeldBlock(Holder* holder, std::uint32_t entry, layout::LedgerEntry* ledger, Handle handle,
            std::span<std::byte> bytes)
      : holder_(holder), entry_(entry), ledger_(ledger), handle_(handle), bytes_(bytes) {}

  Holder* holder_ = nullptr;
  std::uint32_t entry_ = 0;
  layout::LedgerEntry* ledger_ = nullptr;  // entry_ in the arena (its chunk stays while the entry is used)
  Handle handle_;
  std::span<std::byte> bytes_;
};

}  // namespace shoal
