// liveness.cpp — see liveness.hpp.
//
// process_identity.hpp is the core's own reading of /proc/PID/stat (field
// 22, zombies dead); the CLI reuses it rather than parse /proc twice.
#include "liveness.hpp"

#include "process_identity.hpp"

namespace shoal::cli {

bool process_running(pid_t pid) { return process_start_time(pid).has_value(); }

bool holder_alive(pid_t pid, std::uint64_t start_time) { return is_alive(ProcessIdentity{pid, start_time}); }

}  // namespace shoal::cli
