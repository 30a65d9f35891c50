// test_support.hpp — helpers shared by the C++ tests: unique arena names,
// child processes, and a pipe for a child to say "I am here".
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "shoal/arena.hpp"
#include "shoal/channel.hpp"
#include "shoal/holder.hpp"
#include "test_hooks.hpp"

namespace shoal::testing {

// A name no other test run uses; the arena is destroyed with the guard.
inline std::string unique_name(const std::string& what) {
  static int counter = 0;
  return "test-" + what + "-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
}

struct ScopedName {
  std::string name;
  explicit ScopedName(const std::string& what) : name(unique_name(what)) { Arena::destroy(name); }
  ~ScopedName() { Arena::destroy(name); }
};

// A one-byte-at-a-time pipe between a parent and a forked child.
class Signal {
 public:
  Signal() {
    if (pipe(fds_) != 0) std::abort();
  }
  ~Signal() {
    close(fds_[0]);
    close(fds_[1]);
  }
  void post(char c = 'x') const {
    if (write(fds_[1], &c, 1) != 1) _exit(90);
  }
  // Waits for one byte; returns 0 when the other side closed or died.
  char wait() const {
    char c = 0;
    return read(fds_[0], &c, 1) == 1 ? c : 0;
  }

 private:
  int fds_[2];
};

// Runs `body` in a forked child, which exits with its return value and never
// returns into the test framework.
inline pid_t fork_child(const std::function<int()>& body) {
  const pid_t pid = fork();
  if (pid == 0) {
    int status = 99;
    try {
      status = body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child %d: %s\n", static_cast<int>(getpid()), e.what());
      status = 98;
    } catch (...) {
      status = 97;
    }
    _exit(status);
  }
  return pid;
}

// A child attached to arena `name` with a holder of its own and its own
// reference to `channel`, running body(holder, channel).
inline pid_t fork_channel_user(const std::string& name, Handle channel,
                               const std::function<int(Holder&, Channel&)>& body) {
  return fork_child([&] {
    auto arena = Arena::attach(name);
    auto holder = arena->attach_holder();
    Channel mine = Channel::open(*holder, channel);
    return body(*holder, mine);
  });
}

// Exit status of a child (-signal if it was killed).
inline int wait_child(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1000;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1001;
}

inline void kill_and_reap(pid_t pid) {
  kill(pid, SIGKILL);
  wait_child(pid);
}

// A fresh arena with one holder, and the used bytes it starts from.
class ArenaTest : public ::testing::Test {
 protected:
  explicit ArenaTest(const std::string& what, std::uint64_t size = 64ull << 20) : name(what), size_(size) {}
  void SetUp() override {
    arena = Arena::create(name.name, size_);
    holder = arena->attach_holder();
    baseline = arena->stats().used_bytes;
  }
  void expect_sound() {
    const auto problems = arena->check();
    EXPECT_TRUE(problems.empty()) << problems.front();
  }

  ScopedName name;
  std::uint64_t size_;
  std::shared_ptr<Arena> arena;
  std::unique_ptr<Holder> holder;
  std::uint64_t baseline = 0;
};

// A staged death: install pause_at(point, signal) in a child; when it
// reaches `point` (inside the arena lock) it tells the parent and waits to
// be killed there.
namespace staged_death {
inline test_hooks::Point target;
inline const Signal* reached = nullptr;
inline void hook(test_hooks::Point point) {
  if (point != target) return;
  reached->post('p');
  for (;;) pause();
}
}  // namespace staged_death

inline void pause_at(test_hooks::Point point, const Signal& reached) {
  staged_death::target = point;
  staged_death::reached = &reached;
  test_hooks::install(staged_death::hook);
}

inline int env_int(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::atoi(value) : fallback;
}

}  // namespace shoal::testing
