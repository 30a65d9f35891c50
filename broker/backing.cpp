// backing.cpp — the arena's pages in tmpfs: reserved before a block is
// handed out, returned to the system when enough lie free.
//
// tmpfs backs a page of /dev/shm when it is first touched, and if the
// filesystem is full then, the process that touched it gets SIGBUS, at
// whatever line it was writing. So BlockHeap::allocate reserves the pages of
// a fresh block first (reserve_backing: madvise MADV_POPULATE_WRITE, Linux
// >= 5.14, which fails with EFAULT where a touch would have raised SIGBUS)
// and turns a failure into ArenaFull, before anything changed. Which pages
// are already backed is kept per region in the backing map
// (layout.hpp) per 64 KiB region (more in arenas over 16 GiB), so an
// allocation in a backed region costs one bit test and no system call, and
// a small block alone in a region keeps only the region backed.
//
// Freeing only counts bytes (ArenaHeader::unreturned_bytes). Once
// kReturnEvery bytes were freed, the freer, still under the lock, makes a
// pass over the free blocks (return_free_pages): a backed region lying
// wholly inside a free block's payload is marked idle, and one already
// marked by the previous pass (so unused since) is returned to tmpfs
// (MADV_REMOVE); allocating in a region clears its mark. The broker's round
// makes a pass too while anything was freed or marked. So resident memory
// follows use a pass or two behind, and a loop that allocates and frees
// the same blocks keeps their pages and makes no system call for them.
//
// Crash safety: a region's bit is set after it was populated and cleared
// before it is removed (layout.hpp, "backing map"): a death between leaves
// backed pages no bit names, which costs memory, never a fault.
#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <vector>

#include "arena_lock.hpp"
#include "block_heap.hpp"
#include "shoal/arena.hpp"
#include "shoal/errors.hpp"
#include "shoal/size.hpp"

