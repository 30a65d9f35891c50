// module_state.hpp — what one interpreter's copy of shoal._shoal owns.
//
// The module is imported separately in every interpreter (isolated
// subinterpreters share no Python objects), so nothing Python lives in a
// C++ global: each import gets its own ModuleState, holding its own Arena
// type and exception classes. A shoal.ArenaFull of one interpreter is not
// the same object as another's; both are named "shoal.ArenaFull".
//
// Process-wide state is deliberately tiny and holds no Python object: the
// counter behind generated arena names (arena_type.cpp), which must be
// unique across interpreters, and the mapping of the default arena that all
// interpreters share (default_arena.cpp).
#pragma once

#include <Python.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace shoal_py {

struct ArenaObject;
class ArenaSession;
class LineCache;

struct ModuleState {
  PyTypeObject* arena_type;
  PyTypeObject* buffer_type;
  PyTypeObject* channel_type;
  // The view types of shoal.freeze() (frozen_view_type.hpp), in the order
  // dict, list, tuple, set; the subclasses shoal/_frozen.py registers for
  // them (null until it does); the views' iterator type.
  PyTypeObject* frozen_types[4];
  PyObject* frozen_classes[4];
  PyTypeObject* frozen_iterator_type;
  // This interpreter's Arena object on the process-wide default arena
  // (shoal.default_arena()); null until first used.
  PyObject* default_arena;

  // Exception classes (see errors.cpp for the hierarchy).
  PyObject* shoal_error;
  PyObject* arena_full;
  PyObject* arena_not_found;
  PyObject* arena_exists;
  PyObject* arena_permission_error;
  PyObject* not_an_arena;
  PyObject* corrupt_arena;
  PyObject* corrupt_object;
  PyObject* channel_closed;
  PyObject* channel_poisoned;  // a subclass of channel_closed
  PyObject* invalid_handle;
  PyObject* pickle_expired;  // subclasses of invalid_handle: a pickled handle whose
  PyObject* foreign_handle;  // in-flight reference ended, or of another arena or host
  PyObject* too_many_holders;
  PyObject* shoal_timeout;
  PyObject* full;   // Channel.try_send on a full channel
  PyObject* empty;  // Channel.try_recv on an empty one
  PyObject* process_exiting;  // a SystemExit, not a ShoalError: see errors.cpp

  // The Arena objects of this interpreter that are still open. Not owning
  // references: each Arena removes itself when it closes. When the module is
  // cleared (the interpreter goes away) the ones left are closed, because a
  // holder of a living process is never reaped: without this, an interpreter
  // destroyed with an arena open would pin its blocks for the process's life.
  // Created by module_exec, deleted by module_free; C++ memory, never a
  // Python object.
  std::unordered_set<ArenaObject*>* open_arenas;

  // Sessions this interpreter joined or attached for values it unpickled or
  // received without an Arena object of theirs (channel_type.hpp,
  // session_for), by arena name: reused while anything still holds them, so
  // unpickling a thousand values takes one holder slot, not a thousand.
  // Created by module_exec, deleted by module_free.
  std::unordered_map<std::string, std::weak_ptr<ArenaSession>>* joined_sessions;

  // The interned name "numpy", and the numpy module once a receive found it
  // imported and initialised (value_thaw.cpp): received arrays become NumPy
  // arrays where NumPy is already here, and looking that up took a
  // third of a received array's instructions.
  PyObject* numpy_name;
  PyObject* numpy_module;

  // Lines of the Python calls that make blocks (call_site.hpp), holding
  // references on code objects: cleared by module_clear, deleted by
  // module_free.
  LineCache* line_cache;
};

// shoal._shoal's definition (module.cpp).
extern PyModuleDef module_def;

// The state of a module object of ours.
inline ModuleState* state_of_module(PyObject* module) {
  return static_cast<ModuleState*>(PyModule_GetState(module));
}

// The state of the module that defined `type` (one of our heap types).
inline ModuleState* state_of_type(PyTypeObject* type) {
  return static_cast<ModuleState*>(PyType_GetModuleState(type));
}

// The same for an instance of a Python subclass of one of our types (which
// has no module of its own): the first of its bases that is ours.
inline ModuleState* state_of_subclass(PyTypeObject* type) {
  return static_cast<ModuleState*>(PyModule_GetState(PyType_GetModuleByDef(type, &module_def)));
}

}  // namespace shoal_py
