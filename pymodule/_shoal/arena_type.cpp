// arena_type.cpp — shoal.Arena: a named shared-memory arena, seen from Python.
//
// Entry points: arena_new (shoal.Arena(size, name): create, with an
// embedded broker; with exist_ok=True, attach if the name exists),
// arena_attach (shoal.Arena.attach(name, other_user=False)), close_arena.
//
// Each Arena object registers its own holder for (this process, this
// interpreter), through an ArenaSession (arena_session.hpp). Every call that
// may wait for the arena lock runs with the GIL released (gil.hpp). After
// close(), every method raises ValueError("arena is closed"); `.name` and
// `.closed` stay readable, as they do on a closed file.
//
// What happens to an Arena when its interpreter goes away is decided, not
// left to chance: the module's state lists every open Arena, and clearing
// the module closes them (close_all_arenas), releasing the interpreter's
// holder and everything it held.
#include "arena_type.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "buffer_type.hpp"
#include "default_arena.hpp"
#include "fast_args.hpp"
#include "errors.hpp"
#include "gil.hpp"
#include "shoal/errors.hpp"
#include "shoal/size.hpp"
#include "sizes.hpp"

namespace shoal_py {
namespace {

constexpr std::uint64_t kDefaultSize = std::uint64_t{1} << 30;  // "1GiB": sparse, costs only what is used
constexpr int kGeneratedNameAttempts = 100;

// Process-wide on purpose: generated names must differ across all the
// interpreters of this process, which share its pid.
constinit std::atomic<std::uint64_t> g_generated_names{0};

std::string generate_name() {
  return "py-" + std::to_string(getpid()) + "-" + std::to_string(++g_generated_names);
}

ArenaObject* as_arena(PyObject* object) { return reinterpret_cast<ArenaObject*>(object); }

ModuleState* state_of(ArenaObject* self) { return state_of_type(Py_TYPE(self)); }

std::int64_t current_interpreter_id() { return PyInterpreterState_GetID(PyInterpreterState_Get()); }

// The open session of `self`, as a new reference that keeps it alive while
// the GIL is released; null with ValueError set if the arena is closed.
std::shared_ptr<ArenaSession> open_session(ArenaObject* self) {
  if (!self->fields.session) PyErr_SetString(PyExc_ValueError, "arena is closed");
  return self->fields.session;
}

void close_arena(ArenaObject* self) {
  // Leave the interpreter's list first: while the GIL is released below,
  // close_all_arenas or a dealloc may run, and must not see us again.
  if (self->fields.registry != nullptr) {
    self->fields.registry->erase(self);
    self->fields.registry = nullptr;
  }
  // The field is null before the session is let go; the last reference
  // tears it down without the GIL (arena_session.cpp).
  self->fields.session.reset();
}

// Wraps a freshly opened session in a new Arena object listed in the
// interpreter's set of open arenas.
PyObject* new_arena_object(PyTypeObject* type, ModuleState* state, std::shared_ptr<ArenaSession> session,
                           std::string name) {
  PyObject* object = type->tp_alloc(type, 0);
  if (object == nullptr) return nullptr;
  ArenaObject* self = as_arena(object);
  new (&self->fields) ArenaFields{std::move(session), std::move(name), state->open_arenas};
  state->open_arenas->insert(self);
  return object;
}

// The module state for a new Arena, or null with an error set when the
// module has already been cleared (its interpreter is shutting down).
ModuleState* state_for_new_arena(PyTypeObject* type) {
  ModuleState* state = state_of_type(type);
  if (state == nullptr) return nullptr;
  if (state->open_arenas == nullptr) {
    PyErr_SetString(PyExc_RuntimeError, "shoal._shoal is shutting down in this interpreter");
    return nullptr;
  }
  return state;
}

// Creates an arena under a generated name. A leftover segment of a dead
// process that had our pid may hold a name: then try the next number.
std::shared_ptr<ArenaSession> create_with_generated_name(std::uint64_t size, std::int64_t interpreter_id,
                                                         std::string* name) {
  for (int attempt = 1;; ++attempt) {
    *name = generate_name();
    try {
      return without_gil([&] { return ArenaSession::create(*name, size, interpreter_id); });
    } catch (const shoal::ArenaExists&) {
      if (attempt == kGeneratedNameAttempts) throw;
    }
  }
}

// ------------------------------------------------------- construction ----

PyObject* arena_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  static const char* keywords[] = {"size", "name", "exist_ok", nullptr};
  PyObject* size_arg = nullptr;
  const char* name_arg = nullptr;
  int exist_ok = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|Oz$p:Arena", const_cast<char**>(keywords), &size_arg,
                                   &name_arg, &exist_ok)) {
    return nullptr;
  }
  ModuleState* state = state_for_new_arena(type);
  if (state == nullptr) return nullptr;
  std::uint64_t size = kDefaultSize;
  if (size_arg != nullptr && size_from_object(state, size_arg, &size) < 0) return nullptr;

  const std::int64_t interpreter_id = current_interpreter_id();
  std::string name;
  std::shared_ptr<ArenaSession> session;
  try {
    if (name_arg == nullptr) {
      // exist_ok plays no part: a generated name is meant to be new, and
      // one taken is a dead process's leftover, never to be joined.
      session = create_with_generated_name(size, interpreter_id, &name);
    } else if (exist_ok) {
      name = name_arg;
      session = without_gil([&] { return ArenaSession::open_or_create(name, size, interpreter_id); });
    } else {
      name = name_arg;
      session = without_gil([&] { return ArenaSession::create(name, size, interpreter_id); });
    }
  } catch (...) {
    return raise_python_error(state);
  }
  return new_arena_object(type, state, std::move(session), std::move(name));
}

