// arena.cpp — creating, attaching and destroying arenas; stats and blocks.
//
// The file behind an arena is opened, checked, built and published by
// segment_file.cpp (plain POSIX calls: no blocking open, only our own
// regular files, a new arena published whole). This file lays out and
// checks the header.
#include "shoal/arena.hpp"

#include <errno.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>

#include "arena_lock.hpp"
#include "block_heap.hpp"
#include "clock.hpp"
#include "segment_file.hpp"
#include "shoal/errors.hpp"
#include "shoal/holder.hpp"
#include "process_identity.hpp"
#include "quiescence.hpp"
#include "shoal/size.hpp"
#include "test_hooks.hpp"

namespace shoal {

using layout::ArenaHeader;

struct Arena::Mapping {
  std::shared_ptr<const segment::Mapping> region;  // this process's one mapping of the file
};

namespace {

constexpr std::uint64_t kMaxArenaBytes = std::uint64_t{1} << 46;  // 64 TiB
constexpr auto kReadyWait = std::chrono::seconds(2);
// Rounds of "create; if it exists, attach; if it vanished meanwhile, create
// again" before open_or_create gives up (only a name created and destroyed
// over and over by others gets that far).
constexpr int kOpenOrCreateRounds = 100;

std::string shm_path(const std::string& name) { return segment::path_of(name); }

// A name as it can be shown in a message: control characters escaped.
std::string printable_name(const std::string& name) {
  std::string shown;
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) {
      shown.push_back(c);
    } else if (c == '\n') {
      shown += "\\n";
    } else if (c == '\t') {
      shown += "\\t";
    } else {
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", u);
      shown += escaped;
    }
  }
  return shown;
}

std::string describe_bytes(const std::byte* bytes, std::size_t count) {
  std::string printable;
  std::string hex;
  for (std::size_t i = 0; i < count; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    printable.push_back(c >= 32 && c < 127 ? static_cast<char>(c) : '.');
    char digits[4];
    std::snprintf(digits, sizeof digits, "%02x", c);
    hex += digits;
  }
  return "'" + printable + "' (" + hex + ")";
}

// Refuses a size that tmpfs could not back: touching a page beyond it would
// raise SIGBUS in whoever touches it, long after creation.
void check_backing_store(const std::string& name, std::uint64_t size) {
  // What is free now, not the filesystem's total: other arenas and files
  // take their share. The arena is sparse, so this cannot promise room
  // later; allocations reserve their pages and raise ArenaFull when it runs
  // out (backing.cpp). It refuses what could never fit today.
  struct statvfs fs {};
  if (statvfs("/dev/shm", &fs) != 0) return;
  const std::uint64_t capacity = static_cast<std::uint64_t>(fs.f_blocks) * fs.f_frsize;
  const std::uint64_t available = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (capacity != 0 && size > available) {
    throw InvalidArgument("arena '" + name + "': " + format_size(size) + " is more than /dev/shm has free (" +
                          format_size(available) + " free of " + format_size(capacity) +
                          "); free space there or ask for less");
  }
}

// 16 random bytes for a new arena's id. getrandom() without flags blocks
// only before the kernel's pool is first seeded, long before anyone runs us.
std::array<std::uint8_t, 16> random_id() {
  std::array<std::uint8_t, 16> id{};
  std::size_t got = 0;
  while (got < id.size()) {
    const ssize_t n = getrandom(id.data() + got, id.size() - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw SystemError(std::string("getrandom failed: ") + std::strerror(errno));
    got += static_cast<std::size_t>(n);
  }
  return id;
}

}  // namespace

const std::string& Arena::host_boot_id() {
  static const std::string id = [] {
    std::ifstream file("/proc/sys/kernel/random/boot_id");
    std::string text;
    std::getline(file, text);
    return text.substr(0, sizeof(ArenaHeader::boot_id) - 1);
  }();
  return id;
}

ArenaIdentity Arena::identity() const {
  const ArenaHeader* h = header();
  ArenaIdentity identity;
  std::memcpy(identity.id.data(), h->arena_id, identity.id.size());
  identity.boot_id.assign(h->boot_id, strnlen(h->boot_id, sizeof h->boot_id));
  return identity;
}

