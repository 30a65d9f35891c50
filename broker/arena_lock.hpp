// arena_lock.hpp — holding the arena lock (internal).
//
// The lock is a robust, process-shared pthread mutex in the arena header.
// Robust means the kernel notices when its owner dies (process killed, or
// thread exited) and hands it to the next locker with EOWNERDEAD: that
// locker repairs what the dead owner may have left half-done
// (Arena::repair_locked) before marking the mutex consistent. A live owner
// that keeps the lock too long makes lockers give up with LockTimeout, so
// no wait is unbounded.
//
// While held, ArenaHeader::mutation_seq is odd, so lock-free readers can
// tell a snapshot that straddled a change.
#pragma once

#include <pthread.h>

namespace shoal {

class Arena;

class ArenaLock {
 public:
  explicit ArenaLock(Arena& arena);  // throws LockTimeout, CorruptArena
  ~ArenaLock();
  ArenaLock(const ArenaLock&) = delete;
  ArenaLock& operator=(const ArenaLock&) = delete;

  // For the creator: sets up the mutex in fresh shared memory.
  static void initialize(pthread_mutex_t* mutex);

 private:
  Arena& arena_;
};

}  // namespace shoal
