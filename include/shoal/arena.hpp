// arena.hpp — a named shared-memory arena: create, attach, inspect, destroy.
//
// An Arena object is one mapping of the segment in this process (a
// resource: not copyable). Processes and interpreters use it through a
// Holder (holder.hpp), which owns their references to blocks. The process
// that creates an arena owns its name: destroying that Arena object unlinks
// the segment (processes still attached keep their mapping until they
// detach).
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "shoal/handle.hpp"
#include "shoal/layout.hpp"

namespace shoal {

class Holder;
class BlockHeap;
struct SiteTable;

enum class Access { read_write, read_only };

struct ArenaOptions {
  // How long to wait for the arena lock while a live process holds it.
  // (A dead holder never makes anyone wait: the lock is robust.)
  std::chrono::milliseconds lock_timeout{10'000};
  // attach() maps only arenas owned by this process's effective uid: a file
  // another user put in /dev/shm under an arena's name is refused
  // (PermissionDenied, naming its owner). Set this to attach one anyway
  // (only root can get past its mode 0600).
  bool other_user = false;
};

struct ArenaStats {
  std::uint64_t size = 0;          // segment bytes
  std::uint64_t heap_bytes = 0;    // bytes available to blocks
  std::uint64_t used_bytes = 0;    // in used blocks, headers included; holders' caches not counted
  std::uint64_t free_bytes = 0;    // in free blocks: heap_bytes - used_bytes - cached_bytes
  std::uint64_t cached_bytes = 0;  // in blocks holders keep for reuse (holder.hpp, "Recycling")
  std::uint64_t largest_free = 0;  // payload bytes of the largest free block
  std::uint64_t used_blocks = 0;   // holders' caches not counted
  std::uint64_t free_blocks = 0;
  std::uint64_t cached_blocks = 0;
  std::uint64_t holders = 0;       // registered slots, alive or not
  std::uint64_t repairs = 0;       // dead lock owners repaired after
  std::uint64_t reaped_holders = 0;
};

// Who an arena is, beyond its name (layout.hpp, ArenaHeader::arena_id).
struct ArenaIdentity {
  std::array<std::uint8_t, 16> id{};  // random, drawn at creation
  std::string boot_id;                // of the host that created it
  friend bool operator==(const ArenaIdentity&, const ArenaIdentity&) = default;
};

struct BlockInfo {
  Handle handle;
  layout::BlockKind kind = layout::BlockKind::none;
  std::uint64_t size = 0;       // block bytes, header included
  std::uint64_t requested = 0;  // payload bytes asked for
  std::uint32_t refcount = 0;
  bool frozen = false;  // published: its bytes are final (layout::kFrozen)
};

// An object block seen through its handle: its body and its children.
struct ObjectView {
  std::span<const std::byte> body;
  std::vector<Handle> children;
};

class Arena : public std::enable_shared_from_this<Arena> {
 public:
  // Creates the segment "/dev/shm/shoal.NAME", mode 0600, of `size` bytes
  // (sparse: untouched pages cost nothing). It is built whole under a
  // private name and then published atomically, so attachers never see it
  // half-made. Throws ArenaExists, PermissionDenied, InvalidArgument (bad
  // name or size).
  static std::shared_ptr<Arena> create(const std::string& name, std::uint64_t size,
                                       ArenaOptions options = {});

  // Maps an existing arena: a regular file owned by this user (see
  // ArenaOptions::other_user), opened without blocking or following links.
  // Throws ArenaNotFound, PermissionDenied, NotAnArena (names what was
  // found: a FIFO, a link, a file of other content), LayoutMismatch,
  // CorruptArena.
  static std::shared_ptr<Arena> attach(const std::string& name, Access access = Access::read_write,
                                       ArenaOptions options = {});

  // Creates the arena, or attaches it read-write if one of that name
  // exists: safe to call from many processes at once (exactly one
  // creates; is_creator() tells which). `size` is checked either way but
  // used only to create: an existing arena keeps its own size.
  static std::shared_ptr<Arena> open_or_create(const std::string& name, std::uint64_t size,
                                               ArenaOptions options = {});

  // Unlinks the segment; false if there was none. Throws PermissionDenied.
  static bool destroy(const std::string& name);

