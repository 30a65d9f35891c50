// in_flight.cpp — the arena's in-flight table: references held for pickles
// (include/shoal/in_flight.hpp; the bytes are in layout.hpp).
#include "shoal/in_flight.hpp"

#include <time.h>

#include <atomic>
#include <string>

#include "arena_lock.hpp"
#include "block_heap.hpp"
#include "clock.hpp"
#include "core_internals.hpp"
#include "shoal/arena.hpp"
#include "shoal/errors.hpp"
#include "shoal/holder.hpp"
#include "process_identity.hpp"
#include "test_hooks.hpp"

namespace shoal {

using layout::BlockHeader;
using layout::BlockKind;
using layout::InFlightEntry;
using layout::InFlightTableHeader;

namespace {

// Lifetimes beyond this are refused: a pickle that must outlive a day is
// an archive, and archives copy.
constexpr std::chrono::nanoseconds kMaxLifetime = std::chrono::hours(24);

// True once `entry`'s deadline has passed, or lies further out than any
// lifetime allows (a stray write must not pin a block for ever); for a
// private entry, only once its creator has died as well (layout.hpp,
// kInFlightShared). Reads /proc only for private entries past deadline.
bool due(const InFlightEntry& entry, std::uint64_t now) {
  const bool past =
      entry.expires_boot_ns <= now || entry.expires_boot_ns - now > layout::kMaxInFlightNs + 60'000'000'000ull;
  if (!past || (entry.flags & layout::kInFlightShared) != 0) return past;
  return !is_alive(ProcessIdentity{entry.creator_pid, entry.creator_start_time});
}

}  // namespace

// The table lives in the header's padding of every arena (layout.hpp).
struct InFlightTable {
  InFlightTableHeader* header;
  InFlightEntry* entries;

  explicit InFlightTable(std::byte* base)
      : header(reinterpret_cast<InFlightTableHeader*>(base + layout::kInFlightOffset)),
        entries(reinterpret_cast<InFlightEntry*>(base + layout::kInFlightOffset + sizeof(InFlightTableHeader))) {}

