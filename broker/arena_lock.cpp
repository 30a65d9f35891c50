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

#include "core_internals.hpp"
#include "shoal/arena.hpp"
#include "shoal/errors.hpp"
#include "process_identity.hpp"
#include "wait_policy.hpp"

namespace shoal {
namespace {

// A deadline one slice from now. pthread_mutex_timedlock takes
// CLOCK_REALTIME; a clock jump can only stretch or shrink one short slice,
// while the overall timeout is measured on the steady clock. (We do not use
// pthread_mutex_clocklock: ThreadSanitizer does not see locks taken by it.)
timespec slice_deadline(std::chrono::nanoseconds slice) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  const auto ns = slice.count() + ts.tv_nsec;
  ts.tv_sec += static_cast<time_t>(ns / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  return ts;
}

// Takes the lock the way every wait in the core waits (wait_policy.hpp):
// a short spin of trylocks, then timed locks of one slice each.
int acquire(pthread_mutex_t* mutex, std::chrono::milliseconds timeout) {
  if (spin::worthwhile()) {
    int rc = EBUSY;
    const auto try_lock = [&] { return (rc = pthread_mutex_trylock(mutex)) != EBUSY; };
    if (wait_policy::spin(try_lock, wait_policy::Clock::now() + timeout)) return rc;
  }
  const auto give_up = wait_policy::Clock::now() + timeout;
  for (;;) {
    const timespec deadline = slice_deadline(wait_policy::next_sleep(give_up));
    const int rc = pthread_mutex_timedlock(mutex, &deadline);
    if (rc != ETIMEDOUT || wait_policy::Clock::now() >= give_up) return rc;
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
  layout::ArenaHeader* header = ArenaInternals::header(arena);
  // The uncontended path takes no clock readings: one trylock and done.
  int rc = pthread_mutex_trylock(&header->lock);
  if (rc == EBUSY) {
    const auto started = std::chrono::steady_clock::now();
    rc = acquire(&header->lock, ArenaInternals::lock_timeout(arena));
    ArenaInternals::note_lock_wait(arena, std::chrono::steady_clock::now() - started);
  }

  if (rc == ETIMEDOUT) {
    throw LockTimeout("arena '" + arena.name() + "': its lock has been held for more than " +
                      std::to_string(ArenaInternals::lock_timeout(arena).count()) + " ms by live process " +
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
      ArenaInternals::repair_locked(arena);
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
  layout::ArenaHeader* header = ArenaInternals::header(arena_);
  std::atomic_ref(header->lock_owner_pid).store(0, std::memory_order_relaxed);
  std::atomic_ref<std::uint64_t>(header->mutation_seq).fetch_add(1, std::memory_order_release);
  pthread_mutex_unlock(&header->lock);
}

}  // namespace shoal