  // The POSIX shared-memory object name of an arena ("shoal.NAME").
  static std::string segment_name(const std::string& name);
  // Refuses (InvalidArgument) an empty name, one longer than 200 bytes,
  // ".", "..", or one with '/' or a control character.
  static void validate_name(const std::string& name);

  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  const std::string& name() const { return name_; }
  std::uint64_t size() const { return size_; }
  bool is_creator() const { return creator_; }
  // The creator unlinks the segment when this object goes away, unless told otherwise.
  void set_unlink_on_close(bool unlink) { unlink_on_close_ = unlink; }

  ArenaStats stats();

  // The arena's identity, written by its creator (read from the mapping).
  ArenaIdentity identity() const;
  // This host's boot id (/proc/sys/kernel/random/boot_id), read once.
  static const std::string& host_boot_id();

  // Registers this process (and interpreter) as a holder. Reaps dead
  // holders first if every slot is taken; throws TooManyHolders otherwise.
  std::unique_ptr<Holder> attach_holder(std::int64_t interpreter_id = -1);

  // Releases every reference held by holders whose process has died, and
  // frees their slots. Returns how many holders were reaped.
  std::size_t reap_dead_holders();

  // ---- Lifetime (arena_lifecycle.cpp) ----

  // The reaper's lease (layout::ReaperLease): only its holder reaps, so
  // reaping goes on while any process with a reaper (Broker) is attached.
  // Takes or renews it for reaper `token` of this process when it is free,
  // ours, past its deadline, or held by a dead process, and sets its
  // deadline `ttl` from now. Returns true when we hold it.
  bool claim_reaper_lease(std::uint64_t token, std::chrono::milliseconds ttl);
  // Gives it up if reaper `token` of this process holds it.
  void release_reaper_lease(std::uint64_t token);

  enum class RetireOutcome {
    unlinked,  // no holder was left: the segment is unlinked
    closing,   // live holders remain: no new ones are accepted, and the last to leave unlinks it
    refused,   // live holders remain and `force` was false: nothing changed
  };
  // Destroys the arena without ever giving up its name while a live holder
  // still uses it: reaps dead holders, then unlinks the segment if no
  // holder is left; otherwise (with `force`) marks it closing.
  RetireOutcome retire(bool force);
  // ArenaHeader::lifecycle, read without the lock.
  layout::ArenaLifecycle lifecycle() const;
  // Unlinks the segment if the arena is abandoned: no live holder, no live
  // reaper holding the lease, its creator gone (dead holders are reaped
  // first). Re-checked under the lock. Returns true if it unlinked it.
  bool remove_if_abandoned();

  // Returns free pages of the arena to the system (block_heap.hpp,
  // return_free_pages) if enough were freed since the last time; the
  // broker's round calls it. Returns the bytes returned.
  std::uint64_t return_free_memory();

  // Full consistency check, under the lock: the chain, free lists, bitmap,
  // statistics, and every refcount against the owners that hold it.
  // Returns the problems found; empty means sound.
  std::vector<std::string> check();

  // Information on the used block `h` names; throws InvalidHandle.
  BlockInfo block_info(Handle h);

  // The payload of a block the caller holds a reference to (so it cannot be
  // freed meanwhile); throws InvalidHandle for a bad handle.
  std::span<std::byte> payload(Handle h);

  // The kind of the block `h` names, without the lock: for a block the
  // caller holds a reference to, directly or through a parent it holds (so
  // it cannot be freed meanwhile). Throws InvalidHandle.
  layout::BlockKind block_kind(Handle h);

  // The body and children of the object block `h` names, which the caller
  // holds a reference to. Throws InvalidHandle (not a live object) or
  // CorruptObject (a malformed child table).
  // An object with a checksum (layout::kChecksummed) is verified here too:
  // CorruptObject if its bytes were altered after it was sealed.
  ObjectView object(Handle h);

  // Seals the checksum of an object this process made and no one else can
  // see yet (object_checksum.cpp); every later object() verifies it.
  void seal_checksum(Handle object);

  // The id of the site (source `file`, `line`) in this arena's site table
  // (sites.hpp), interned on first use: after that a lookup in a
  // process-local cache. Takes the arena lock on a miss. Returns 0
  // (unknown) when the table is full or `file` is empty or not UTF-8; a
  // path longer than layout::kMaxSiteFileBytes keeps its end. Not on a
  // read-only mapping.
  std::uint32_t intern_site(std::string_view file, std::uint32_t line);

  // The site table as it is now (decoded from the mapping, lock-free).
  SiteTable sites() const;

  // Longest time this process waited for the arena lock.
  std::chrono::nanoseconds max_lock_wait() const;

  std::byte* base() const { return base_; }