  // `extent` as stored, bounded: it is derived and may be anything after a
  // stray write.
  std::uint64_t extent() const {
    const std::uint64_t e = std::atomic_ref(header->extent).load(std::memory_order_acquire);
    return e < layout::kInFlightEntries ? e : layout::kInFlightEntries;
  }
};

std::uint64_t InFlight::boot_ns() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

// Releases entry `index` (under lock): the commit, the counts, then the
// reference (which may free the block and what it owns).
void Arena::end_in_flight_locked(std::uint64_t index) {
  InFlightTable table(base_);
  InFlightEntry& entry = table.entries[index];
  const std::uint64_t offset = entry.offset;
  std::atomic_ref(entry.offset).store(0, std::memory_order_release);  // commit: the entry owns nothing
  test_hooks::reach(test_hooks::Point::in_flight_after_end);
  if (table.header->live > 0) --table.header->live;
  std::uint64_t extent = table.extent();
  while (extent > 0 && table.entries[extent - 1].offset == 0) --extent;
  std::atomic_ref(table.header->extent).store(extent, std::memory_order_release);
  if (heap_->resolve(Handle{offset, entry.generation}) != nullptr) drop_reference_locked(offset);
}

Ticket InFlight::issue(Arena& arena, Handle block, std::chrono::nanoseconds lifetime, bool shared) {
  if (lifetime <= std::chrono::nanoseconds(0) || lifetime > kMaxLifetime) {
    throw InvalidArgument("arena '" + arena.name() + "': an in-flight lifetime must be above 0 and at most 24 h");
  }
  ArenaLock lock(arena);
  BlockHeader* target = ArenaInternals::blocks(arena).resolve(block);
  if (target == nullptr || target->kind == static_cast<std::uint32_t>(BlockKind::ledger)) {
    throw InvalidHandle("arena '" + arena.name() + "': handle " + to_string(block) + " names no live block");
  }
  InFlightTable table(arena.base());
  const std::uint64_t now = boot_ns();
  const std::uint64_t deadline = now + static_cast<std::uint64_t>(lifetime.count());
  // One pass over the entries in use: end the expired ones (so a full
  // table is full of live pickles, not of forgotten ones), find a shared
  // entry of this block to reuse, or else the lowest free entry.
  std::uint64_t free_index = layout::kInFlightEntries;
  std::uint64_t soonest = ~std::uint64_t{0};
  const std::uint64_t end = table.extent();
  for (std::uint64_t i = 0; i < end; ++i) {
    InFlightEntry& entry = table.entries[i];
    if (entry.offset != 0 && due(entry, now)) ArenaInternals::end_in_flight_locked(arena, i);
    if (entry.offset == 0) {
      free_index = std::min(free_index, i);
      continue;
    }
    if (shared && (entry.flags & layout::kInFlightShared) != 0 && entry.offset == block.offset &&
        entry.generation == block.generation) {
      std::atomic_ref(entry.expires_boot_ns).store(std::max(entry.expires_boot_ns, deadline), std::memory_order_relaxed);
      return Ticket{i, entry.ticket, block, entry.expires_boot_ns};
    }
    soonest = std::min(soonest, entry.expires_boot_ns);
  }
  if (free_index == layout::kInFlightEntries) free_index = end;  // past the last in use
  if (free_index == layout::kInFlightEntries) {
    const std::uint64_t left_ns = soonest > now ? soonest - now : 0;
    throw ArenaFull("arena '" + arena.name() + "': all " + std::to_string(layout::kInFlightEntries) +
                    " in-flight references for pickles are in use; the first ends in " +
                    std::to_string(left_ns / 1'000'000'000u + 1) +
                    " s (pickle with a shorter lifetime, or unpickle sooner)");
  }
  // The reference may have just been freed with an expired entry.
  target = ArenaInternals::blocks(arena).resolve(block);
  if (target == nullptr) {
    throw InvalidHandle("arena '" + arena.name() + "': handle " + to_string(block) + " names no live block");
  }
  InFlightEntry& entry = table.entries[free_index];
  const std::uint64_t number = ArenaInternals::header(arena)->next_generation++;
  const ProcessIdentity creator = current_process();
  // Stores the lock-free scan of expire() may read: atomic.
  entry.generation = block.generation;
  entry.ticket = number;
  entry.created_ns = clock::realtime_ns();
  entry.created_boot_ns = now;
  std::atomic_ref(entry.expires_boot_ns).store(deadline, std::memory_order_relaxed);
  std::atomic_ref(entry.creator_pid).store(creator.pid, std::memory_order_relaxed);
  std::atomic_ref(entry.creator_start_time).store(creator.start_time, std::memory_order_relaxed);
  std::atomic_ref(entry.flags).store(shared ? std::uint32_t{layout::kInFlightShared} : 0u, std::memory_order_relaxed);
  std::atomic_ref(entry.offset).store(block.offset, std::memory_order_release);  // commit: the entry owns a reference
  test_hooks::reach(test_hooks::Point::in_flight_after_commit);
  if (!ArenaInternals::take_reference_locked(arena, block)) {
    // The caller broke its contract (it holds no reference) and the block's
    // owner thread recycled it since it was resolved: the entry is taken back.
    std::atomic_ref(entry.offset).store(0, std::memory_order_release);
    throw InvalidHandle("arena '" + arena.name() + "': handle " + to_string(block) + " names no live block");
  }
  std::atomic_ref<std::uint16_t>(target->flags).fetch_or(layout::kFrozen, std::memory_order_release);
  ++table.header->live;
  if (free_index >= table.extent()) std::atomic_ref(table.header->extent).store(free_index + 1, std::memory_order_release);
  return Ticket{free_index, number, block, deadline};
}

HeldBlock InFlight::redeem(Holder& holder, const Ticket& ticket, Redeem how) {
  Arena& arena = holder.arena();
  if (ticket.entry >= layout::kInFlightEntries) {
    throw InvalidHandle("arena '" + arena.name() + "': in-flight entry " + std::to_string(ticket.entry) +
                        " is out of range");
  }
  if (!HolderInternals::usable_here(holder)) throw InvalidArgument("a holder cannot be used in a child process after fork()");
  ArenaLock lock(arena);
  InFlightTable table(arena.base());
  InFlightEntry& entry = table.entries[ticket.entry];
  const std::uint64_t now = boot_ns();
  const bool same = entry.offset != 0 && entry.ticket == ticket.number && entry.offset == ticket.block.offset &&
                    entry.generation == ticket.block.generation;
  const bool past = same && due(entry, now);
  if (past) ArenaInternals::end_in_flight_locked(arena, ticket.entry);
  if (!same || past || ArenaInternals::blocks(arena).resolve(ticket.block) == nullptr) {
    const bool ran_out = ticket.expires_boot_ns <= now;
    throw TicketExpired("arena '" + arena.name() + "': the in-flight reference of this pickle (block " +
                        to_string(ticket.block) + ") has ended: " +
                        (ran_out ? "its lifetime ran out " + std::to_string((now - ticket.expires_boot_ns) / 1'000'000u) +
                                    " ms ago"
                              : std::string("it was released early (by its sender, or the block was freed)")));
  }
  HolderInternals::reserve_entry_locked(holder);
  HeldBlock held = HolderInternals::record_locked(holder, ticket.block.offset);
  const bool is_end = ArenaInternals::blocks(arena).header_at(ticket.block.offset)->kind ==
                   static_cast<std::uint32_t>(layout::BlockKind::channel_end);
  if (how == Redeem::channel_end_once && is_end) ArenaInternals::end_in_flight_locked(arena, ticket.entry);
  return held;
}

bool InFlight::cancel(Arena& arena, const Ticket& ticket) {
  if (ticket.entry >= layout::kInFlightEntries) return false;
  ArenaLock lock(arena);
  InFlightTable table(arena.base());
  const InFlightEntry& entry = table.entries[ticket.entry];
  if (entry.offset == 0 || entry.ticket != ticket.number || entry.offset != ticket.block.offset ||
      entry.generation != ticket.block.generation) {
    return false;
  }
  ArenaInternals::end_in_flight_locked(arena, ticket.entry);
  return true;
}

std::size_t InFlight::expire(Arena& arena) {
  InFlightTable table(arena.base());
  const std::uint64_t now = boot_ns();
  // Lock-free first: most rounds find nothing, and must not contend.
  // A racing writer makes this scan see a torn entry at worst: a spare
  // lock round trip, or an entry left for the next round.
  const auto seen_due = [&](std::uint64_t i) {
    InFlightEntry seen{};
    seen.offset = std::atomic_ref(table.entries[i].offset).load(std::memory_order_acquire);
    if (seen.offset == 0) return false;
    seen.expires_boot_ns = std::atomic_ref(table.entries[i].expires_boot_ns).load(std::memory_order_relaxed);
    seen.flags = std::atomic_ref(table.entries[i].flags).load(std::memory_order_relaxed);
    seen.creator_pid = std::atomic_ref(table.entries[i].creator_pid).load(std::memory_order_relaxed);
    seen.creator_start_time = std::atomic_ref(table.entries[i].creator_start_time).load(std::memory_order_relaxed);
    return seen.offset != 0 && due(seen, now);
  };
  bool any = false;
  for (std::uint64_t i = 0, end = table.extent(); i < end && !any; ++i) any = seen_due(i);
  if (!any) return 0;
  ArenaLock lock(arena);
  std::size_t ended = 0;
  for (std::uint64_t i = 0, end = table.extent(); i < end; ++i) {
    if (table.entries[i].offset != 0 && due(table.entries[i], now)) {
      ArenaInternals::end_in_flight_locked(arena, i);
      ++ended;
    }
  }
  return ended;
}

std::vector<InFlightInfo> InFlight::list(Arena& arena) {
  ArenaLock lock(arena);
  InFlightTable table(arena.base());
  const std::uint64_t now_boot = boot_ns();
  const std::uint64_t now_real = clock::realtime_ns();
  std::vector<InFlightInfo> out;
  for (std::uint64_t i = 0, end = table.extent(); i < end; ++i) {
    const InFlightEntry& e = table.entries[i];
    if (e.offset == 0) continue;
    InFlightInfo info;
    info.ticket = Ticket{i, e.ticket, Handle{e.offset, e.generation}, e.expires_boot_ns};
    info.created_ns = e.created_ns;
    info.expires_ns = now_real + e.expires_boot_ns - now_boot;  // in the past once due (not yet ended)
    info.creator_pid = e.creator_pid;
    out.push_back(info);
  }
  return out;
}

}  // namespace shoal
