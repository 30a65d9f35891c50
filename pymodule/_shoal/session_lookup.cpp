// session_lookup.cpp — see session_lookup.hpp.
#include "session_lookup.hpp"

#include <cstdint>
#include <utility>

#include "arena_type.hpp"
#include "default_arena.hpp"
#include "gil.hpp"

namespace shoal_py {

std::shared_ptr<ArenaSession> session_for(ModuleState* state, const std::string& name) {
  if (state->open_arenas != nullptr) {
    for (ArenaObject* arena : *state->open_arenas) {
      const auto& session = arena->fields.session;
      if (session && session->opened_here() && arena->fields.name == name) return session;
    }
  }
  if (state->joined_sessions != nullptr) {
    const auto found = state->joined_sessions->find(name);
    if (found != state->joined_sessions->end()) {
      if (std::shared_ptr<ArenaSession> session = found->second.lock(); session && session->opened_here()) {
        return session;
      }
    }
  }
  // The process-wide default arena is joined, not mapped again: its blocks
  // keep their addresses across the interpreters of this process.
  const std::int64_t interpreter_id = PyInterpreterState_GetID(PyInterpreterState_Get());
  std::shared_ptr<ArenaSession> session = without_gil([&] {
    if (std::shared_ptr<shoal::Arena> shared = process_arena_named(name)) {
      return ArenaSession::join(std::move(shared), interpreter_id);
    }
    return ArenaSession::attach(name, interpreter_id);
  });
  if (state->joined_sessions != nullptr) (*state->joined_sessions)[name] = session;
  return session;
}

}  // namespace shoal_py
