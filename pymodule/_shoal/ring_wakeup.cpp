// ring_wakeup.cpp — see ring_wakeup.hpp.
#include "ring_wakeup.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>

#include "process_exit.hpp"
#include "process_identity.hpp"

namespace shoal_py {

namespace {

constexpr auto kSlice = std::chrono::milliseconds(10);  // wait_policy::kSleepSlice

// The armed RingWakeups of the process, for stop_ring_wakeups(). A fork()
// child abandons its parent's list (its mutex may be held by a thread that
// did not follow), as async_waker's table.
struct Armed {
  pid_t pid = shoal::cached_pid();
  std::mutex mutex;
  std::vector<RingWakeup*> wakeups;
};

std::atomic<Armed*> g_armed{nullptr};

Armed& armed_list() {
  Armed* list = g_armed.load(std::memory_order_acquire);
  while (list == nullptr || list->pid != shoal::cached_pid()) {
    auto* fresh = new Armed();
    if (g_armed.compare_exchange_strong(list, fresh, std::memory_order_acq_rel)) {
      list = fresh;
    } else {
      delete fresh;
    }
  }
  return *list;
}

}  // namespace

bool RingWakeup::any_ready() const {
  return std::any_of(probes_.begin(), probes_.end(), [](const auto& p) { return p.may_be_ready(); });
}

void RingWakeup::queue(std::uint32_t seen) { ring_.wait(word_, seen, kSlice, ++tag_); }

WakeRegistration::Armed RingWakeup::arm(const std::shared_ptr<shoal::Arena>& arena, std::uint32_t token,
                                        std::vector<shoal::Channel::Probe> probes) {
  disarm();
  if (process_exiting()) return WakeRegistration::Armed::exiting;
  // Counted first, then the word read: a change after the read wakes us.
  word_ = shoal::Channel::watch_activity(*arena);
  arena_ = arena;
  probes_ = std::move(probes);
  pid_ = shoal::cached_pid();
  const std::uint32_t now = shoal::Channel::activity(*arena);
  if (now != token && any_ready()) {
    disarm();
    return WakeRegistration::Armed::moved;
  }
  {
    Armed& list = armed_list();
    std::lock_guard lock(list.mutex);
    list.wakeups.push_back(this);
  }
  // Listed first, then the switch read: stop_ring_wakeups either finds us
  // or ran before our read.
  if (process_exiting()) {
    disarm();
    return WakeRegistration::Armed::exiting;
  }
  try {
    queue(now);  // `now`, not `token`: what the probes were read after
  } catch (...) {
    disarm();
    throw;
  }
  return WakeRegistration::Armed::waiting;
}

void RingWakeup::disarm() noexcept {
  if (pid_ == 0) return;
  if (pid_ == shoal::cached_pid()) {  // a fork() child leaves its parent's count and list alone
    Armed& list = armed_list();
    {
      std::lock_guard lock(list.mutex);
      std::erase(list.wakeups, this);
    }
    shoal::Channel::unwatch_activity(*arena_);
    ring_.cancel(tag_);  // at most one wait pending per ring (a no-op if it ended)
  }
  ++tag_;  // the queued wait's completion, when it comes, is dropped
  probes_.clear();
  word_ = nullptr;
  arena_.reset();
  pid_ = 0;
}

bool RingWakeup::check() {
  // Armed here, or nothing to do: a fork() child must not read its
  // parent's completions (FutexRing::take refuses too).
  if (pid_ != shoal::cached_pid()) {
    if (pid_ == 0) ring_.take(tag_);  // disarmed: drop what is left
    return false;
  }
  if (!ring_.take(tag_)) return false;  // only old completions
  // The wait ended: woken, the word moved, or a slice passed.
  if (process_exiting()) return true;
  const std::uint32_t now = shoal::Channel::activity(*arena_);
  if (any_ready()) return true;
  try {
    queue(now);
  } catch (...) {
    return true;  // the coroutine tries again, and arming again says what is wrong
  }
  return false;
}

void stop_ring_wakeups() {
  Armed& list = armed_list();
  std::lock_guard lock(list.mutex);
  for (RingWakeup* w : list.wakeups) shoal::Channel::wake_activity_waiters(*w->arena_);
}

}  // namespace shoal_py
