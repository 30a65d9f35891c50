// errors.cpp — the exception classes and the C++ -> Python error boundary.
//
// The core never touches Python's error state: it throws shoal::Error
// subclasses carrying an ErrorCode. raise_python_error() is the only place
// that turns them into Python exceptions. Each shoal exception also derives
// from the built-in a Python programmer would reach for first, so
// `except MemoryError` or `except FileNotFoundError` works without knowing
// shoal (Full and Empty are the queue module's, so code written for
// queue.Queue's put_nowait/get_nowait catches them):
//
//   ShoalError(Exception)
//   ├── ArenaFull(ShoalError, MemoryError)
//   ├── ArenaNotFound(ShoalError, FileNotFoundError)
//   ├── ArenaExists(ShoalError, FileExistsError)
//   ├── ArenaPermissionError(ShoalError, PermissionError)
//   ├── NotAnArena(ShoalError, ValueError)     also: another layout version
//   ├── CorruptArena(ShoalError)
//   ├── CorruptObject(ShoalError)
//   ├── ChannelClosed(ShoalError)               .channel: the channel, when select() reports it
//   │   └── ChannelPoisoned(ChannelClosed)     poison(): ended at once, pending items dropped
//   ├── InvalidHandle(ShoalError, ValueError)
//   │   ├── PickleExpired                      a pickled handle's in-flight reference ended
//   │   └── ForeignHandle                      a pickled handle of another arena or host
//   ├── TooManyHolders(ShoalError)
//   ├── ShoalTimeout(ShoalError, TimeoutError)  the arena lock stayed held
//   ├── Full(ShoalError, queue.Full)             Channel.try_send: no free slot
//   └── Empty(ShoalError, queue.Empty)           Channel.try_recv: nothing pending
//
//   ProcessExiting(SystemExit)   a call that would wait while the process exits
//
// ProcessExiting is no ShoalError on purpose: it ends whatever waited
// (process_exit.hpp), so `except Exception` must not keep a Task looping
// on it, and a thread it ends goes quietly, as SystemExit does.
// A channel wait that runs out of time raises the built-in TimeoutError.
// A bad argument (ErrorCode::invalid_argument: a malformed size, a bad
// name) is a plain ValueError: it is the caller's mistake, not the arena's.
#include "errors.hpp"

#include <exception>
#include <new>

#include "shoal/errors.hpp"

