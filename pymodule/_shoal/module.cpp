// module.cpp — the extension module shoal._shoal: definition and life cycle.
//
// Entry point: PyInit__shoal, which returns the module definition for
// multi-phase initialisation (PEP 489). Python then creates one module
// object per interpreter and runs module_exec on it, so every interpreter
// gets its own ModuleState (module_state.hpp). The module declares
// Py_MOD_PER_INTERPRETER_GIL_SUPPORTED: it keeps no Python object in C++
// globals, so it imports in isolated subinterpreters with their own GIL.
//
// It does not declare Py_mod_gil = Py_MOD_GIL_NOT_USED: the per-Arena block
// table relies on the GIL, so a free-threaded build keeps the GIL on for it.
//
// Life cycle of the state:
//   module_exec      creates the exception classes, the Arena, Buffer and
//                    Channel types and the set of open arenas;
//   module_traverse  shows the GC the Python objects the state owns;
//   module_clear     closes the interpreter's arenas still open, then drops
//                    the Python objects (may run more than once);
//   module_free      module_clear, then frees the C++ set.
#include <Python.h>

#include <unordered_set>

#include "arena_type.hpp"
#include "async_waker.hpp"
#include "ring_wakeup.hpp"
#include "buffer_type.hpp"
#include "frozen_view_type.hpp"
#include "call_site.hpp"
#include "channel_async.hpp"
#include "channel_select.hpp"
#include "channel_type.hpp"
#include "errors.hpp"
#include "gil.hpp"
#include "interpreter_functions.hpp"
#include "module_state.hpp"
#include "pickled_handles.hpp"
#include "process_exit.hpp"
#include "numpy_arrays.hpp"
#include "sizes.hpp"

