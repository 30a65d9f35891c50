// broker.cpp — the reaper thread. See shoal/broker.hpp.
#include "shoal/broker.hpp"

#include "shoal/in_flight.hpp"

#include "shoal/process_identity.hpp"
#include "shoal/errors.hpp"

namespace shoal {

Broker::Broker(std::shared_ptr<Arena> arena, std::chrono::milliseconds interval)
    : arena_(std::move(arena)),
      interval_(interval),
      fork_generation_(fork_generation()),
      thread_(std::make_unique<std::thread>([this] { run(); })) {}

Broker::~Broker() { stop(); }

void Broker::stop() {
  if (!thread_) return;
  if (fork_generation() != fork_generation_) {
    // A forked child has a copy of this object but not the thread: there is
    // nothing to join, and std::thread must not see a joinable thread die.
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
}

std::uint64_t Broker::reaped() const {
  std::lock_guard guard(mutex_);
  return reaped_;
}

std::string Broker::last_error() const {
  std::lock_guard guard(mutex_);
  return last_error_;
}

void Broker::run() {
  std::unique_lock guard(mutex_);
  while (!wake_.wait_for(guard, interval_, [this] { return stopping_; })) {
    guard.unlock();
    std::size_t reaped = 0;
    std::string error;
    try {
      reaped = arena_->reap_dead_holders();
      InFlight::expire(*arena_);  // pickles' references past their lifetime
      arena_->return_free_memory();  // free pages back to tmpfs, if enough lie idle
    } catch (const Error& e) {
      error = e.what();  // e.g. a lock timeout: try again next round
    }
    guard.lock();
    reaped_ += reaped;
    if (!error.empty()) last_error_ = std::move(error);
  }
}

}  // namespace shoal
