// broker.cpp — the reaper thread and its lease. See shoal/broker.hpp.
#include "shoal/broker.hpp"

#include <algorithm>
#include <atomic>

#include "shoal/errors.hpp"
#include "shoal/in_flight.hpp"
#include "process_identity.hpp"

namespace shoal {

namespace {

std::uint64_t next_token() {
  static constinit std::atomic<std::uint64_t> counter{0};
  return counter.fetch_add(1, std::memory_order_relaxed) + 1;
}

}  // namespace

Broker::Broker(std::shared_ptr<Arena> arena, std::chrono::milliseconds interval, Role role)
    : arena_(std::move(arena)),
      interval_(interval),
      role_(role),
      token_(next_token()),
      fork_generation_(fork_generation()),
      thread_(std::make_unique<std::thread>([this] { run(); })) {}

Broker::~Broker() { stop(); }

void Broker::stop() {
  if (!thread_) return;
  if (fork_generation() != fork_generation_) {
    // A forked child has a copy of this object but not the thread: there is
    // nothing to join, and std::thread must not see a joinable thread die.
    // The lease names the parent, which still serves.
    (void)thread_.release();
    return;
  }
  {
    std::lock_guard guard(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_->join();
  thread_.reset();
  try {
    arena_->release_reaper_lease(token_);  // a standby elsewhere takes over at its next look
  } catch (const Error&) {
    // The lock stayed held: the lease then runs out at its deadline.
  }
}

std::uint64_t Broker::reaped() const {
  std::lock_guard guard(mutex_);
  return reaped_;
}

std::string Broker::last_error() const {
  std::lock_guard guard(mutex_);
  return last_error_;
}

bool Broker::holds_lease() const {
  std::lock_guard guard(mutex_);
  return holds_lease_;
}

std::chrono::milliseconds Broker::lease_ttl() const {
  return std::max(std::chrono::milliseconds(3000), 10 * std::max(interval_, kStandbyInterval));
}

bool Broker::round() {
  std::size_t reaped = 0;
  std::string error;
  bool held = false;
  try {
    held = arena_->claim_reaper_lease(token_, lease_ttl());
    if (held) {
      reaped = arena_->reap_dead_holders();
      InFlight::expire(*arena_);     // pickles' references past their lifetime
      arena_->return_free_memory();  // free pages back to tmpfs, if enough lie idle
    }
  } catch (const Error& e) {
    error = e.what();  // e.g. a lock timeout: try again next round
  }
  std::lock_guard guard(mutex_);
  reaped_ += reaped;
  holds_lease_ = held;
  if (!error.empty()) last_error_ = std::move(error);
  return held;
}

void Broker::run() {
  std::unique_lock guard(mutex_);
  std::chrono::milliseconds wait = role_ == Role::serve ? std::chrono::milliseconds(0) : kStandbyInterval;
  while (!wake_.wait_for(guard, wait, [this] { return stopping_; })) {
    guard.unlock();
    const bool held = round();
    guard.lock();
    // The lease holder (or a serving broker, which wants it back soon)
    // works every interval; a standby only looks now and then.
    wait = held || role_ == Role::serve ? interval_ : kStandbyInterval;
  }
}

}  // namespace shoal
