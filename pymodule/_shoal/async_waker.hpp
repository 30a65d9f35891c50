// async_waker.hpp — waking event loops when something happens in an arena.
//
// An event loop cannot sleep on a futex; it watches file descriptors. So a
// coroutine that waits on a channel (channel_async.hpp) registers an
// eventfd here, with the arena's activity word as it read it before its
// failed try (shoal::Channel::activity). One thread per arena of the
// process, the waker, sleeps on that word for every registered waiter at
// once (Channel::wait_for_activity: counted among the arena's selectors, so
// every send, receive, close and poison wakes it, in any interpreter or
// process) and, when the word moves, writes to the eventfd of each waiter
// whose word it was and one of whose channels may now be ready
// (shoal::Channel::Probe, read without the lock; a change elsewhere in the
// arena wakes no coroutine): its loop wakes, the coroutine tries again.
//
// This is the fallback: where the kernel serves io_uring futex waits, the
// loop waits on the word itself (ring_wakeup.hpp), one thread hop fewer.
//
// No polling: with nobody registered the waker sleeps on a condition
// variable; with someone registered it sleeps on the futex in slices of
// wait_policy's 10 ms, like every wait of the core (a lost wake-up costs one
// slice).
//
// Process-wide, on purpose: waiters of every interpreter of the process
// share an arena's waker (subinterpreters each have their own GIL, so the
// table is C++ behind a mutex and holds no Python object). A waker keeps the
// arena mapped (a shared_ptr) only while someone is registered.
//
// The end: stop_all_wakers() (at process exit, from shoal's exit hook)
// stops and joins every waker and wakes every registered waiter; from then
// on registering raises ProcessExiting. In a fork() child the table of the
// parent (its threads did not follow) is abandoned and a new one started.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "shoal/arena.hpp"
#include "shoal/channel.hpp"

namespace shoal_py {

class ArenaWaker;

// One eventfd's registration with its arena's waker: at most one at a time.
// Not thread-safe by itself: it belongs to the one coroutine that waits.
class WakeRegistration {
 public:
  WakeRegistration() = default;
  ~WakeRegistration() { disarm(); }
  WakeRegistration(const WakeRegistration&) = delete;
  WakeRegistration& operator=(const WakeRegistration&) = delete;

  enum class Armed { waiting, moved, exiting };
  // Registers `fd` to be written to once `arena`'s activity word differs
  // from `token` and one of `probes` (the awaited channels) may be ready.
  // `moved`: that is so already (nothing registered, try again now);
  // `exiting`: the process is exiting (nothing registered). Disarms any
  // earlier registration first. May throw std::system_error (no thread).
  Armed arm(const std::shared_ptr<shoal::Arena>& arena, std::uint32_t token, int fd,
            std::vector<shoal::Channel::Probe> probes);
  // Unregisters: once it returns, the waker no longer writes to the fd.
  void disarm() noexcept;

 private:
  ArenaWaker* waker_ = nullptr;  // wakers are never freed while the process lives
  int fd_ = -1;
  pid_t pid_ = 0;                // of the process that armed it (a fork child forgets)
};

// Stops every waker of the process and joins its thread; every registered
// eventfd is written to. Call without the GIL (it waits up to one slice).
void stop_all_wakers();

}  // namespace shoal_py