namespace shoal {

using layout::BlockHeader;
using layout::FreeLinks;
using layout::kBackingRegions;

namespace {

constexpr std::uint64_t kPageBytes = 4096;  // tmpfs's page; a larger one is a multiple

std::uint64_t round_down(std::uint64_t x, std::uint64_t unit) { return x / unit * unit; }
std::uint64_t round_up(std::uint64_t x, std::uint64_t unit) { return (x + unit - 1) / unit * unit; }

// Set once MADV_POPULATE_WRITE proved unsupported (a kernel before 5.14):
// pages are then backed when touched, as before, with SIGBUS if tmpfs is full.
std::atomic<bool> g_populate_unsupported{false};

}  // namespace

std::uint64_t* BlockHeap::backing_map() const {
  return reinterpret_cast<std::uint64_t*>(base_ + layout::kBackingMapOffset);
}

std::uint64_t* BlockHeap::idle_map() const { return reinterpret_cast<std::uint64_t*>(base_ + layout::kIdleMapOffset); }

bool BlockHeap::region_backed(std::uint64_t region) const {
  if (region >= kBackingRegions) return false;
  return (backing_map()[region / 64] >> (region % 64)) & 1u;
}

void BlockHeap::set_region_backed(std::uint64_t region, bool backed) {
  if (region >= kBackingRegions) return;
  std::uint64_t& word = backing_map()[region / 64];
  const std::uint64_t bit = std::uint64_t{1} << (region % 64);
  word = backed ? word | bit : word & ~bit;
}

void BlockHeap::populate(std::uint64_t begin, std::uint64_t end) {
  begin = round_down(begin, kPageBytes);
  end = std::min(round_up(end, kPageBytes), mapped_bytes_);
  if (begin >= end || g_populate_unsupported.load(std::memory_order_relaxed)) return;
  int result = 0;
  do {
    result = madvise(base_ + begin, end - begin, MADV_POPULATE_WRITE);
  } while (result != 0 && errno == EINTR);
  if (result == 0) return;
  const int error = errno;
  if (error == EINVAL) {
    g_populate_unsupported.store(true, std::memory_order_relaxed);
    return;
  }
  if (error == EFAULT || error == ENOMEM || error == ENOSPC) {
    // EFAULT: the fault that would have raised SIGBUS (tmpfs full, or past
    // its size limit); ENOMEM: out of memory. Either way no room.
    throw ArenaFull("arena '" + arena_name_ + "' is full: /dev/shm has no room left to back " +
                    format_size(end - begin) + " more (" + std::strerror(error) +
                    "); free memory there or use a smaller arena");
  }
  throw SystemError("arena '" + arena_name_ + "': reserving pages failed: " + std::strerror(error));
}

void BlockHeap::reserve_backing(std::uint64_t begin, std::uint64_t end) {
  const std::uint64_t first = begin / region_bytes_;
  const std::uint64_t last = (end - 1) / region_bytes_;
  // The common case, word by word: every region backed already; in use
  // again, so no longer idle.
  bool all_backed = last < kBackingRegions;
  for (std::uint64_t w = first / 64; all_backed && w <= last / 64; ++w) {
    const std::uint64_t low = w == first / 64 ? first % 64 : 0;
    const std::uint64_t high = w == last / 64 ? last % 64 : 63;
    const std::uint64_t mask = (~std::uint64_t{0} >> (63 - high)) & (~std::uint64_t{0} << low);
    if ((idle_map()[w] & mask) != 0) idle_map()[w] &= ~mask;
    all_backed = (backing_map()[w] & mask) == mask;
  }
  if (all_backed) return;
  for (std::uint64_t r = first; r <= last;) {
    if (region_backed(r)) {
      ++r;
      continue;
    }
    if (r >= kBackingRegions) {  // past the map (a stray geometry): this block's own pages, every time
      const std::uint64_t from = std::max(begin, r * region_bytes_);
      populate(from, end);
      populate(bitmap_byte(from), bitmap_byte(end) + 1);
      return;
    }
    // A run of regions not yet backed, populated whole with their bitmap bytes.
    std::uint64_t stop = r;
    while (stop <= last && stop < kBackingRegions && !region_backed(stop)) ++stop;
    const std::uint64_t from = r * region_bytes_;
    const std::uint64_t to = std::min(stop * region_bytes_, header_->heap_end);
    populate(from, to);
    const std::uint64_t heap_from = std::max(from, header_->heap_begin);
    if (heap_from < to) populate(bitmap_byte(heap_from), bitmap_byte(to - 1) + 1);
    for (std::uint64_t s = r; s < stop; ++s) set_region_backed(s, true);  // after: a set bit never lies
    r = stop;
  }
  for (std::uint64_t r = first; r <= last && r < kBackingRegions; ++r) {
    idle_map()[r / 64] &= ~(std::uint64_t{1} << (r % 64));
  }
}

std::uint64_t BlockHeap::bitmap_byte(std::uint64_t offset) const {
  return header_->bitmap_offset + (offset - header_->heap_begin) / layout::kAlign / 8;
}

void BlockHeap::note_freed(std::uint64_t bytes) {
  // Atomic: the broker peeks at it without the lock.
  std::atomic_ref unreturned(header_->unreturned_bytes);
  const std::uint64_t now = unreturned.load(std::memory_order_relaxed) + bytes;
  unreturned.store(now, std::memory_order_relaxed);
  if (now >= kReturnEvery) return_free_pages();
}

std::uint64_t BlockHeap::return_free_pages() {
  std::atomic_ref(header_->unreturned_bytes).store(0, std::memory_order_relaxed);
  // Every backed region lying wholly inside a free block's payload, past
  // its header and free links: returned if the last pass marked it idle
  // already, marked idle otherwise. Only blocks of a region or more can
  // hold one: the lists of the size classes from there up (each block
  // checked, as a class spans a range of sizes).
  std::vector<std::uint64_t> regions;  // to return
  std::uint64_t marked = 0;
  const std::uint64_t keep_clear = layout::kBlockHeaderBytes + sizeof(FreeLinks);
  std::uint64_t seen = 0;
  for (std::uint32_t c = size_class(region_bytes_); c < layout::kSizeClasses; ++c) {
    for (std::uint64_t at = header_->free_heads[c]; at != 0; ++seen) {
      if (seen > header_->free_blocks) break;  // a damaged list: repair will rebuild it
      const BlockHeader* block = follow(at, "a free list");
      const std::uint64_t from = round_up(at + keep_clear, region_bytes_) / region_bytes_;
      const std::uint64_t to = std::min(round_down(at + block->size, region_bytes_) / region_bytes_, kBackingRegions);
      for (std::uint64_t w = from / 64; from < to && w <= (to - 1) / 64; ++w) {
        const std::uint64_t low = w == from / 64 ? from % 64 : 0;
        const std::uint64_t high = w == (to - 1) / 64 ? (to - 1) % 64 : 63;
        const std::uint64_t mask = (~std::uint64_t{0} >> (63 - high)) & (~std::uint64_t{0} << low);
        const std::uint64_t backed = backing_map()[w] & mask;
        if (backed == 0) continue;
        std::uint64_t ripe = backed & idle_map()[w];
        idle_map()[w] = (idle_map()[w] & ~ripe) | (backed & ~ripe);
        marked += static_cast<std::uint64_t>(std::popcount(backed & ~ripe));
        backing_map()[w] &= ~ripe;  // before removing: a set bit never lies
        for (; ripe != 0; ripe &= ripe - 1) regions.push_back(w * 64 + static_cast<std::uint64_t>(std::countr_zero(ripe)));
      }
      at = reinterpret_cast<const FreeLinks*>(block + 1)->next;
    }
  }
  std::atomic_ref(header_->idle_regions).store(marked, std::memory_order_relaxed);
  std::sort(regions.begin(), regions.end());
  std::uint64_t returned = 0;
  for (std::size_t i = 0; i < regions.size();) {
    std::size_t j = i + 1;
    while (j < regions.size() && regions[j] == regions[j - 1] + 1) ++j;
    const std::uint64_t bytes = (j - i) * region_bytes_;
    // Errors ignored: a page not returned is only memory (EINVAL: a kernel
    // or filesystem without hole punching).
    if (madvise(base_ + regions[i] * region_bytes_, bytes, MADV_REMOVE) == 0) returned += bytes;
    i = j;
  }
  return returned;
}

std::uint64_t Arena::return_free_memory() {
  const auto pending = std::atomic_ref(header()->unreturned_bytes).load(std::memory_order_relaxed);
  const auto idle = std::atomic_ref(header()->idle_regions).load(std::memory_order_relaxed);
  if (pending < BlockHeap::kReturnEvery / 8 && idle == 0) return 0;  // nothing worth a lock round trip
  ArenaLock lock(*this);
  return heap_->return_free_pages();
}

}  // namespace shoal