PyObject* arena_attach(PyObject* cls, PyObject* args, PyObject* kwargs) {
  static const char* keywords[] = {"name", "other_user", nullptr};
  const char* name_arg = nullptr;
  int other_user = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|$p:attach", const_cast<char**>(keywords), &name_arg,
                                   &other_user)) {
    return nullptr;
  }
  auto* type = reinterpret_cast<PyTypeObject*>(cls);
  ModuleState* state = state_for_new_arena(type);
  if (state == nullptr) return nullptr;

  const std::int64_t interpreter_id = current_interpreter_id();
  std::string name = name_arg;
  std::shared_ptr<ArenaSession> session;
  try {
    shoal::ArenaOptions options;
    options.other_user = other_user != 0;
    session = without_gil([&] { return ArenaSession::attach(name, interpreter_id, options); });
  } catch (...) {
    return raise_python_error(state);
  }
  return new_arena_object(type, state, std::move(session), std::move(name));
}

// An Arena holds no Python object but its type; the GC must still see that
// reference, or a cycle such as module -> its dict -> an Arena -> Arena type
// -> module could never be collected (the type would look referenced from
// outside the cycle).
int arena_traverse(PyObject* object, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(object));
  return 0;
}

void arena_dealloc(PyObject* object) {
  ArenaObject* self = as_arena(object);
  PyTypeObject* type = Py_TYPE(object);
  PyObject_GC_UnTrack(object);
  close_arena(self);
  self->fields.~ArenaFields();
  type->tp_free(object);
  Py_DECREF(type);  // instances of a heap type own a reference to it
}

// ------------------------------------------------------------ methods ----

PyObject* stats_to_dict(const shoal::ArenaStats& s) {
  using ull = unsigned long long;
  return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K}",         //
                       "size", ull{s.size},                                           // segment bytes
                       "heap", ull{s.heap_bytes},                                     // bytes for blocks
                       "used", ull{s.used_bytes},                                     // headers included
                       "free", ull{s.free_bytes},                                     //
                       "cached", ull{s.cached_bytes},                                 // kept by holders for reuse
                       "cached_blocks", ull{s.cached_blocks},                         //
                       "largest_free", ull{s.largest_free},                           // payload bytes
                       "blocks", ull{s.used_blocks},                                  //
                       "free_blocks", ull{s.free_blocks},                             //
                       "holders", ull{s.holders},                                     // registered slots
                       "repairs", ull{s.repairs},                                     // dead lock owners
                       "reaped_holders", ull{s.reaped_holders});                      //
}

