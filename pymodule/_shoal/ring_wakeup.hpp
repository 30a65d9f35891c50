// ring_wakeup.hpp — an async wait on channels that its event loop watches
// itself: a futex wait on the arena's activity word, as an io_uring request
// (futex_ring.hpp), where the kernel serves those; async_waker's thread
// otherwise.
//
// The loop watches the ring's fd. Every send, receive, close and poison of
// the arena wakes the word's futex (the wait counts itself among the
// arena's selectors while armed), so the loop's epoll_wait wakes, and
// check() decides, reading the awaited channels without the lock
// (shoal::Channel::Probe), whether the coroutine should try again: a
// change in some other channel queues the next wait and wakes no one.
// Slices of 10 ms, as every wait of the core, bound what a wake-up lost to
// a dead sender costs.
//
// Not thread-safe: it belongs to one coroutine's event loop thread (the
// thread whose task the kernel completes the requests in). At process exit
// stop_ring_wakeups() wakes every armed one (check() is then true, and
// arming raises ProcessExiting). A fork() child forgets its parent's.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "async_waker.hpp"
#include "futex_ring.hpp"
#include "shoal/channel.hpp"

namespace shoal_py {

class RingWakeup {
 public:
  RingWakeup() = default;  // throws std::system_error (no ring)
  ~RingWakeup() { disarm(); }
  RingWakeup(const RingWakeup&) = delete;
  RingWakeup& operator=(const RingWakeup&) = delete;

  int fd() const { return ring_.fd(); }

  // As WakeRegistration::arm: `token` is the activity word read before the
  // failed try; `probes` the awaited channels (of `arena`). `moved`: one
  // may be ready already (nothing armed, try again now).
  WakeRegistration::Armed arm(const std::shared_ptr<shoal::Arena>& arena, std::uint32_t token,
                              std::vector<shoal::Channel::Probe> probes);
  void disarm() noexcept;
  // Reads the ring's completions (call it whenever fd() is readable): true
  // once the armed wait should end, a channel may be ready or the process
  // exits; otherwise the next wait is queued and the loop sleeps on.
  bool check();

 private:
  friend void stop_ring_wakeups();
  bool any_ready() const;
  void queue(std::uint32_t seen);

  FutexRing ring_;
  std::shared_ptr<shoal::Arena> arena_;  // kept mapped while armed
  std::uint32_t* word_ = nullptr;        // its activity word
  std::vector<shoal::Channel::Probe> probes_;
  std::uint64_t tag_ = 0;                // the queued wait's; older completions are dropped
  pid_t pid_ = 0;                        // of the process that armed it; 0: not armed
};

// Wakes every armed RingWakeup of the process (at exit, after
// begin_process_exit): their loops' check() returns true.
void stop_ring_wakeups();

}  // namespace shoal_py
