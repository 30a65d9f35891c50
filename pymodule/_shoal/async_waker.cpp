// async_waker.cpp — see async_waker.hpp.
//
// Locking: the table's mutex guards the list of wakers; each waker's mutex
// guards its waiters, its arena pointer and its stop flag. An eventfd is
// written to only under its waker's mutex, so once disarm() returns the fd
// may be closed (and its number reused) safely. Never both mutexes at once
// except table, then waker.
#include "async_waker.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "process_exit.hpp"
#include "process_identity.hpp"
#include "shoal/channel.hpp"

namespace shoal_py {

namespace {

constexpr auto kSlice = std::chrono::milliseconds(10);  // wait_policy::kSleepSlice

void signal_fd(int fd) {
  const std::uint64_t one = 1;
  // Non-blocking eventfd: a full counter (never, in practice) is awake already.
  [[maybe_unused]] const ssize_t n = ::write(fd, &one, sizeof one);
}

}  // namespace

// One arena's waker: a thread that sleeps on the arena's activity word
// while anyone registered waits for it to move.
//
// Who keeps the arena mapped: `arena_` while anyone is registered (fired or
// not), and the thread's own copy while it sleeps unlocked. Only remove()
// empties the list, so it is remove() that lets go of `arena_`, in the
// caller's thread, after waking the sleeping thread and waiting for it to
// drop its copy: once the last waiter has disarmed, no waker holds the
// arena, and closing it right then unlinks its segment at once.
class ArenaWaker {
 public:
  explicit ArenaWaker(const shoal::Arena* key) : key_(key), thread_([this] { run(); }) {}

  const shoal::Arena* key() const { return key_; }

  WakeRegistration::Armed add(const std::shared_ptr<shoal::Arena>& arena, std::uint32_t token, int fd,
                              std::vector<shoal::Channel::Probe> probes) {
    std::lock_guard lock(mutex_);
    if (stopping_) return WakeRegistration::Armed::exiting;
    Waiter waiter{fd, token, false, std::move(probes)};
    const std::uint32_t now = shoal::Channel::activity(*arena);
    if (now != token) {
      if (waiter.may_be_ready()) return WakeRegistration::Armed::moved;
      waiter.token = now;  // nothing for it since: wait from here
    }
    if (!arena_) arena_ = arena;  // keeps the mapping while anyone waits
    waiters_.push_back(std::move(waiter));
    wake_.notify_all();
    return WakeRegistration::Armed::waiting;
  }

  void remove(int fd) {
    std::shared_ptr<shoal::Arena> last;
    {
      std::unique_lock lock(mutex_);
      std::erase_if(waiters_, [fd](const Waiter& w) { return w.fd == fd; });
      if (!waiters_.empty() || !arena_) return;
      last = std::move(arena_);
      if (sleeping_) {
        // Nobody waits now: stop the thread's sleep rather than let it keep
        // the arena for the rest of its slice (microseconds, not 10 ms; the
        // whole slice only if the wake comes just before its futex wait).
        // Waits for that sleep to end, not for the thread to be awake: a
        // waiter that registers meanwhile (another thread's) sends it
        // straight back to sleep, before this thread can see it awake.
        const std::uint64_t sleep = sleeps_;
        shoal::Channel::wake_activity_waiters(*last);
        released_.wait(lock, [&] { return !sleeping_ || sleeps_ != sleep; });
      }
    }
    last.reset();  // outside the lock: it may be the arena's last reference
  }