PyObject* arena_stats(PyObject* object, PyObject*) {
  ArenaObject* self = as_arena(object);
  std::shared_ptr<ArenaSession> session = open_session(self);
  if (!session) return nullptr;
  shoal::ArenaStats stats;
  try {
    stats = without_gil([&] { return session->arena().stats(); });
  } catch (...) {
    return raise_python_error(state_of(self));
  }
  return stats_to_dict(stats);
}

PyObject* arena_check(PyObject* object, PyObject*) {
  ArenaObject* self = as_arena(object);
  std::shared_ptr<ArenaSession> session = open_session(self);
  if (!session) return nullptr;
  std::vector<std::string> problems;
  try {
    problems = without_gil([&] { return session->arena().check(); });
  } catch (...) {
    return raise_python_error(state_of(self));
  }
  PyObject* list = PyList_New(0);
  if (list == nullptr) return nullptr;
  for (const std::string& problem : problems) {
    PyObject* text = PyUnicode_DecodeUTF8(problem.data(), static_cast<Py_ssize_t>(problem.size()), "replace");
    if (text == nullptr || PyList_Append(list, text) < 0) {
      Py_XDECREF(text);
      Py_DECREF(list);
      return nullptr;
    }
    Py_DECREF(text);
  }
  return list;
}

PyObject* arena_reap(PyObject* object, PyObject*) {
  ArenaObject* self = as_arena(object);
  std::shared_ptr<ArenaSession> session = open_session(self);
  if (!session) return nullptr;
  std::size_t reaped = 0;
  try {
    reaped = without_gil([&] { return session->arena().reap_dead_holders(); });
  } catch (...) {
    return raise_python_error(state_of(self));
  }
  return PyLong_FromSize_t(reaped);
}

PyObject* arena_close(PyObject* object, PyObject*) {
  close_arena(as_arena(object));
  Py_RETURN_NONE;
}

PyObject* arena_enter(PyObject* object, PyObject*) {
  if (!open_session(as_arena(object))) return nullptr;
  return Py_NewRef(object);
}

PyObject* arena_exit(PyObject* object, PyObject*) {
  close_arena(as_arena(object));
  Py_RETURN_FALSE;  // never swallow the exception
}

// arena.empty(shape, dtype="float64"): a writable Buffer in this arena.
}  // namespace

PyObject* arena_empty_buffer(PyObject* object, PyObject* shape, PyObject* dtype) {
  ArenaObject* self = as_arena(object);
  std::shared_ptr<ArenaSession> session = open_session(self);
  if (!session) return nullptr;
  return empty_buffer(state_of(self), std::move(session), shape, dtype);
}

