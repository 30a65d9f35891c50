// process_identity.hpp — telling a live process from a dead one whose pid
// was reused. Used by the core's reaper and by the CLI.
//
// A pid alone is not an identity: Linux reuses pids. A pid together with
// the process start time (field 22 of /proc/PID/stat, clock ticks since
// boot) is: a new process under an old pid has a later start time.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <optional>

namespace shoal {

struct ProcessIdentity {
  pid_t pid = 0;
  std::uint64_t start_time = 0;
};

// The identity of the calling process.
ProcessIdentity current_process();

// The start time of `pid`, or nullopt when no such process runs (a zombie,
// whose mappings and references are already gone, counts as not running).
std::optional<std::uint64_t> process_start_time(pid_t pid);

// True while the process that had `identity` still runs.
bool is_alive(const ProcessIdentity& identity);

// getpid(), without a system call after the first.
pid_t cached_pid();

// Bumped in the child after every fork(), so that objects created before
// the fork can tell they are now in a copy of the process that made them.
std::uint64_t fork_generation();

namespace detail {
extern std::atomic<std::uint64_t> fork_generation_counter;
}  // namespace detail

// fork_generation() for a hot path, once fork_generation() has been called
// at least once in the process (which starts the counting): one load.
inline std::uint64_t fork_generation_now() {
  return detail::fork_generation_counter.load(std::memory_order_relaxed);
}

}  // namespace shoal