  // Stops the thread (within one slice), waking every waiter; then joins it.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      for (const Waiter& w : waiters_) {
        if (!w.fired) signal_fd(w.fd);
      }
      waiters_.clear();
      wake_.notify_all();
      if (sleeping_ && arena_) shoal::Channel::wake_activity_waiters(*arena_);
    }
    if (thread_.joinable()) thread_.join();
    std::shared_ptr<shoal::Arena> last;
    std::lock_guard lock(mutex_);
    last = std::move(arena_);  // released after the lock (declared before it)
  }

 private:
  struct Waiter {
    int fd;
    std::uint32_t token;
    bool fired;  // written to; stays listed until its owner disarms
    std::vector<shoal::Channel::Probe> probes;  // the awaited channels

    bool may_be_ready() const {
      return std::any_of(probes.begin(), probes.end(), [](const auto& p) { return p.may_be_ready(); });
    }
  };

  bool anyone_waiting() const {
    return std::any_of(waiters_.begin(), waiters_.end(), [](const Waiter& w) { return !w.fired; });
  }

  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stopping_ || anyone_waiting(); });
      if (stopping_) return;
      const std::uint32_t now = shoal::Channel::activity(*arena_);
      // Whoever read another value: something happened since its try.
      // Woken only if it was to one of its channels (read after the word:
      // a later change moves the word again); else it waits from `now`.
      for (Waiter& w : waiters_) {
        if (w.fired || w.token == now) continue;
        if (w.may_be_ready()) {
          signal_fd(w.fd);
          w.fired = true;
        } else {
          w.token = now;
        }
      }
      if (!anyone_waiting()) continue;
      std::shared_ptr<shoal::Arena> arena = arena_;  // mapped while we sleep unlocked
      sleeping_ = true;
      ++sleeps_;
      lock.unlock();
      shoal::Channel::wait_for_activity(*arena, now, kSlice);
      arena.reset();  // never the last reference: arena_ or remove() holds one
      lock.lock();
      sleeping_ = false;
      released_.notify_all();
    }
  }

  const shoal::Arena* const key_;
  std::mutex mutex_;
  std::condition_variable wake_;      // for the thread: someone to wait for, or stop
  std::condition_variable released_;  // for remove(): the thread dropped its copy
  std::vector<Waiter> waiters_;
  std::shared_ptr<shoal::Arena> arena_;  // set while waiters_ is not empty
  bool sleeping_ = false;                // the thread sleeps with a copy of arena_
  std::uint64_t sleeps_ = 0;             // counts those sleeps, for remove()
  bool stopping_ = false;
  std::thread thread_;  // last: started once the rest is built
};

namespace {

// The process's wakers, one per arena mapping. Wakers are never freed
// while the process lives (a registration points at its waker); a fork()
// child abandons its parent's table whole (its threads did not follow,
// its mutexes may be held by them) and starts its own.
struct WakerTable {
  pid_t pid = shoal::cached_pid();
  std::mutex mutex;
  std::vector<ArenaWaker*> wakers;
  bool stopped = false;
};

std::atomic<WakerTable*> g_table{nullptr};

WakerTable& table() {
  WakerTable* t = g_table.load(std::memory_order_acquire);
  while (t == nullptr || t->pid != shoal::cached_pid()) {
    auto* fresh = new WakerTable();
    if (g_table.compare_exchange_strong(t, fresh, std::memory_order_acq_rel)) {
      t = fresh;  // the parent's table, if any, is abandoned on purpose
    } else {
      delete fresh;  // another thread of this process made one first: use it
    }
  }
  return *t;
}

// The waker of `arena`, made on first use; null once the wakers are stopped.
ArenaWaker* waker_for(const shoal::Arena* arena) {
  WakerTable& t = table();
  std::lock_guard lock(t.mutex);
  if (t.stopped) return nullptr;
  for (ArenaWaker* w : t.wakers) {
    if (w->key() == arena) return w;
  }
  t.wakers.push_back(new ArenaWaker(arena));
  return t.wakers.back();
}

}  // namespace

WakeRegistration::Armed WakeRegistration::arm(const std::shared_ptr<shoal::Arena>& arena, std::uint32_t token,
                                              int fd, std::vector<shoal::Channel::Probe> probes) {
  disarm();
  if (process_exiting()) return Armed::exiting;
  ArenaWaker* waker = waker_for(arena.get());
  if (waker == nullptr) return Armed::exiting;
  const Armed armed = waker->add(arena, token, fd, std::move(probes));
  if (armed == Armed::waiting) {
    waker_ = waker;
    fd_ = fd;
    pid_ = shoal::cached_pid();
  }
  return armed;
}

void WakeRegistration::disarm() noexcept {
  if (waker_ == nullptr) return;
  // In a fork() child the waker is the parent's, abandoned: forget it.
  if (pid_ == shoal::cached_pid()) waker_->remove(fd_);
  waker_ = nullptr;
  fd_ = -1;
}

void stop_all_wakers() {
  WakerTable& t = table();
  std::vector<ArenaWaker*> wakers;
  {
    std::lock_guard lock(t.mutex);
    t.stopped = true;
    wakers = t.wakers;
  }
  for (ArenaWaker* w : wakers) w->stop();
}

}  // namespace shoal_py