namespace {

PyObject* arena_empty(PyObject* object, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  static constexpr const char* kNames[] = {"shape", "dtype"};
  PyObject* bound[2];
  if (bind_arguments("empty", args, nargs, kwnames, kNames, 1, bound) < 0) return nullptr;
  return arena_empty_buffer(object, bound[0], bound[1]);
}

// --------------------------------------------------------- properties ----

PyObject* arena_get_name(PyObject* object, void*) {
  const std::string& name = as_arena(object)->fields.name;
  return PyUnicode_DecodeUTF8(name.data(), static_cast<Py_ssize_t>(name.size()), "surrogateescape");
}

PyObject* arena_get_closed(PyObject* object, void*) { return PyBool_FromLong(!as_arena(object)->fields.session); }

PyObject* arena_get_created(PyObject* object, void*) {
  std::shared_ptr<ArenaSession> session = open_session(as_arena(object));
  if (!session) return nullptr;
  return PyBool_FromLong(session->arena().is_creator());
}

PyObject* arena_get_size(PyObject* object, void*) {
  std::shared_ptr<ArenaSession> session = open_session(as_arena(object));
  if (!session) return nullptr;
  return PyLong_FromUnsignedLongLong(session->arena().size());  // fixed at creation: no lock needed
}

PyObject* arena_get_used(PyObject* object, void*) {
  ArenaObject* self = as_arena(object);
  std::shared_ptr<ArenaSession> session = open_session(self);
  if (!session) return nullptr;
  std::uint64_t used = 0;
  try {
    used = without_gil([&] { return session->arena().stats().used_bytes; });
  } catch (...) {
    return raise_python_error(state_of(self));
  }
  return PyLong_FromUnsignedLongLong(used);
}

PyObject* arena_repr(PyObject* object) {
  ArenaObject* self = as_arena(object);
  if (!self->fields.session) return PyUnicode_FromFormat("<shoal.Arena '%s' closed>", self->fields.name.c_str());
  const std::string size = shoal::format_size(self->fields.session->arena().size());
  return PyUnicode_FromFormat("<shoal.Arena '%s' %s>", self->fields.name.c_str(), size.c_str());
}

// ------------------------------------------------------------- tables ----

template <class Fn>
PyCFunction as_cfunction(Fn fn) {
  // The usual C-API idiom; going through void(*)() keeps -Wcast-function-type quiet.
  return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fn));
}

