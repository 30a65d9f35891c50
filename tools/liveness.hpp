// liveness.hpp — is the process behind a pid still the one we think?
//
// Linux reuses pids, so a pid alone proves nothing. A holder slot records
// the pid and the process start time (field 22 of /proc/PID/stat); the
// core's is_alive() compares both and treats a zombie as dead. The arena
// header records the creator the same way (creator_pid, creator_start_time).
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace shoal::cli {

// True while a process with this pid runs (a zombie does not count).
bool process_running(pid_t pid);

// True while the process that registered a holder slot still runs: same
// pid and same start time, so a reused pid reads as dead.
bool holder_alive(pid_t pid, std::uint64_t start_time);

}  // namespace shoal::cli
