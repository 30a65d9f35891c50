// broker.hpp — the component that reclaims for an arena, and keeps doing so.
//
// A Broker runs a thread that reaps dead holders every `interval`, ends
// in-flight references past their lifetime and returns idle pages, but
// only while it holds the arena's reaper lease (layout::ReaperLease,
// Arena::claim_reaper_lease): one reaper works at a time, and when it dies
// or stops another takes over.
//
// Two roles. `serve`: the creator's broker (embedded in the Python process
// that created the arena, or `shoal-broker`); it holds the creator's Arena
// and asks for the lease every round. `standby`: every other attached
// process runs one (the Python sessions do); it checks the lease about once
// a second and takes it over when its holder has died or stopped renewing,
// then reaps every `interval` like a broker. So reaping never stops while
// any process with a Broker is attached. A Broker that stops gives the
// lease up, so a standby takes over at its next check.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "shoal/arena.hpp"

namespace shoal {

class Broker {
 public:
  static constexpr std::chrono::milliseconds kDefaultInterval{100};
  // How often a standby that does not hold the lease looks at it.
  static constexpr std::chrono::milliseconds kStandbyInterval{1000};

  enum class Role { serve, standby };

  explicit Broker(std::shared_ptr<Arena> arena, std::chrono::milliseconds interval = kDefaultInterval,
                  Role role = Role::serve);
  ~Broker();  // stops the reaper
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  const std::shared_ptr<Arena>& arena() const { return arena_; }
  // Holders reaped so far by the reaper thread.
  std::uint64_t reaped() const;
  // The last error the reaper met (empty if none): it keeps going.
  std::string last_error() const;
  // True while this broker held the lease at its last round.
  bool holds_lease() const;
  // Stops the thread and gives the lease up. In a fork() child (which has
  // no thread), does neither.
  void stop();

 private:
  void run();
  // One round; returns whether we held the lease.
  bool round();
  // How long the lease lasts past each renewal: several rounds, so that a
  // slow round does not lose it, and at least a few seconds.
  std::chrono::milliseconds lease_ttl() const;

  std::shared_ptr<Arena> arena_;
  std::chrono::milliseconds interval_;
  Role role_;
  std::uint64_t token_;  // tells our lease from another reaper's in this process
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool holds_lease_ = false;
  std::uint64_t reaped_ = 0;
  std::string last_error_;
  std::uint64_t fork_generation_;  // in a forked copy there is no reaper thread to stop
  std::unique_ptr<std::thread> thread_;
};

}  // namespace shoal