namespace shoal_py {
namespace {

struct ExceptionSpec {
  PyObject* ModuleState::*field;
  const char* name;      // qualified as users import it: shoal re-exports it
  PyObject* also_from;   // a built-in base besides ShoalError, or nullptr
  const char* doc;
};

// Creates class `spec.name` deriving from ShoalError (and `also_from`).
int add_exception(PyObject* module, ModuleState* state, const ExceptionSpec& spec) {
  PyObject* bases = spec.also_from != nullptr ? PyTuple_Pack(2, state->shoal_error, spec.also_from)
                                              : PyTuple_Pack(1, state->shoal_error);
  if (bases == nullptr) return -1;
  PyObject* type = PyErr_NewExceptionWithDoc(spec.name, spec.doc, bases, nullptr);
  Py_DECREF(bases);
  if (type == nullptr) return -1;
  state->*spec.field = type;  // the state owns this reference
  return PyModule_AddType(module, reinterpret_cast<PyTypeObject*>(type));
}

PyObject* exception_for(const ModuleState* state, shoal::ErrorCode code) {
  using shoal::ErrorCode;
  switch (code) {
    case ErrorCode::invalid_argument: return PyExc_ValueError;
    case ErrorCode::reference_cycle: return PyExc_ValueError;  // a value that cannot go there, as a recursive one
    case ErrorCode::arena_not_found: return state->arena_not_found;
    case ErrorCode::arena_exists: return state->arena_exists;
    case ErrorCode::permission_denied: return state->arena_permission_error;
    case ErrorCode::not_an_arena: return state->not_an_arena;
    // The core's message names both versions; to a caller it is the same
    // situation as a foreign file: this is not an arena it can read.
    case ErrorCode::layout_mismatch: return state->not_an_arena;
    case ErrorCode::arena_full: return state->arena_full;
    case ErrorCode::invalid_handle: return state->invalid_handle;
    case ErrorCode::too_many_holders: return state->too_many_holders;
    case ErrorCode::lock_timeout: return state->shoal_timeout;
    case ErrorCode::corrupt_arena: return state->corrupt_arena;
    case ErrorCode::corrupt_object: return state->corrupt_object;
    case ErrorCode::channel_closed: return state->channel_closed;
    case ErrorCode::channel_poisoned: return state->channel_poisoned;
    case ErrorCode::wait_timeout: return PyExc_TimeoutError;
    case ErrorCode::system_error: return state->shoal_error;
    case ErrorCode::ticket_expired: return state->pickle_expired;
    case ErrorCode::foreign_handle: return state->foreign_handle;
  }
  return state->shoal_error;  // a code added to the core but not here yet
}

// Creates every class; Full and Empty also derive from `queue_full` and
// `queue_empty`.
int add_exceptions_with(PyObject* module, ModuleState* state, PyObject* queue_full, PyObject* queue_empty) {
  state->shoal_error = PyErr_NewExceptionWithDoc(
      "shoal.ShoalError", "Base class of every error raised by shoal.", PyExc_Exception, nullptr);
  if (state->shoal_error == nullptr) return -1;
  if (PyModule_AddType(module, reinterpret_cast<PyTypeObject*>(state->shoal_error)) < 0) return -1;

  // A local table: the built-in exception objects are not compile-time
  // constants, and a static table would need a global constructor.
  const ExceptionSpec specs[] = {
      {&ModuleState::arena_full, "shoal.ArenaFull", PyExc_MemoryError,
       "The arena has no free block large enough. The arena is left as it was and stays usable."},
      {&ModuleState::arena_not_found, "shoal.ArenaNotFound", PyExc_FileNotFoundError,
       "No arena of that name exists (no /dev/shm/shoal.NAME)."},
      {&ModuleState::arena_exists, "shoal.ArenaExists", PyExc_FileExistsError,
       "An arena of that name already exists."},
      {&ModuleState::arena_permission_error, "shoal.ArenaPermissionError", PyExc_PermissionError,
       "The arena exists but belongs to another user (arenas are mode 0600)."},
      {&ModuleState::not_an_arena, "shoal.NotAnArena", PyExc_ValueError,
       "The segment is not a shoal arena, or one of another layout version; the message says what was found."},
      {&ModuleState::corrupt_arena, "shoal.CorruptArena", nullptr,
       "The arena's structures are damaged beyond repair."},
      {&ModuleState::corrupt_object, "shoal.CorruptObject", nullptr,
       "A frozen object's content in the arena is malformed; nothing was read from it."},
      {&ModuleState::channel_closed, "shoal.ChannelClosed", nullptr,
       "The channel is closed: sends fail at once, receives once it is drained."},
      {&ModuleState::invalid_handle, "shoal.InvalidHandle", PyExc_ValueError,
       "A handle or block id names no live block (out of range, freed, or stale)."},
      {&ModuleState::too_many_holders, "shoal.TooManyHolders", nullptr,
       "Every holder slot of the arena is taken by a live process."},
      {&ModuleState::shoal_timeout, "shoal.ShoalTimeout", PyExc_TimeoutError,
       "The arena lock stayed held by a live process for longer than the lock timeout."},
      {&ModuleState::full, "shoal.Full", queue_full,
       "Channel.try_send(): the channel has no free slot. A queue.Full."},
      {&ModuleState::empty, "shoal.Empty", queue_empty,
       "Channel.try_recv(): the channel has nothing pending. A queue.Empty."},
  };
  for (const ExceptionSpec& spec : specs) {
    if (add_exception(module, state, spec) < 0) return -1;
  }
  // select() sets .channel on the instance it raises; None otherwise.
  if (PyObject_SetAttrString(state->channel_closed, "channel", Py_None) < 0) return -1;
  // A poisoned channel is a closed one: `except ChannelClosed` handles both.
  state->channel_poisoned = PyErr_NewExceptionWithDoc(
      "shoal.ChannelPoisoned",
      "The channel was poisoned: ended at once for everyone, its pending values dropped. Every send and\n"
      "recv raises it, at either end, in any interpreter or process. A ChannelClosed.",
      state->channel_closed, nullptr);
  if (state->channel_poisoned == nullptr) return -1;
  if (PyModule_AddType(module, reinterpret_cast<PyTypeObject*>(state->channel_poisoned)) < 0) return -1;
  // Pickled handles that cannot be used: an InvalidHandle, with the reason in the class.
  state->pickle_expired = PyErr_NewExceptionWithDoc(
      "shoal.PickleExpired",
      "A pickled shoal value's in-flight reference has ended: its lifetime (shoal.pickle_lifetime) ran out, or\n"
      "its sender released it. The arena kept the value alive only that long. An InvalidHandle.",
      state->invalid_handle, nullptr);
  if (state->pickle_expired == nullptr) return -1;
  if (PyModule_AddType(module, reinterpret_cast<PyTypeObject*>(state->pickle_expired)) < 0) return -1;
  state->foreign_handle = PyErr_NewExceptionWithDoc(
      "shoal.ForeignHandle",
      "A pickled shoal value belongs to another arena: one since replaced under the same name, or one on\n"
      "another host. The message names the arena and host it belongs to. An InvalidHandle.",
      state->invalid_handle, nullptr);
  if (state->foreign_handle == nullptr) return -1;
  if (PyModule_AddType(module, reinterpret_cast<PyTypeObject*>(state->foreign_handle)) < 0) return -1;
  state->process_exiting = PyErr_NewExceptionWithDoc(
      "shoal.ProcessExiting",
      "A send, recv or select that would have to wait, called or waiting while the process exits (interpreter\n"
      "shutdown, or a second Ctrl-C while shutdown waits for Tasks). A SystemExit: it ends a thread quietly,\n"
      "a Task's result() raises it, and `except Exception` does not stop it.",
      PyExc_SystemExit, nullptr);
  if (state->process_exiting == nullptr) return -1;
  return PyModule_AddType(module, reinterpret_cast<PyTypeObject*>(state->process_exiting));
}

}  // namespace

int add_exceptions(PyObject* module, ModuleState* state) {
  // queue is pure Python over _queue, which every interpreter can load
  // (isolated ones too); its classes are this interpreter's, as ours are.
  PyObject* queue = PyImport_ImportModule("queue");
  if (queue == nullptr) return -1;
  PyObject* queue_full = PyObject_GetAttrString(queue, "Full");
  PyObject* queue_empty = queue_full != nullptr ? PyObject_GetAttrString(queue, "Empty") : nullptr;
  Py_DECREF(queue);
  const int result = queue_empty != nullptr ? add_exceptions_with(module, state, queue_full, queue_empty) : -1;
  Py_XDECREF(queue_full);
  Py_XDECREF(queue_empty);
  return result;
}

PyObject* raise_python_error(ModuleState* state) {
  // Rethrowing the exception in flight lets one function sort every kind.
  try {
    throw;
  } catch (const shoal::Error& e) {
    PyErr_SetString(exception_for(state, e.code()), e.what());
  } catch (const std::bad_alloc&) {
    PyErr_NoMemory();
  } catch (const std::exception& e) {
    PyErr_SetString(state->shoal_error, e.what());
  } catch (...) {
    PyErr_SetString(state->shoal_error, "unknown C++ exception in shoal's core");
  }
  return nullptr;
}

}  // namespace shoal_py
