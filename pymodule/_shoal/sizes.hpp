// sizes.hpp — byte sizes crossing the Python boundary.
#pragma once

#include <Python.h>

#include <cstdint>

#include "module_state.hpp"

namespace shoal_py {

// An int >= 0 as uint64. Returns -1 with TypeError (not an int) or
// ValueError (negative, too large) set; `what` names the argument.
int uint64_from_int(PyObject* object, const char* what, std::uint64_t* out);

// A size given as an int of bytes or a string like "64MiB" (shoal::parse_size).
// Returns -1 with a Python error set.
int size_from_object(ModuleState* state, PyObject* object, std::uint64_t* out);

// Module functions shoal.parse_size(text) and shoal.format_size(nbytes).
PyObject* parse_size_function(PyObject* module, PyObject* text);
PyObject* format_size_function(PyObject* module, PyObject* nbytes);

}  // namespace shoal_py
