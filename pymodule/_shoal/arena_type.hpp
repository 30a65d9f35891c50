// arena_type.hpp — the Python type shoal.Arena.
#pragma once

#include <Python.h>

#include <memory>
#include <string>
#include <unordered_set>

#include "arena_session.hpp"
#include "module_state.hpp"

namespace shoal_py {

// The C++ part of an Arena object. Python allocates the object's memory, so
// these members are built with placement new in arena_new and destroyed
// explicitly in arena_dealloc.
struct ArenaFields {
  std::shared_ptr<ArenaSession> session;  // null once closed
  std::string name;                       // kept after close, for repr and .name
  // The interpreter's set of open arenas this object is listed in
  // (ModuleState::open_arenas); null once closed. Not owned.
  std::unordered_set<ArenaObject*>* registry = nullptr;
};

struct ArenaObject {
  PyObject_HEAD
  ArenaFields fields;
};

// Creates the Arena type for `module` (a heap type bound to its state).
PyTypeObject* create_arena_type(PyObject* module);

// This interpreter's Arena object on the process-wide default arena (a new
// reference), opened on first use and again after it was closed. Null
// with an error set.
PyObject* default_arena_object(ModuleState* state);

// arena.empty(shape, dtype) for an Arena object (`dtype` may be null: the
// default). Null with an error set.
PyObject* arena_empty_buffer(PyObject* arena, PyObject* shape, PyObject* dtype);

// The module function shoal.default_arena().
PyObject* default_arena_function(PyObject* module, PyObject* unused);
// shoal._shoal._use_default_arena(name): see default_arena.hpp, use_default_arena.
PyObject* use_default_arena_function(PyObject* module, PyObject* name);

// Closes every Arena of this interpreter still open: the module is going away.
void close_all_arenas(ModuleState* state);

}  // namespace shoal_py
