// default_arena.hpp — the process-wide default arena (no Python here).
//
// One mapping per process, shared by every interpreter: each interpreter
// joins it with a holder of its own (ArenaSession::join), so a block has the
// same address in all of them. Made on first use:
//   * SHOAL_ARENA=NAME in the environment: attach that arena (made by
//     another process or shoal-broker, which owns its lifetime);
//   * otherwise create "py-PID-dN" of SHOAL_ARENA_SIZE bytes (default 1GiB,
//     sparse) with an embedded broker; it is unlinked when the process
//     exits and nothing in it is held any more. A process that ends
//     without running its exit code (os._exit, SIGKILL) leaves it behind;
//     the next process to create a default arena unlinks such orphans
//     (creator gone, no live holder).
#pragma once

#include <memory>
#include <string>

#include "shoal/arena.hpp"

namespace shoal_py {

// The default arena's mapping, made on first use. Thread-safe; may create
// or attach a segment, so call it without the GIL. Throws the core's
// errors; InvalidArgument names a malformed SHOAL_ARENA_SIZE.
std::shared_ptr<shoal::Arena> process_default_arena();

// Makes arena `name` (attached, never created) the process's default
// arena, as SHOAL_ARENA does: for a pool's worker processes, which must
// share their caller's arena. A no-op if it already is; InvalidArgument if
// another default arena is in use in this process. Call without the GIL.
void use_default_arena(const std::string& name);

// The default arena's mapping if it is open and named `name`, else null.
std::shared_ptr<shoal::Arena> process_arena_named(const std::string& name);

}  // namespace shoal_py
