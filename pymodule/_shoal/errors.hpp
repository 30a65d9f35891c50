// errors.hpp — shoal's Python exceptions, and the one boundary where C++
// exceptions from the core become them.
#pragma once

#include <Python.h>

#include "module_state.hpp"

namespace shoal_py {

// Every exception class field of ModuleState, for traverse and clear.
inline constexpr PyObject* ModuleState::*kExceptionFields[] = {
    &ModuleState::shoal_error,    &ModuleState::arena_full,     &ModuleState::arena_not_found,
    &ModuleState::arena_exists,   &ModuleState::arena_permission_error,
    &ModuleState::not_an_arena,   &ModuleState::corrupt_arena,  &ModuleState::corrupt_object, &ModuleState::channel_closed, &ModuleState::channel_poisoned, &ModuleState::invalid_handle, &ModuleState::pickle_expired, &ModuleState::foreign_handle,
    &ModuleState::too_many_holders, &ModuleState::shoal_timeout, &ModuleState::full,
    &ModuleState::empty, &ModuleState::process_exiting,
};

// Creates the exception classes into `state` and adds them to `module`.
// Returns -1 with a Python error set on failure.
int add_exceptions(PyObject* module, ModuleState* state);

// Converts the C++ exception being handled into a Python exception and
// returns nullptr, so a method can end with `return raise_python_error(state);`.
// Call it only inside a catch block, with the GIL held.
PyObject* raise_python_error(ModuleState* state);

}  // namespace shoal_py
