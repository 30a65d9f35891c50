// arena_lock.cpp — see arena_lock.hpp.
#include "arena_lock.hpp"

#include <errno.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <string>

#include "shoal/process_identity.hpp"
#include "spin.hpp"
#include "shoal/arena.hpp"
#include "shoal/errors.hpp"

namespace shoal {
namespace {

// Spin this long before sleeping (never past the caller's timeout), but
// only when another CPU could be running the owner: on one CPU spinning
// only delays it. A futex wake between cores on a virtual machine costs
// tens of microseconds, more than a short critical section, even one
// running on cold caches.
constexpr auto kSpinFor = std::chrono::microseconds(50);

// Robust futexes can lose a wake-up when a process is killed at the wrong
// instant: the lock word reads 0 (free) while waiters sleep on. Reproduced
// on Debian 12 (glibc 2.36, Linux 6.x) with plain pthread code and no shoal
// at all. So nobody sleeps on the lock for long: each wait is a short slice,
// after which the waiter simply tries again. A lost wake-up then costs one
// slice, not the whole timeout.
constexpr auto kWaitSlice = std::chrono::milliseconds(10);

// A deadline one slice from now. pthread_mutex_timedlock takes
// CLOCK_REALTIME; a clock jump can only stretch or shrink one short slice,
// while the overall timeout is measured on the steady clock. (We do not use
// pthread_mutex_clocklock: ThreadSanitizer does not see locks taken by it.)
timespec slice_deadline(std::chrono::steady_clock::duration slice) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(slice).count() + ts.tv_nsec;
  ts.tv_sec += static_cast<time_t>(ns / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  return ts;
}

int acquire(pthread_mutex_t* mutex, std::chrono::milliseconds timeout) {
  if (spin::worthwhile()) {
    const auto spin_until = std::chrono::steady_clock::now() +
                            std::min<std::chrono::steady_clock::duration>(kSpinFor, timeout);
    for (int i = 1;; ++i) {
      const int rc = pthread_mutex_trylock(mutex);
      if (rc != EBUSY) return rc;
      spin::relax();
      if (i % spin::kPollsPerYield == 0) spin::yield_cpu();  // the owner may be queued on this CPU
      if (i % 16 == 0 && std::chrono::steady_clock::now() >= spin_until) break;
    }
  }
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    const auto slice = std::min<std::chrono::steady_clock::duration>(kWaitSlice, give_up - now);
    const timespec deadline = slice_deadline(slice);
    const int rc = pthread_mutex_timedlock(mutex, &deadline);
    if (rc != ETIMEDOUT || std::chrono::steady_clock::now() >= give_up) return rc;
  }
}

}  // namespace

void ArenaLock::initialize(pthread_mutex_t* mutex) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  const int rc = pthread_mutex_init(mutex, &attr);
  pthread_mutexattr_destroy(&attr);
  if (rc != 0) throw SystemError("pthread_mutex_init failed: " + std::to_string(rc));
}

ArenaLock::ArenaLock(Arena& arena) : arena_(arena) {
  layout::ArenaHeader* header = arena.header();
  // The uncontended path takes no clock readings: one trylock and done.
  int rc = pthread_mutex_trylock(&header->lock);
  if (rc == EBUSY) {
    const auto started = std::chrono::steady_clock::now();
    rc = acquire(&header->lock, arena.options_.lock_timeout);
    const std::int64_t waited = (std::chrono::steady_clock::now() - started).count();
    std::int64_t seen = arena.max_lock_wait_ns_.load(std::memory_order_relaxed);
    while (waited > seen &&
           !arena.max_lock_wait_ns_.compare_exchange_weak(seen, waited, std::memory_order_relaxed)) {
    }
  }

  if (rc == ETIMEDOUT) {
    throw LockTimeout("arena '" + arena.name() + "': its lock has been held for more than " +
                      std::to_string(arena.options_.lock_timeout.count()) + " ms by live process " +
                      std::to_string(std::atomic_ref(header->lock_owner_pid).load(std::memory_order_relaxed)) +
                      " (stopped or stuck?)");
  }
  if (rc == ENOTRECOVERABLE) {
    throw CorruptArena("arena '" + arena.name() +
                       "': its lock is unrecoverable (an earlier repair failed); the arena must be destroyed");
  }
  if (rc != 0 && rc != EOWNERDEAD) {
    // A robust, process-shared mutex answers only the codes above; any
    // other (EINVAL for a mutex word that is no mutex, EDEADLK for an
    // owner field naming us) means its bytes were overwritten.
    throw CorruptArena("arena '" + arena.name() + "': its lock is damaged (pthread_mutex_lock: " +
                       std::strerror(rc) + "); the arena must be destroyed");
  }

  std::atomic_ref<std::uint64_t> seq(header->mutation_seq);
  const std::uint64_t before = seq.load(std::memory_order_relaxed);
  // Odd from here on; an acquire read-modify-write keeps every write of the
  // locked section after it, for lock-free readers on weakly ordered CPUs.
  if (before % 2 == 0) seq.fetch_add(1, std::memory_order_acquire);
  std::atomic_ref(header->lock_owner_pid).store(cached_pid(), std::memory_order_relaxed);  // read lock-free

  if (rc == EOWNERDEAD) {
    try {
      arena.repair_locked();
    } catch (...) {
      // Leave the mutex inconsistent: unlocking it now makes it
      // unrecoverable, so nobody trusts what we could not repair.
      pthread_mutex_unlock(&header->lock);
      throw;
    }
    pthread_mutex_consistent(&header->lock);
  }
}

ArenaLock::~ArenaLock() {
  layout::ArenaHeader* header = arena_.header();
  std::atomic_ref(header->lock_owner_pid).store(0, std::memory_order_relaxed);
  std::atomic_ref<std::uint64_t>(header->mutation_seq).fetch_add(1, std::memory_order_release);
  pthread_mutex_unlock(&header->lock);
}

}  // namespace shoal
