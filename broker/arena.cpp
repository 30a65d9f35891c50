// arena.cpp — creating, attaching and destroying arenas; stats and blocks.
//
// Boost.Interprocess provides the segment, its permissions and the mapping.
// Nothing else of Boost.Interprocess lives in the arena: its mutexes and
// allocators are not safe against a process dying inside them.
#include "shoal/arena.hpp"

#include <errno.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <atomic>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>

#include "arena_lock.hpp"
#include "block_heap.hpp"
#include "clock.hpp"
#include "shoal/process_identity.hpp"
#include "shoal/errors.hpp"
#include "shoal/holder.hpp"
#include "shoal/size.hpp"

namespace bip = boost::interprocess;

namespace shoal {

using layout::ArenaHeader;

struct Arena::Mapping {
  bip::shared_memory_object segment;
  bip::mapped_region region;
};

namespace {

constexpr std::uint64_t kMaxArenaBytes = std::uint64_t{1} << 46;  // 64 TiB
constexpr auto kReadyWait = std::chrono::seconds(2);

std::string shm_path(const std::string& name) { return "/dev/shm/" + Arena::segment_name(name); }

// Turns a Boost.Interprocess failure into our typed error.
[[noreturn]] void rethrow_segment_error(const bip::interprocess_exception& e, const std::string& name,
                                        const char* doing) {
  const int err = e.get_native_error();
  const std::string where = "arena '" + name + "' (" + shm_path(name) + ")";
  if (err == EEXIST || e.get_error_code() == bip::already_exists_error) {
    throw ArenaExists(where + " already exists");
  }
  if (err == ENOENT || e.get_error_code() == bip::not_found_error) {
    throw ArenaNotFound("no " + where + ": nothing of that name exists");
  }
  if (err == EACCES || err == EPERM || e.get_error_code() == bip::security_error) {
    throw PermissionDenied("permission denied " + std::string(doing) + " " + where +
                           ": it belongs to another user (mode 0600)");
  }
  throw SystemError(std::string(doing) + " " + where + " failed: " + e.what());
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
  const bool ok = !name.empty() && name.size() <= 200 && name.find('/') == std::string::npos &&
                  name != "." && name != ".." && name.find('\0') == std::string::npos;
  if (!ok) {
    throw InvalidArgument("invalid arena name '" + name +
                          "': use 1 to 200 characters, no '/' (it becomes /dev/shm/shoal.NAME)");
  }
}

Arena::Arena(std::string name, std::unique_ptr<Mapping> mapping, bool creator, ArenaOptions options)
    : name_(std::move(name)),
      mapping_(std::move(mapping)),
      base_(static_cast<std::byte*>(mapping_->region.get_address())),
      size_(mapping_->region.get_size()),
      creator_(creator),
      unlink_on_close_(creator),
      fork_generation_(fork_generation()),
      options_(options),
      heap_(std::make_unique<BlockHeap>(base_, size_, name_)) {}

Arena::~Arena() {
  heap_.reset();
  mapping_.reset();
  if (creator_ && unlink_on_close_ && fork_generation() == fork_generation_) bip::shared_memory_object::remove(segment_name(name_).c_str());
}

std::shared_ptr<Arena> Arena::create(const std::string& name, std::uint64_t size, ArenaOptions options) {
  validate_name(name);
  size = size / layout::kAlign * layout::kAlign;
  if (size < layout::kMinArenaBytes || size > kMaxArenaBytes) {
    throw InvalidArgument("arena '" + name + "': size " + format_size(size) + " is outside " +
                          format_size(layout::kMinArenaBytes) + " .. " + format_size(kMaxArenaBytes));
  }
  check_backing_store(name, size);

  auto mapping = std::make_unique<Mapping>();
  try {
    mapping->segment = bip::shared_memory_object(bip::create_only, segment_name(name).c_str(), bip::read_write,
                                                 bip::permissions(0600));
  } catch (const bip::interprocess_exception& e) {
    rethrow_segment_error(e, name, "creating");
  }
  try {
    mapping->segment.truncate(static_cast<bip::offset_t>(size));
    mapping->region = bip::mapped_region(mapping->segment, bip::read_write);
  } catch (const bip::interprocess_exception& e) {
    bip::shared_memory_object::remove(segment_name(name).c_str());
    throw SystemError("arena '" + name + "': sizing or mapping the new segment failed: " + e.what());
  }

  std::shared_ptr<Arena> arena(new Arena(name, std::move(mapping), /*creator=*/true, options));
  ArenaHeader* header = arena->header();
  // The segment is fresh and zero-filled; lay out the header.
  std::memcpy(header->magic, layout::kMagic, sizeof header->magic);
  header->layout_version = layout::kLayoutVersion;
  header->arena_size = size;
  header->bitmap_offset = layout::kHeaderBytes;
  const std::uint64_t units = (size - layout::kHeaderBytes) / layout::kAlign;
  header->bitmap_bytes = ((units + 63) / 64 * 8 + layout::kAlign - 1) / layout::kAlign * layout::kAlign;
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
  arena->heap_->format();
  // Attachers wait for this before trusting anything above.
  std::atomic_ref<std::uint32_t>(header->ready).store(1, std::memory_order_release);
  return arena;
}

std::shared_ptr<Arena> Arena::attach(const std::string& name, Access access, ArenaOptions options) {
  validate_name(name);
  const auto mode = access == Access::read_write ? bip::read_write : bip::read_only;
  auto mapping = std::make_unique<Mapping>();
  bip::offset_t bytes = 0;
  try {
    mapping->segment = bip::shared_memory_object(bip::open_only, segment_name(name).c_str(), mode);
    mapping->segment.get_size(bytes);
  } catch (const bip::interprocess_exception& e) {
    rethrow_segment_error(e, name, "opening");
  }
  if (bytes < static_cast<bip::offset_t>(layout::kHeaderBytes)) {
    throw NotAnArena(shm_path(name) + " is not a shoal arena: it is " + std::to_string(bytes) +
                     " bytes, smaller than an arena header (" + std::to_string(layout::kHeaderBytes) + ")");
  }
  try {
    mapping->region = bip::mapped_region(mapping->segment, mode);
  } catch (const bip::interprocess_exception& e) {
    rethrow_segment_error(e, name, "mapping");
  }

  const auto* header = static_cast<const ArenaHeader*>(mapping->region.get_address());
  // A creator may still be laying out the header: wait briefly for `ready`.
  const auto deadline = std::chrono::steady_clock::now() + kReadyWait;
  while (std::atomic_ref<const std::uint32_t>(header->ready).load(std::memory_order_acquire) != 1) {
    const bool blank = std::all_of(header->magic, header->magic + 8, [](char c) { return c == 0; });
    if (!blank || std::chrono::steady_clock::now() > deadline) break;
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
  const auto mapped = static_cast<std::uint64_t>(bytes);
  const bool sane = std::atomic_ref<const std::uint32_t>(header->ready).load(std::memory_order_acquire) == 1 &&
                    header->arena_size == mapped && header->bitmap_offset == layout::kHeaderBytes &&
                    header->heap_begin == header->bitmap_offset + header->bitmap_bytes &&
                    header->heap_begin % layout::kAlign == 0 && header->heap_begin < header->heap_end &&
                    header->heap_end <= mapped;
  if (!sane) {
    throw CorruptArena("arena '" + name + "': its header is inconsistent (size " + std::to_string(mapped) +
                       " bytes, recorded " + std::to_string(header->arena_size) + ")");
  }
  return std::shared_ptr<Arena>(new Arena(name, std::move(mapping), /*creator=*/false, options));
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
  const std::byte* payload = base_ + h.offset + layout::kBlockHeaderBytes;
  // `requested` is read once: a reader without the lock (the CLI's dump)
  // may see the block freed and reused meanwhile, and every bound below
  // must come from the value that was checked.
  const std::uint64_t requested = std::atomic_ref(block->requested).load(std::memory_order_relaxed);
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
  return view;
}

std::chrono::nanoseconds Arena::max_lock_wait() const {
  return std::chrono::nanoseconds(max_lock_wait_ns_.load(std::memory_order_relaxed));
}

std::vector<std::string> Arena::check() {
  ArenaLock lock(*this);
  return check_image(base_, size_);
}

}  // namespace shoal
