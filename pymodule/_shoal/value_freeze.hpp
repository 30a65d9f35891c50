// value_freeze.hpp — a Python value into a frozen object in the arena.
#pragma once

#include <Python.h>

#include <optional>

#include "arena_session.hpp"
#include "module_state.hpp"
#include "shoal/holder.hpp"

namespace shoal_py {

// Freezes `value` into a new object block of `session`'s arena and returns
// the caller's reference to it. What crosses: None, bool, int (any size),
// float, str, bytes, tuple, list, dict, set, frozenset, nested, and
// shoal.Buffer (referenced in place, never copied; frozen from then on).
// Anything else raises TypeError naming where it sits
// ("value['a'][2]: cannot send 'generator'") and leaves nothing allocated.
// Returns nothing with a Python error set.
std::optional<shoal::HeldBlock> freeze_value(ModuleState* state, ArenaSession& session, PyObject* value);

}  // namespace shoal_py
