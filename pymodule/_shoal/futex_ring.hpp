// futex_ring.hpp — a futex wait that an event loop can watch.
//
// An event loop sleeps in epoll_wait; a futex wait is a system call of its
// own, so today's async path needs a thread to make the hop (async_waker:
// futex -> thread -> eventfd -> loop). io_uring's FUTEX_WAIT (Linux 6.7)
// turns the wait into a request whose completion makes the ring's fd
// readable: the loop's own epoll_wait is woken by the sender's FUTEX_WAKE,
// one hop, as a wake-up of the loop from another thread is.
//
// Just enough io_uring for that, with the raw system calls (no liburing:
// Debian 12's predates futex requests): one futex wait at a time, each
// linked to a timeout, so a wake-up lost to a sender that died between its
// commit and its FUTEX_WAKE costs one slice, as every wait of the core.
// A wait given up is cancelled (cancel()), so at most one is pending;
// completions of an earlier one (a tag other than the current one) are
// read and dropped. Should the completion ring ever overflow, the kernel
// keeps the rest aside and take() has it flush them (GETEVENTS), or the fd
// would stay readable with its completions out of sight. A ring is its
// process's: a fork() child that inherited one neither reads nor queues
// (the mappings are shared, and the child would take its parent's
// completions). A submission the kernel took only partly leaves the ring
// broken: wait() throws from then on.
//
// available() probes once per process whether the kernel serves futex
// requests (unknown opcodes fail with EINVAL; io_uring may be disabled by
// sysctl or a seccomp filter: EPERM or ENOSYS): if not, the thread path
// stays. Not thread-safe: a ring belongs to its event loop's thread, whose
// task the kernel completes its requests in.
#pragma once

#include <linux/io_uring.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace shoal_py {

class FutexRing {
 public:
  // Whether this kernel serves io_uring futex waits here (probed once).
  static bool available();

  FutexRing();  // throws std::system_error
  ~FutexRing();
  FutexRing(const FutexRing&) = delete;
  FutexRing& operator=(const FutexRing&) = delete;

  int fd() const { return fd_; }

  // Queues a wait that ends once `*word` (a shared futex word) is woken or
  // differs from `seen` (at once, then), or after `slice`. Its completion
  // makes fd() readable. `tag`: told back by take(). Throws std::system_error.
  void wait(std::uint32_t* word, std::uint32_t seen, std::chrono::nanoseconds slice, std::uint64_t tag);
  // Reads every completion there is; true if the wait tagged `tag` ended.
  bool take(std::uint64_t tag);
  // Ends the wait tagged `tag` now, if it is still queued (its completion
  // comes, and is dropped by a take() for another tag). Never throws.
  void cancel(std::uint64_t tag) noexcept;

 private:
  void release() noexcept;  // unmaps and closes what the constructor got
  io_uring_sqe* next_sqe();
  void submit(unsigned count);
  bool mine() const;  // false in a fork() child

  int fd_ = -1;
  void* rings_ = nullptr;  // the SQ and CQ rings, one mapping
  std::size_t rings_bytes_ = 0;
  io_uring_sqe* sqes_ = nullptr;
  std::size_t sqes_bytes_ = 0;
  pid_t pid_ = 0;  // the process that made it
  bool broken_ = false;
  unsigned* sq_flags_ = nullptr;
  unsigned* sq_tail_ = nullptr;
  unsigned* sq_array_ = nullptr;
  unsigned sq_mask_ = 0;
  unsigned* cq_head_ = nullptr;
  unsigned* cq_tail_ = nullptr;
  unsigned cq_mask_ = 0;
  io_uring_cqe* cqes_ = nullptr;
  int last_result_ = 0;  // of the last tagged wait take() saw end (available()'s probe)
};

}  // namespace shoal_py