std::string Arena::segment_name(const std::string& name) { return "shoal." + name; }

void Arena::validate_name(const std::string& name) {
  const auto control = std::find_if(name.begin(), name.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
  const bool ok = !name.empty() && name.size() <= 200 && name.find('/') == std::string::npos && name != "." &&
                  name != ".." && control == name.end();
  if (!ok) {
    const std::string why =
        control != name.end() ? ": it contains a control character (" + printable_name(std::string(1, *control)) +
                                    "), which would garble every listing and message; "
                              : ": ";
    throw InvalidArgument("invalid arena name '" + printable_name(name) + "'" + why +
                          "use 1 to 200 characters, no '/' and no control characters (it becomes "
                          "/dev/shm/shoal.NAME)");
  }
}

Arena::Arena(std::string name, std::unique_ptr<Mapping> mapping, bool creator, ArenaOptions options)
    : name_(std::move(name)),
      mapping_(std::move(mapping)),
      base_(mapping_->region->address()),
      size_(mapping_->region->bytes()),
      creator_(creator),
      unlink_on_close_(creator),
      fork_generation_(fork_generation()),
      options_(options),
      heap_(std::make_unique<BlockHeap>(base_, size_, name_)) {}

Arena::~Arena() {
  if (creator_ && unlink_on_close_ && fork_generation() == fork_generation_) {
    // The creator gives the name up, but never under a live holder: with
    // holders left the arena is closing, and the last of them unlinks it
    // (arena_lifecycle.cpp).
    try {
      (void)retire(/*force=*/true);
    } catch (const Error&) {
      // A lock held too long or a damaged header: nobody can take holders
      // in safely any more; give the name up as before.
      ::unlink(shm_path(name_).c_str());
    }
  }
  heap_.reset();
  mapping_.reset();
}

std::shared_ptr<Arena> Arena::create(const std::string& name, std::uint64_t size, ArenaOptions options) {
  validate_name(name);
  // The bounds apply to the size asked for, which the message shows (a
  // size rounded down first would read "size 0 B" for "1B").
  if (size < layout::kMinArenaBytes || size > kMaxArenaBytes) {
    throw InvalidArgument("arena '" + name + "': size " + format_size(size) + " is outside " +
                          format_size(layout::kMinArenaBytes) + " .. " + format_size(kMaxArenaBytes) +
                          " (the smallest arena is " + format_size(layout::kMinArenaBytes) + ")");
  }
  size = size / layout::kAlign * layout::kAlign;  // kMinArenaBytes is a multiple: still in bounds
  // A cheap early answer for the common case; link() in publish() below is
  // the one that counts.
  struct stat existing {};
  if (::lstat(shm_path(name).c_str(), &existing) == 0) {
    throw ArenaExists("arena '" + name + "' (" + shm_path(name) + ") already exists");
  }
  check_backing_store(name, size);

  // Built under a private name, published whole (segment_file.hpp): no
  // attacher ever sees the header below half-written.
  segment::remove_abandoned_temporaries();
  segment::PendingSegment pending(name, size);
  ArenaHeader* header = reinterpret_cast<ArenaHeader*>(pending.address());
  // The segment is fresh and zero-filled; lay out the header.
  std::memcpy(header->magic, layout::kMagic, sizeof header->magic);
  header->layout_version = layout::kLayoutVersion;
  header->arena_size = size;
  header->bitmap_offset = layout::kHeaderBytes;
  header->bitmap_bytes = layout::bitmap_bytes_for(size);
  header->heap_begin = header->bitmap_offset + header->bitmap_bytes;
  header->heap_end = size;
  header->created_ns = clock::realtime_ns();
  const ProcessIdentity creator = current_process();
  header->creator_pid = creator.pid;
  header->creator_start_time = creator.start_time;
  std::strncpy(header->name, name.c_str(), sizeof header->name - 1);
  const auto id = random_id();
  std::memcpy(header->arena_id, id.data(), id.size());
  std::strncpy(header->boot_id, host_boot_id().c_str(), sizeof header->boot_id - 1);
  ArenaLock::initialize(&header->lock);
  BlockHeap(pending.address(), size, name).format();
  // Attachers still check this (an arena made by an older shoal could be
  // seen mid-way); after publish() it is always 1.
  std::atomic_ref<std::uint32_t>(header->ready).store(1, std::memory_order_release);

  auto mapping = std::make_unique<Mapping>(Mapping{pending.publish()});  // ArenaExists if taken
  return std::shared_ptr<Arena>(new Arena(name, std::move(mapping), /*creator=*/true, options));
}

std::shared_ptr<Arena> Arena::attach(const std::string& name, Access access, ArenaOptions options) {
  validate_name(name);
  auto mapping = std::make_unique<Mapping>(
      Mapping{segment::map_existing(name, access == Access::read_write, options.other_user)});
  const std::uint64_t mapped = mapping->region->bytes();
  const auto* header = reinterpret_cast<const ArenaHeader*>(mapping->region->address());
  const auto is_ready = [header] {
    return std::atomic_ref<const std::uint32_t>(header->ready).load(std::memory_order_acquire) == 1;
  };
  // Our creators publish an arena whole, but one made by an older shoal
  // may still be laying out its header: wait briefly for `ready` while the
  // magic is blank or ours. Anything else is not worth waiting for.
  const auto deadline = std::chrono::steady_clock::now() + kReadyWait;
  while (!is_ready() && std::chrono::steady_clock::now() < deadline) {
    const bool blank = std::all_of(header->magic, header->magic + 8, [](char c) { return c == 0; });
    if (!blank && std::memcmp(header->magic, layout::kMagic, sizeof layout::kMagic) != 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (std::memcmp(header->magic, layout::kMagic, sizeof layout::kMagic) != 0) {
    throw NotAnArena(shm_path(name) + " is not a shoal arena: it starts with " +
                     describe_bytes(reinterpret_cast<const std::byte*>(header->magic), 8) + ", not 'SHOALARN'");
  }
  if (header->layout_version != layout::kLayoutVersion) {
    throw LayoutMismatch("arena '" + name + "' has layout version " + std::to_string(header->layout_version) +
                         "; this shoal reads layout version " + std::to_string(layout::kLayoutVersion));
  }
  const bool sane = is_ready() && header->arena_size == mapped && header->bitmap_offset == layout::kHeaderBytes &&
                    header->heap_begin == header->bitmap_offset + header->bitmap_bytes &&
                    header->heap_begin % layout::kAlign == 0 && header->heap_begin < header->heap_end &&
                    header->heap_end <= mapped;
  if (!sane) {
    throw CorruptArena("arena '" + name + "': its header is inconsistent (size " + std::to_string(mapped) +
                       " bytes, recorded " + std::to_string(header->arena_size) +
                       (is_ready() ? ")" : ", never marked ready by its creator)"));
  }
  return std::shared_ptr<Arena>(new Arena(name, std::move(mapping), /*creator=*/false, options));
}

std::shared_ptr<Arena> Arena::open_or_create(const std::string& name, std::uint64_t size, ArenaOptions options) {
  for (int round = 1;; ++round) {
    try {
      return create(name, size, options);
    } catch (const ArenaExists&) {
    }
    try {
      return attach(name, Access::read_write, options);
    } catch (const ArenaNotFound&) {
      // Destroyed between our create and our attach: try again.
      if (round == kOpenOrCreateRounds) throw;
    }
  }
}

bool Arena::destroy(const std::string& name) {
  validate_name(name);
  // shm_unlink directly (Boost's remove() returns only a bool): a refusal
  // must say why. POSIX names carry a leading slash.
  std::string posix_name = "/";  // (not "/" + ...: GCC 12 warns falsely on it)
  posix_name += segment_name(name);
  if (shm_unlink(posix_name.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  if (errno == EACCES || errno == EPERM) {
    throw PermissionDenied("permission denied removing arena '" + name + "' (" + shm_path(name) + ")");
  }
  throw SystemError("removing arena '" + name + "' (" + shm_path(name) + ") failed: " + std::strerror(errno));
}

ArenaStats Arena::stats() {
  ArenaLock lock(*this);
  const ArenaHeader* h = header();
  ArenaStats s;
  s.size = h->arena_size;
  s.heap_bytes = h->heap_end - h->heap_begin;
  for (auto& slot : header()->holders) {
    if (slot.state != static_cast<std::uint32_t>(layout::SlotState::active)) continue;
    ++s.holders;
    s.cached_blocks += std::atomic_ref(slot.cached_blocks).load(std::memory_order_relaxed);
    s.cached_bytes += std::atomic_ref(slot.cached_bytes).load(std::memory_order_relaxed);
  }
  // A holder updates its figures a moment after its cache changes: never
  // let that moment show as more cached than used.
  s.cached_bytes = std::min(s.cached_bytes, h->used_bytes);
  s.cached_blocks = std::min(s.cached_blocks, h->used_blocks);
  s.used_bytes = h->used_bytes - s.cached_bytes;
  s.free_bytes = s.heap_bytes - h->used_bytes;
  s.largest_free = heap_->largest_free_payload();
  s.used_blocks = h->used_blocks - s.cached_blocks;
  s.free_blocks = h->free_blocks;
  s.repairs = h->repairs;
  s.reaped_holders = h->reaped_holders;
  return s;
}

BlockInfo Arena::block_info(Handle h) {
  ArenaLock lock(*this);
  const layout::BlockHeader* block = heap_->resolve(h);
  if (block == nullptr) {
    throw InvalidHandle("arena '" + name_ + "': handle " + to_string(h) + " names no live block");
  }
  return BlockInfo{h, static_cast<layout::BlockKind>(block->kind), block->size, block->requested,
                   block->refcount, (block->flags & layout::kFrozen) != 0};
}

layout::BlockKind Arena::block_kind(Handle h) {
  const layout::BlockHeader* block = heap_->resolve(h);
  if (block == nullptr) {
    throw InvalidHandle("arena '" + name_ + "': handle " + to_string(h) + " names no live block");
  }
  return static_cast<layout::BlockKind>(block->kind);
}

std::span<std::byte> Arena::payload(Handle h) {
  const layout::BlockHeader* block = heap_->resolve(h);
  if (block == nullptr) {
    throw InvalidHandle("arena '" + name_ + "': handle " + to_string(h) + " names no live block");
  }
  return {base_ + h.offset + layout::kBlockHeaderBytes, heap_->payload_bytes(h.offset)};
}

ObjectView Arena::object(Handle h) {
  const layout::BlockHeader* block = heap_->resolve(h);
  if (block == nullptr || block->kind != static_cast<std::uint32_t>(layout::BlockKind::object)) {
    throw InvalidHandle("arena '" + name_ + "': handle " + to_string(h) + " names no live object");
  }
  test_hooks::reach(test_hooks::Point::object_after_resolve);
  const std::byte* payload = base_ + h.offset + layout::kBlockHeaderBytes;
  // The payload's length is read once and bounded against the block and
  // the heap in that one read (BlockHeap::payload_bytes): a reader without
  // the lock (the CLI's dump) may see the block freed and reused meanwhile,
  // or a stray write change `requested`, and every bound below must come
  // from the value that was checked.
  const std::uint64_t requested = heap_->payload_bytes(h.offset);
  layout::ChildTable table;
  std::memcpy(&table, payload, sizeof table);
  if (!layout::child_table_is_sane(table, requested)) {
    throw CorruptObject("arena '" + name_ + "': object " + to_string(h) + " has a malformed child table");
  }
  ObjectView view;
  view.body = {payload + table.body_offset, static_cast<std::size_t>(requested - table.body_offset)};
  view.children.resize(table.count);
  if (table.count != 0) {  // (memcpy into an empty vector's null pointer is undefined, even for 0 bytes)
    std::memcpy(view.children.data(), payload + sizeof table, table.count * sizeof(layout::ChildEntry));
  }
  if (std::atomic_ref<const std::uint16_t>(block->flags).load(std::memory_order_acquire) & layout::kChecksummed) {
    verify_checksum(h, view, table.checksum);
  }
  return view;
}

std::chrono::nanoseconds Arena::max_lock_wait() const {
  return std::chrono::nanoseconds(max_lock_wait_ns_.load(std::memory_order_relaxed));
}

std::vector<std::string> Arena::check() {
  ArenaLock lock(*this);
  // No live holder halfway through a lock-free operation, and none starts
  // one: the picture is exact (quiescence.hpp).
  LockFreeGate gate(*this);
  return check_image(base_, size_);
}

}  // namespace shoal
