// futex_ring.cpp — see futex_ring.hpp.
#include "futex_ring.hpp"

#include <linux/futex.h>
#include <linux/time_types.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string_view>
#include <system_error>

namespace shoal_py {

namespace {

// Not in Debian 12's kernel headers (6.1): the opcode from Linux 6.7 on.
constexpr std::uint8_t kOpFutexWait = 51;
constexpr std::uint32_t kFutex2SizeU32 = 0x02;  // FUTEX2_SIZE_U32, shared (no FUTEX2_PRIVATE)
constexpr unsigned kEntries = 8;                 // a wait is two requests, a cancel one
constexpr unsigned kCompletions = 64;            // room for late completions of cancelled waits

[[noreturn]] void fail(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

template <class T>
T* at(void* base, std::uint32_t offset) {
  return reinterpret_cast<T*>(static_cast<char*>(base) + offset);
}

}  // namespace

FutexRing::FutexRing() {
  io_uring_params params{};
  params.flags = IORING_SETUP_CQSIZE;
  params.cq_entries = kCompletions;
  fd_ = static_cast<int>(::syscall(__NR_io_uring_setup, kEntries, &params));
  if (fd_ < 0) fail("io_uring_setup");
  try {
    if ((params.features & IORING_FEAT_SINGLE_MMAP) == 0) {
      errno = ENOSYS;
      fail("io_uring without IORING_FEAT_SINGLE_MMAP");
    }
    rings_bytes_ = std::max<std::size_t>(params.sq_off.array + params.sq_entries * sizeof(unsigned),
                                         params.cq_off.cqes + params.cq_entries * sizeof(io_uring_cqe));
    rings_ = ::mmap(nullptr, rings_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_,
                    IORING_OFF_SQ_RING);
    if (rings_ == MAP_FAILED) {
      rings_ = nullptr;
      fail("mmap of an io_uring");
    }
    sqes_bytes_ = params.sq_entries * sizeof(io_uring_sqe);
    void* sqes = ::mmap(nullptr, sqes_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, IORING_OFF_SQES);
    if (sqes == MAP_FAILED) fail("mmap of an io_uring's entries");
    sqes_ = static_cast<io_uring_sqe*>(sqes);
  } catch (...) {
    release();
    throw;
  }
  pid_ = ::getpid();
  sq_flags_ = at<unsigned>(rings_, params.sq_off.flags);
  sq_tail_ = at<unsigned>(rings_, params.sq_off.tail);
  sq_array_ = at<unsigned>(rings_, params.sq_off.array);
  sq_mask_ = *at<unsigned>(rings_, params.sq_off.ring_mask);
  cq_head_ = at<unsigned>(rings_, params.cq_off.head);
  cq_tail_ = at<unsigned>(rings_, params.cq_off.tail);
  cq_mask_ = *at<unsigned>(rings_, params.cq_off.ring_mask);
  cqes_ = at<io_uring_cqe>(rings_, params.cq_off.cqes);
}

FutexRing::~FutexRing() { release(); }

void FutexRing::release() noexcept {
  if (sqes_ != nullptr) ::munmap(sqes_, sqes_bytes_);
  if (rings_ != nullptr) ::munmap(rings_, rings_bytes_);
  if (fd_ >= 0) ::close(fd_);  // cancels whatever is still queued
  sqes_ = nullptr;
  rings_ = nullptr;
  fd_ = -1;
}

io_uring_sqe* FutexRing::next_sqe() {
  // Without SQPOLL the kernel takes every entry during io_uring_enter, so
  // the ring is empty between our calls: no head to check.
  const unsigned tail = *sq_tail_;
  io_uring_sqe* sqe = &sqes_[tail & sq_mask_];
  std::memset(sqe, 0, sizeof *sqe);
  sq_array_[tail & sq_mask_] = tail & sq_mask_;
  std::atomic_ref(*sq_tail_).store(tail + 1, std::memory_order_release);
  return sqe;
}

bool FutexRing::mine() const { return pid_ == ::getpid(); }

void FutexRing::submit(unsigned count) {
  for (;;) {
    const long taken = ::syscall(__NR_io_uring_enter, fd_, count, 0, 0, nullptr, 0);
    if (taken == static_cast<long>(count)) return;
    if (taken < 0 && errno == EINTR) continue;
    // Entries left in the ring would go with the next submission, linked
    // wrongly: the ring is not used again.
    broken_ = true;
    if (taken >= 0) errno = EAGAIN;
    fail("io_uring_enter");
  }
}

void FutexRing::wait(std::uint32_t* word, std::uint32_t seen, std::chrono::nanoseconds slice, std::uint64_t tag) {
  if (broken_ || !mine()) {
    errno = broken_ ? EIO : EBADF;
    fail(broken_ ? "an io_uring that failed a submission" : "an io_uring of the parent process");
  }
  io_uring_sqe* futex = next_sqe();
  futex->opcode = kOpFutexWait;
  futex->flags = IOSQE_IO_LINK;  // the timeout below belongs to it
  futex->fd = static_cast<std::int32_t>(kFutex2SizeU32);
  futex->addr = reinterpret_cast<std::uint64_t>(word);
  futex->addr2 = seen;
  futex->addr3 = FUTEX_BITSET_MATCH_ANY;
  futex->user_data = tag * 2;
  // Read while the request is submitted (prepared then): a local is enough.
  __kernel_timespec timeout{};
  timeout.tv_sec = static_cast<long long>(slice.count() / 1'000'000'000);
  timeout.tv_nsec = static_cast<long long>(slice.count() % 1'000'000'000);
  io_uring_sqe* limit = next_sqe();
  limit->opcode = IORING_OP_LINK_TIMEOUT;
  limit->addr = reinterpret_cast<std::uint64_t>(&timeout);
  limit->len = 1;
  limit->user_data = tag * 2 + 1;
  submit(2);
}

void FutexRing::cancel(std::uint64_t tag) noexcept {
  if (broken_ || !mine()) return;
  io_uring_sqe* sqe = next_sqe();
  sqe->opcode = IORING_OP_ASYNC_CANCEL;
  sqe->addr = tag * 2;  // the futex wait; its linked timeout goes with it
  sqe->user_data = 0;   // no wait's tag: its completion is dropped
  try {
    submit(1);
  } catch (const std::system_error&) {
    // Not cancelled: it ends within its slice anyway, and its completion is dropped.
  }
}

bool FutexRing::take(std::uint64_t tag) {
  if (!mine()) return false;  // the completions are the parent's
  // Completions the kernel kept aside (the ring overflowed) come back only
  // through GETEVENTS; meanwhile the fd stays readable.
  if ((std::atomic_ref(*sq_flags_).load(std::memory_order_acquire) & IORING_SQ_CQ_OVERFLOW) != 0) {
    ::syscall(__NR_io_uring_enter, fd_, 0, 0, IORING_ENTER_GETEVENTS, nullptr, 0);
  }
  bool ended = false;
  unsigned head = *cq_head_;
  const unsigned tail = std::atomic_ref(*cq_tail_).load(std::memory_order_acquire);
  for (; head != tail; ++head) {
    const io_uring_cqe& cqe = cqes_[head & cq_mask_];
    if (cqe.user_data == tag * 2) {
      ended = true;
      last_result_ = cqe.res;
    }
  }
  std::atomic_ref(*cq_head_).store(head, std::memory_order_release);
  return ended;
}

bool FutexRing::available() {
  static const bool yes = [] {
    const char* choice = std::getenv("SHOAL_ASYNC_WAKER");
    if (choice != nullptr && std::string_view(choice) == "thread") return false;
    try {
      FutexRing ring;
      // A wait on a word that already differs ends at once with EAGAIN; a
      // kernel without futex requests answers EINVAL.
      std::uint32_t word = 1;
      ring.wait(&word, 0, std::chrono::seconds(1), 1);
      for (int i = 0; i < 1000 && !ring.take(1); ++i) {
        ::syscall(__NR_io_uring_enter, ring.fd(), 0, 1, IORING_ENTER_GETEVENTS, nullptr, 0);
      }
      return ring.last_result_ == -EAGAIN;
    } catch (const std::system_error&) {
      return false;
    }
  }();
  return yes;
}

}  // namespace shoal_py