 private:
  // The rest of the core reaches what follows through ArenaInternals
  // (broker/core_internals.hpp), which says what each part may use.
  friend class ArenaInternals;
  struct Mapping;

  Arena(std::string name, std::unique_ptr<Mapping> mapping, bool creator, ArenaOptions options);
  layout::ArenaHeader* header() const { return reinterpret_cast<layout::ArenaHeader*>(base_); }
  void repair_locked();  // after a dead lock owner: see repair.cpp
  void release_ledger_entry_locked(std::uint32_t slot, layout::LedgerEntry* entry);
  // Lowers the refcount of the block at `offset`; at zero frees it and
  // lowers the refcounts of what it owned in turn.
  void drop_reference_locked(std::uint64_t offset);
  // Refcount changes, under the lock. Each one read-modify-write, because
  // a holder's owner thread changes a count without the lock: it recycles
  // its own block by CAS 1 -> 0 (recycling.hpp; layout.hpp, BlockHeader).
  // Raises the count by CAS n -> n+1, refusing n = 0 (false): a block at 0
  // is being recycled by its owner, or freed.
  [[nodiscard]] static bool add_reference_locked(layout::BlockHeader* block);
  // Raises the count for a reference made from a handle alone (retain):
  // refused, with the count as it was, when the handle's block was recycled
  // before the count rose (its generation moved) or is being recycled now.
  [[nodiscard]] bool take_reference_locked(Handle h);
  // Repair's recount: the truth, whatever the count was.
  static void set_refcount_locked(layout::BlockHeader* block, std::uint32_t count);
  // What a used block owns references on: an object's children, a
  // channel's pending items; only entries naming live blocks. Empty for
  // other kinds or a malformed table.
  std::vector<std::uint64_t> owned_children_locked(std::uint64_t offset) const;
  // A channel end's last reference went (channel_ends.cpp): it is counted
  // out of its channel, which closes if that was the last end of its role.
  void channel_end_gone_locked(std::uint64_t offset);
  // Repair's recount of every channel's ends from the live end blocks, and
  // the closes a dead lock owner did not get to (channel_ends.cpp).
  void recount_channel_ends_locked();
  std::uint32_t object_checksum(Handle object, const ObjectView& view) const;
  void verify_checksum(Handle object, const ObjectView& view, std::uint32_t recorded) const;
  void release_all_locked(std::uint32_t slot);  // empties one holder's ledger and slot
  // A closing arena whose last holder slot was just released: mark it
  // unlinked and unlink it (arena_lifecycle.cpp). No-op otherwise.
  void unlink_if_unheld_locked();
  std::uint64_t active_holders_locked() const;
  // Unlinks the file at our name if it is this arena (same arena_id).
  void unlink_own_segment() const;
  void end_in_flight_locked(std::uint64_t index);  // in_flight.cpp
  // The ledger chunk in the block at `offset`, or nullptr unless that is a
  // used ledger block large enough for the entries its chunk claims.
  layout::LedgerChunk* ledger_chunk_locked(std::uint64_t offset) const;

  // This process's view of the site table, under its own mutex.
  struct SiteCache {
    std::mutex mutex;
    std::unordered_map<std::string, std::uint32_t> files;                         // path -> file id
    std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint32_t> sites;  // (file id, line) -> site id
    std::uint64_t seen = 0;  // log bytes reflected above
    bool full = false;
  };
  void refresh_sites_locked(const SiteTable& table);
  std::uint32_t cached_site(std::string_view file, std::uint32_t line) const;

  std::string name_;
  std::unique_ptr<Mapping> mapping_;
  std::byte* base_ = nullptr;
  std::uint64_t size_ = 0;
  bool creator_ = false;
  bool unlink_on_close_ = false;
  std::uint64_t fork_generation_ = 0;  // a forked copy of the creator must not unlink
  ArenaOptions options_;
  std::unique_ptr<BlockHeap> heap_;
  std::atomic<std::int64_t> max_lock_wait_ns_{0};
  // True while this process repairs (under the lock): ends freed then are
  // not counted out one by one, since the counts may be stale; repair
  // recounts them from the ends left (channel_ends.cpp).
  bool repairing_ = false;
  SiteCache sites_;
};

// Consistency check of an arena image without taking its lock (the CLI's
// read-only view, or a copy). Bounds every offset it reads; never crashes
// on garbage. Returns the problems found.
std::vector<std::string> check_image(const std::byte* base, std::uint64_t bytes);

}  // namespace shoal
