// interpreter_functions.hpp — creating, calling into and closing
// subinterpreters through the public C-API (no private CPython modules).
//
// The pure-Python shoal.interpreters (Interpreter, Task, run) and
// shoal.SubinterpreterExecutor are built on these few module functions:
//
//   _interp_create(isolated) -> id
//   _interp_call(id, request) -> (True, outcome) | (False, (type, message, traceback))
//   _interp_destroy(id) -> "closed" | "running" | "unknown" | "current"
//   _interp_is_running(id), _interp_is_isolated(id), _interp_list(),
//   _interp_current(), _interp_main(), _interp_forget_all() (in a fork() child)
//
// _interp_call is the data path: the request is frozen into the default
// arena by the caller, the calling OS thread switches into the target
// interpreter (the caller's GIL released, the target's taken), the target
// retains and thaws the same block, runs shoal._interp_runner.execute on
// it, freezes the outcome and hands its reference to the caller's holder
// before switching back. Buffers therefore cross in both directions with
// no copy, and at every instant some holder owns each block, so a crash
// anywhere leaves nothing the reaper cannot account for.
#pragma once

#include <Python.h>

namespace shoal_py {

PyObject* interp_create_function(PyObject* module, PyObject* isolated);
PyObject* interp_call_function(PyObject* module, PyObject* const* args, Py_ssize_t nargs);
PyObject* interp_destroy_function(PyObject* module, PyObject* id);
PyObject* interp_is_running_function(PyObject* module, PyObject* id);
PyObject* interp_is_isolated_function(PyObject* module, PyObject* id);
PyObject* interp_list_function(PyObject* module, PyObject* unused);
PyObject* interp_current_function(PyObject* module, PyObject* unused);
PyObject* interp_main_function(PyObject* module, PyObject* unused);
PyObject* interp_forget_all_function(PyObject* module, PyObject* unused);

}  // namespace shoal_py
