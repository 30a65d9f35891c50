// arena_lifecycle.cpp — who reaps for an arena, and how it ends.
//
// Two records in the header (layout.hpp), both under the arena lock:
//
// * The reaper's lease. Every process with a Broker (the creator's, and a
//   standby in every attached Python process) asks claim_reaper_lease()
//   each round; only the holder reaps. The holder renews its deadline
//   every round, so a standby takes over as soon as the holder has died
//   (pid and start time no longer run) or stopped renewing.
//
// * The lifecycle. retire() never gives the name up while a live holder
//   uses the arena: it marks it closing instead, attach_holder refuses new
//   holders, and whoever releases the last slot (a holder detaching, a
//   reaper reaping the last dead one) unlinks it. So one name never names
//   two arenas at once, and holders of an arena are never invisible.
//
// Unlinking checks that the file under our name is this arena (same
// arena_id), so a late unlink can never remove a successor.
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "arena_lock.hpp"
#include "clock.hpp"
#include "segment_file.hpp"
#include "shoal/arena.hpp"
#include "shoal/errors.hpp"
#include "process_identity.hpp"

namespace shoal {

using layout::ArenaLifecycle;
using layout::ReaperLease;

namespace {

constexpr auto kActive = static_cast<std::uint32_t>(layout::SlotState::active);

std::uint64_t boot_ns() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

bool same_holder(const ReaperLease& lease, const ProcessIdentity& who, std::uint64_t token) {
  return lease.pid == who.pid && lease.start_time == who.start_time && lease.token == token;
}

void take(ReaperLease& lease, const ProcessIdentity& me, std::uint64_t token, std::chrono::milliseconds ttl) {
  lease.pid = me.pid;
  lease.start_time = me.start_time;
  lease.token = token;
  lease.deadline_boot_ns = boot_ns() + static_cast<std::uint64_t>(ttl.count()) * 1'000'000u;
  lease.renewed_ns = clock::realtime_ns();
}

// True when a live process other than `me` is the lease holder (the lease is
// ours, or free, or expired, or its holder dead: false).
bool held_by_live_other(const ReaperLease& lease, const ProcessIdentity& me) {
  if (lease.pid == 0) return false;
  if (lease.pid == me.pid && lease.start_time == me.start_time) return true;  // another reaper of ours
  return is_alive(ProcessIdentity{lease.pid, lease.start_time});
}

}  // namespace

bool Arena::claim_reaper_lease(std::uint64_t token, std::chrono::milliseconds ttl) {
  static thread_local ProcessIdentity me{};
  if (me.pid != cached_pid()) me = current_process();
  ReaperLease seen{};
  {
    ArenaLock lock(*this);
    ReaperLease& lease = header()->reaper;
    const bool mine = same_holder(lease, me, token);
    if (mine || lease.pid == 0 || boot_ns() >= lease.deadline_boot_ns) {
      take(lease, me, token, ttl);
      return true;
    }
    if (lease.pid == me.pid && lease.start_time == me.start_time) return false;  // a sibling reaper serves
    seen = lease;
  }
  // Liveness reads /proc: not under the lock.
  if (is_alive(ProcessIdentity{seen.pid, seen.start_time})) return false;
  ArenaLock lock(*this);
  ReaperLease& lease = header()->reaper;
  if (!same_holder(lease, ProcessIdentity{seen.pid, seen.start_time}, seen.token)) return false;  // someone moved first
  take(lease, me, token, ttl);
  return true;
}

void Arena::release_reaper_lease(std::uint64_t token) {
  const ProcessIdentity me = current_process();
  ArenaLock lock(*this);
  ReaperLease& lease = header()->reaper;
  if (same_holder(lease, me, token)) lease = ReaperLease{};
}

layout::ArenaLifecycle Arena::lifecycle() const {
  return static_cast<ArenaLifecycle>(std::atomic_ref(header()->lifecycle).load(std::memory_order_relaxed));
}

std::uint64_t Arena::active_holders_locked() const {
  std::uint64_t active = 0;
  for (const auto& slot : header()->holders) active += slot.state == kActive ? 1 : 0;
  return active;
}

void Arena::unlink_own_segment() const {
  try {
    // Opened like any attach: without blocking, our own regular file only.
    const auto there = segment::map_existing(name_, /*writable=*/false, options_.other_user);
    const auto* other = reinterpret_cast<const layout::ArenaHeader*>(there->address());
    if (std::memcmp(other->arena_id, header()->arena_id, sizeof other->arena_id) != 0) return;  // a successor
  } catch (const Error&) {
    return;  // gone already, or not ours to judge
  }
  ::unlink(segment::path_of(name_).c_str());
}

void Arena::unlink_if_unheld_locked() {
  layout::ArenaHeader* h = header();
  if (h->lifecycle != static_cast<std::uint32_t>(ArenaLifecycle::closing) || active_holders_locked() != 0) return;
  std::atomic_ref(h->lifecycle).store(static_cast<std::uint32_t>(ArenaLifecycle::unlinked), std::memory_order_relaxed);
  unlink_own_segment();
}

Arena::RetireOutcome Arena::retire(bool force) {
  reap_dead_holders();
  ArenaLock lock(*this);
  layout::ArenaHeader* h = header();
  if (h->lifecycle == static_cast<std::uint32_t>(ArenaLifecycle::unlinked)) return RetireOutcome::unlinked;
  if (active_holders_locked() != 0 && !force && h->lifecycle == static_cast<std::uint32_t>(ArenaLifecycle::open)) {
    return RetireOutcome::refused;
  }
  if (h->lifecycle == static_cast<std::uint32_t>(ArenaLifecycle::open)) {
    h->closing_since_ns = clock::realtime_ns();
    std::atomic_ref(h->lifecycle).store(static_cast<std::uint32_t>(ArenaLifecycle::closing), std::memory_order_relaxed);
  }
  unlink_if_unheld_locked();
  return lifecycle() == ArenaLifecycle::unlinked ? RetireOutcome::unlinked : RetireOutcome::closing;
}

bool Arena::remove_if_abandoned() {
  const auto abandoned_locked = [this] {
    const layout::ArenaHeader* h = header();
    const ProcessIdentity me = current_process();
    if (held_by_live_other(h->reaper, me)) return false;
    if (is_alive(ProcessIdentity{h->creator_pid, h->creator_start_time})) return false;
    for (const auto& slot : h->holders) {
      if (slot.state == kActive && is_alive(ProcessIdentity{slot.pid, slot.start_time})) return false;
    }
    return true;
  };
  {
    ArenaLock lock(*this);
    if (!abandoned_locked()) return false;
  }
  reap_dead_holders();
  // Liveness is read from /proc under the lock here, unlike the reaper's
  // round: the answer must hold when the name goes, and this runs rarely
  // (`shoal reap --abandoned`).
  ArenaLock lock(*this);
  if (!abandoned_locked() || active_holders_locked() != 0) return false;
  layout::ArenaHeader* h = header();
  if (h->lifecycle == static_cast<std::uint32_t>(ArenaLifecycle::unlinked)) return false;
  std::atomic_ref(h->lifecycle).store(static_cast<std::uint32_t>(ArenaLifecycle::unlinked), std::memory_order_relaxed);
  unlink_own_segment();
  return true;
}

}  // namespace shoal