namespace shoal_py {
namespace {

// Notes the main thread (process_exit.hpp): the one threading calls so.
int note_main_thread_from_threading() {
  PyObject* threading = PyImport_ImportModule("threading");
  if (threading == nullptr) return -1;
  PyObject* main = PyObject_CallMethod(threading, "main_thread", nullptr);
  Py_DECREF(threading);
  if (main == nullptr) return -1;
  PyObject* ident = PyObject_GetAttrString(main, "ident");
  Py_DECREF(main);
  if (ident == nullptr) return -1;
  const unsigned long value = PyLong_AsUnsignedLong(ident);
  Py_DECREF(ident);
  if (value == static_cast<unsigned long>(-1) && PyErr_Occurred()) return -1;
  note_main_thread(value);
  return 0;
}

int module_exec(PyObject* module) {
  ModuleState* state = state_of_module(module);
  state->open_arenas = new std::unordered_set<ArenaObject*>();
  state->joined_sessions = new std::unordered_map<std::string, std::weak_ptr<ArenaSession>>();
  state->line_cache = new LineCache();

  if (add_exceptions(module, state) < 0) return -1;
  state->numpy_name = PyUnicode_InternFromString("numpy");
  if (state->numpy_name == nullptr) return -1;

  state->arena_type = create_arena_type(module);
  if (state->arena_type == nullptr) return -1;
  if (PyModule_AddType(module, state->arena_type) < 0) return -1;

  state->buffer_type = create_buffer_type(module);
  if (state->buffer_type == nullptr) return -1;
  if (PyModule_AddType(module, state->buffer_type) < 0) return -1;

  state->channel_type = create_channel_type(module);
  if (state->channel_type == nullptr) return -1;
  if (PyModule_AddType(module, state->channel_type) < 0) return -1;
  PyTypeObject* wakeup_type = create_wakeup_type(module);
  if (wakeup_type == nullptr) return -1;
  const int added = PyModule_AddType(module, wakeup_type);
  Py_DECREF(wakeup_type);
  if (added < 0) return -1;
  if (add_frozen_view_types(module, state) < 0) return -1;
  if (PyInterpreterState_Get() == PyInterpreterState_Main() && note_main_thread_from_threading() < 0) return -1;
  return 0;
}

PyObject* begin_exit_function(PyObject*, PyObject*) {
  begin_process_exit();
  without_gil([] {  // async waits wake, and raise ProcessExiting
    stop_ring_wakeups();
    stop_all_wakers();
  });
  Py_RETURN_NONE;
}

PyObject* exiting_function(PyObject*, PyObject*) { return PyBool_FromLong(process_exiting()); }

PyObject* close_gil_gate_function(PyObject*, PyObject*) {
  close_gil_gate();
  Py_RETURN_NONE;
}

int module_traverse(PyObject* module, visitproc visit, void* arg) {
  ModuleState* state = state_of_module(module);
  Py_VISIT(state->arena_type);
  Py_VISIT(state->buffer_type);
  Py_VISIT(state->channel_type);
  for (PyTypeObject* type : state->frozen_types) Py_VISIT(type);
  for (PyObject* cls : state->frozen_classes) Py_VISIT(cls);
  Py_VISIT(state->frozen_iterator_type);
  Py_VISIT(state->default_arena);
  Py_VISIT(state->numpy_name);
  Py_VISIT(state->numpy_module);
  for (PyObject* ModuleState::*field : kExceptionFields) Py_VISIT(state->*field);
  return 0;
}

int module_clear(PyObject* module) {
  ModuleState* state = state_of_module(module);
  // Arenas first: their holders must be released now, because the process
  // lives on and so they would never be reaped. Closing needs none of the
  // Python objects cleared below.
  close_all_arenas(state);
  if (state->line_cache != nullptr) state->line_cache->clear();
  Py_CLEAR(state->arena_type);
  Py_CLEAR(state->buffer_type);
  Py_CLEAR(state->channel_type);
  for (PyTypeObject*& type : state->frozen_types) Py_CLEAR(type);
  for (PyObject*& cls : state->frozen_classes) Py_CLEAR(cls);
  Py_CLEAR(state->frozen_iterator_type);
  Py_CLEAR(state->default_arena);
  Py_CLEAR(state->numpy_name);
  Py_CLEAR(state->numpy_module);
  for (PyObject* ModuleState::*field : kExceptionFields) Py_CLEAR(state->*field);
  return 0;
}

void module_free(void* module) {
  module_clear(static_cast<PyObject*>(module));
  ModuleState* state = state_of_module(static_cast<PyObject*>(module));
  delete state->open_arenas;
  state->open_arenas = nullptr;
  delete state->joined_sessions;
  state->joined_sessions = nullptr;
  delete state->line_cache;
  state->line_cache = nullptr;
}

PyMethodDef module_functions[] = {
    {"parse_size", parse_size_function, METH_O,
     "parse_size(text)\n--\n\nBytes in a size like '4096', '64KiB', '64MiB', '4GiB', '1.5G' or '10MB'\n"
     "(K/KiB/M/MiB... are powers of 1024, KB/MB/GB/TB powers of 1000). ValueError names bad text."},
    {"format_size", format_size_function, METH_O,
     "format_size(nbytes)\n--\n\nA size for humans: '512 B', '1.0 KiB', '63.9 MiB', '4.0 GiB'."},
    {"empty", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(empty_function)),
     METH_FASTCALL | METH_KEYWORDS,
     "empty(shape, dtype='float64', arena=None)\n--\n\nA new writable shoal.Buffer: arena.empty(shape, dtype),\n"
     "in default_arena() when arena is None."},
    {"freeze", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(freeze_function)),
     METH_FASTCALL | METH_KEYWORDS,
     "freeze(value, *, arena=None)\n--\n\nFreezes a dict, list, tuple, set or frozenset once into the arena\n"
     "(default_arena() when None) and returns a read-only view of it, read in place:\n"
     "FrozenDict, FrozenList, FrozenTuple or FrozenSet. Sent or pickled on this host,\n"
     "a view arrives as a view of the same memory, whatever its size."},
    {"_set_frozen_classes",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(set_frozen_classes_function)), METH_FASTCALL,
     "_set_frozen_classes(dict_cls, list_cls, tuple_cls, set_cls): the classes views are made as"},
    {"default_arena", default_arena_function, METH_NOARGS,
     "default_arena()\n--\n\nThe process-wide default arena, as an Arena of this interpreter. Made on\n"
     "first use and shared by every interpreter of the process (same mapping, same\n"
     "addresses): environment SHOAL_ARENA=NAME attaches that arena instead;\n"
     "SHOAL_ARENA_SIZE sets the size of the one created (default '1GiB', sparse)."},
    {"select", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(select_function)),
     METH_VARARGS | METH_KEYWORDS, kSelectDoc},
    {"_numpy_capi", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(numpy_capi_function)), METH_FASTCALL,
     "_numpy_capi(enabled=None) -> bool\n--\n\nWhether received arrays are made through NumPy's C-API (else\n"
     "numpy.asarray); enabled=False switches that off for this process, True back on."},
    // Pickling by reference (pickled_handles.hpp; shoal/_pickling.py uses them).
    {"_issue_ticket", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(issue_ticket_function)),
     METH_FASTCALL, "_issue_ticket(buffer_or_channel, lifetime, shared=True) -> (ref, data offset)"},
    {"_redeem", redeem_function, METH_O, "_redeem(ref) -> read-only flat Buffer over the block, or Channel"},
    {"_redeem_frozen", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(redeem_frozen_function)),
     METH_FASTCALL, "_redeem_frozen(ref, path) -> the frozen view a pickle names"},
    {"_cancel_ticket", cancel_ticket_function, METH_O, "_cancel_ticket(ref) -> True if it was still held"},
    {"_in_flight", in_flight_function, METH_O, "_in_flight(arena_name) -> [dict]: the arena's in-flight references"},
    {"_boot_id", boot_id_function, METH_NOARGS, "_boot_id() -> this host's boot id"},
    {"_use_default_arena", use_default_arena_function, METH_O,
     "_use_default_arena(name)\n--\n\nMakes arena `name` this process's default arena (attached, not\n"
     "created): for worker processes of a pool. ValueError if another default is already in use."},
    // The subinterpreter primitives under shoal.interpreters (interpreter_functions.hpp).
    {"_interp_create", interp_create_function, METH_O, "_interp_create(isolated) -> id"},
    {"_interp_call", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(interp_call_function)),
     METH_FASTCALL,
     "_interp_call(id, request, keep_thread_state=False) -> (True, outcome) | (False, (type, message, traceback))"},
    {"_interp_destroy", interp_destroy_function, METH_O,
     "_interp_destroy(id) -> 'closed' | 'running' | 'unknown' | 'current'"},
    {"_interp_is_running", interp_is_running_function, METH_O, "_interp_is_running(id) -> bool"},
    {"_interp_is_isolated", interp_is_isolated_function, METH_O, "_interp_is_isolated(id) -> bool"},
    {"_interp_list", interp_list_function, METH_NOARGS, "_interp_list() -> ids of open interpreters made by shoal"},
    {"_interp_current", interp_current_function, METH_NOARGS, "_interp_current() -> this interpreter's id"},
    {"_interp_main", interp_main_function, METH_NOARGS, "_interp_main() -> the main interpreter's id"},
    {"_interp_forget_all", interp_forget_all_function, METH_NOARGS,
     "_interp_forget_all(): in a fork() child, forgets every subinterpreter (CPython deleted them)"},
    // The end of the process (process_exit.hpp; shoal/__init__.py and _interp_lifecycle.py use them).
    {"_begin_exit", begin_exit_function, METH_NOARGS,
     "_begin_exit(): from now on every shoal call that would wait raises ProcessExiting, in every thread"},
    {"_exiting", exiting_function, METH_NOARGS, "_exiting() -> True once _begin_exit() was called"},
    {"_close_gil_gate", close_gil_gate_function, METH_NOARGS,
     "_close_gil_gate(): by the thread that ends the process, last: other threads never take a GIL back\n"
     "through shoal again (they park)"},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, reinterpret_cast<void*>(module_exec)},
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
    {0, nullptr},
};

}  // namespace

PyModuleDef module_def = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "shoal._shoal",
    .m_doc = "The C++ core of shoal, for the pure-Python package `shoal`: shared-memory arenas.",
    .m_size = sizeof(ModuleState),
    .m_methods = module_functions,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

}  // namespace shoal_py

PyMODINIT_FUNC PyInit__shoal() { return PyModuleDef_Init(&shoal_py::module_def); }