PyMethodDef arena_methods[] = {
    {"attach", as_cfunction(arena_attach), METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "attach(name, *, other_user=False)\n--\n\nAttach to the existing arena NAME (created by another Arena, "
     "another\nprocess or shoal-broker). Only a regular file owned by you is attached: a FIFO,\n"
     "a symbolic link or other content raises NotAnArena, another user's file\n"
     "ArenaPermissionError naming its owner. other_user=True lets root attach\n"
     "another user's arena. Raises ArenaNotFound if there is none."},
    {"stats", arena_stats, METH_NOARGS,
     "stats()\n--\n\nA dict of byte and block counts: size, heap, used, free, largest_free,\n"
     "blocks, free_blocks, holders, repairs, reaped_holders, and cached / cached_blocks: small\n"
     "blocks holders keep for reuse, counted neither in used nor in free."},
    {"check", arena_check, METH_NOARGS,
     "check()\n--\n\nA full consistency check of the arena; returns the problems found (empty: sound)."},
    {"reap", arena_reap, METH_NOARGS,
     "reap()\n--\n\nReleases the references of holders whose process has died; returns how many\n"
     "holders were reaped here (the embedded broker also does this every 100 ms)."},
    {"empty", as_cfunction(arena_empty), METH_FASTCALL | METH_KEYWORDS,
     "empty(shape, dtype='float64')\n--\n\nA new writable shoal.Buffer of this arena, uninitialised.\n"
     "dtype: what numpy.dtype() accepts, of numbers or bools: 'float64', 'float16', '<f8',\n"
     "numpy.float32, a numpy.dtype, ... (NumPy is not needed). It becomes read-only once sent."},
    {"close", arena_close, METH_NOARGS,
     "close()\n--\n\nReleases this object's holder and every block it holds. A creating Arena also\n"
     "stops its broker and unlinks the segment, or, while other holders remain, leaves it\n"
     "closing (no new holders; the last to leave unlinks it). Calling it again does nothing."},
    {"__enter__", arena_enter, METH_NOARGS, nullptr},
    {"__exit__", arena_exit, METH_VARARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef arena_getset[] = {
    {"name", arena_get_name, nullptr, "The arena's name (its segment is /dev/shm/shoal.NAME).", nullptr},
    {"closed", arena_get_closed, nullptr, "True after close().", nullptr},
    {"created", arena_get_created, nullptr,
     "True if this process created the segment (it runs the broker and unlinks the segment\n"
     "when done); False if it attached an existing one. With exist_ok=True, tells which happened.",
     nullptr},
    {"size", arena_get_size, nullptr, "The segment's size in bytes, fixed at creation.", nullptr},
    {"used", arena_get_used, nullptr, "Bytes in used blocks, block headers included.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

const char arena_doc[] =
    "Arena(size='1GiB', name=None, *, exist_ok=False)\n--\n\n"
    "A shared-memory arena: the named POSIX segment /dev/shm/shoal.NAME, mode 0600.\n\n"
    "Arena(...) creates it (ArenaExists if the name is taken) and runs an embedded\n"
    "broker thread that reclaims what dead processes held; the segment is unlinked\n"
    "when the creating Arena closes and no other holder is left (until then it is\n"
    "closing: attaching it raises ArenaNotFound). Arena.attach(name) opens an existing\n"
    "one, and stands by to take reaping over should the broker die.\n"
    "size is an int of bytes or a string like '64MiB' (sparse: untouched pages cost\n"
    "nothing; at least 1 MiB); name None generates a unique 'py-PID-N'. A name is 1 to\n"
    "200 characters, without '/' or control characters. Use it as a context manager.\n\n"
    "exist_ok=True with a name: create the arena, or attach it if it exists, in one\n"
    "step that is safe from many processes at once (exactly one creates; .created\n"
    "tells which). An existing arena keeps its own size: size is then only checked.\n"
    "An arena is published whole: attaching never sees one half-made.";

PyType_Slot arena_slots[] = {
    {Py_tp_new, reinterpret_cast<void*>(arena_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(arena_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(arena_traverse)},
    {Py_tp_repr, reinterpret_cast<void*>(arena_repr)},
    {Py_tp_methods, arena_methods},
    {Py_tp_getset, arena_getset},
    {Py_tp_doc, const_cast<char*>(arena_doc)},
    {0, nullptr},
};

// Not subclassable for now (no Py_TPFLAGS_BASETYPE): the methods find the
// module state through Py_TYPE(self), which is only right for our own type.
PyType_Spec arena_spec = {
    .name = "shoal.Arena",
    .basicsize = sizeof(ArenaObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = arena_slots,
};

}  // namespace

PyTypeObject* create_arena_type(PyObject* module) {
  return reinterpret_cast<PyTypeObject*>(PyType_FromModuleAndSpec(module, &arena_spec, nullptr));
}

PyObject* default_arena_object(ModuleState* state) {
  PyObject* current = state->default_arena;
  if (current != nullptr && as_arena(current)->fields.session && as_arena(current)->fields.session->opened_here()) {
    return Py_NewRef(current);
  }
  if (state_for_new_arena(state->arena_type) == nullptr) return nullptr;
  const std::int64_t interpreter_id = current_interpreter_id();
  std::shared_ptr<ArenaSession> session;
  try {
    session = without_gil([&] { return ArenaSession::join(process_default_arena(), interpreter_id); });
  } catch (...) {
    return raise_python_error(state);
  }
  std::string name = session->arena().name();
  PyObject* arena = new_arena_object(state->arena_type, state, std::move(session), std::move(name));
  if (arena == nullptr) return nullptr;
  Py_XSETREF(state->default_arena, Py_NewRef(arena));
  return arena;
}

PyObject* default_arena_function(PyObject* module, PyObject*) {
  return default_arena_object(state_of_module(module));
}

PyObject* use_default_arena_function(PyObject* module, PyObject* name) {
  if (!PyUnicode_Check(name)) {
    PyErr_Format(PyExc_TypeError, "_use_default_arena(name): name must be a str, not %.100s", Py_TYPE(name)->tp_name);
    return nullptr;
  }
  const char* text = PyUnicode_AsUTF8(name);
  if (text == nullptr) return nullptr;
  try {
    const std::string wanted(text);
    without_gil([&] { use_default_arena(wanted); });
  } catch (...) {
    return raise_python_error(state_of_module(module));
  }
  Py_RETURN_NONE;
}

void close_all_arenas(ModuleState* state) {
  if (state->open_arenas == nullptr) return;
  // close_arena removes each from the set before it releases the GIL, so
  // take them one at a time rather than iterating a set that may change.
  while (!state->open_arenas->empty()) close_arena(*state->open_arenas->begin());
}

}  // namespace shoal_py
