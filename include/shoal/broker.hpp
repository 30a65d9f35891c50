// broker.hpp — the component that owns an arena's lifetime and reclaims for it.
//
// A Broker holds the creator's Arena (so the segment is unlinked when the
// broker and every other user in this process are done with it) and runs a
// thread that reaps dead holders every `interval`. Embedded, it lives inside
// the process that created the arena; standalone, it is `shoal-broker`.
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

  // Serves an arena this process created.
  explicit Broker(std::shared_ptr<Arena> arena, std::chrono::milliseconds interval = kDefaultInterval);
  ~Broker();  // stops the reaper
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  const std::shared_ptr<Arena>& arena() const { return arena_; }
  // Holders reaped so far by the reaper thread.
  std::uint64_t reaped() const;
  // The last error the reaper met (empty if none): it keeps going.
  std::string last_error() const;
  void stop();

 private:
  void run();

  std::shared_ptr<Arena> arena_;
  std::chrono::milliseconds interval_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::uint64_t reaped_ = 0;
  std::string last_error_;
  std::uint64_t fork_generation_;  // in a forked copy there is no reaper thread to stop
  std::unique_ptr<std::thread> thread_;
};

}  // namespace shoal
