// session_lookup.hpp — this interpreter's session on an arena named in a
// pickle or inherited through fork().
//
// A Channel or Buffer arriving by name (a pickled reference, a channel
// reopened after fork) needs a session of this interpreter on that arena:
// an open Arena object's, the joined default arena's, or a new one,
// remembered (weakly) for the next arrival.
#pragma once

#include <memory>
#include <string>

#include "arena_session.hpp"
#include "module_state.hpp"

namespace shoal_py {

// The open session of arena `name` in this interpreter, reusing an open
// Arena object's (or joining the process's default arena), else attaching
// anew. Releases the GIL while it may wait. Throws the core's errors.
std::shared_ptr<ArenaSession> session_for(ModuleState* state, const std::string& name);

}  // namespace shoal_py
