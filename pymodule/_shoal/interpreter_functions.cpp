// interpreter_functions.cpp — see interpreter_functions.hpp.
//
// Thread states: creating and destroying an interpreter follow the pattern
// CPython's own interpreter module uses (PyThreadState_Swap, which since
// 3.12 releases the old thread state's GIL and takes the new one's). A call
// instead releases the caller's GIL with PyEval_SaveThread, binds a fresh
// thread state of the target to this OS thread and takes its GIL with
// PyEval_RestoreThread, and undoes both afterwards: the caller's
// interpreter keeps running its other threads meanwhile, and the target
// runs on the caller's thread, truly in parallel with other interpreters
// when it has its own GIL. GILs are taken back through take_gil_back, as
// everywhere in shoal (process_exit.hpp).
#include "interpreter_functions.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "arena_type.hpp"
#include "block_owner.hpp"
#include "buffer_type.hpp"
#include "errors.hpp"
#include "gil.hpp"
#include "interpreter_registry.hpp"
#include "module_state.hpp"
#include "value_freeze.hpp"
#include "value_thaw.hpp"

namespace shoal_py {
namespace {

std::int64_t current_id() { return PyInterpreterState_GetID(PyInterpreterState_Get()); }

// An interpreter id from a Python int; -1 with an error set if it is not one.
bool parse_id(PyObject* object, std::int64_t* id) {
  long long value = PyLong_AsLongLong(object);
  if (value == -1 && PyErr_Occurred()) return false;
  if (value < 0) {
    PyErr_Format(PyExc_ValueError, "interpreter ids are not negative, got %lld", value);
    return false;
  }
  *id = value;
  return true;
}

// This interpreter's session on the process-wide default arena, the arena
// every interpreter of the process shares at the same addresses.
std::shared_ptr<ArenaSession> default_session(ModuleState* state) {
  PyObject* arena = default_arena_object(state);
  if (arena == nullptr) return nullptr;
  std::shared_ptr<ArenaSession> session = reinterpret_cast<ArenaObject*>(arena)->fields.session;
  Py_DECREF(arena);
  return session;
}

// ------------------------------------------------- inside the target ----

// What a call brings back to the caller: the outcome object, held by the
// caller's holder, or the description of a failure that kept the target
// from producing one (shoal could not be imported there, say). Plain C++:
// no Python object crosses between interpreters.
struct CallResult {
  OwnedBlock outcome;
  std::string failure_type;
  std::string failure_message;
  std::string failure_traceback;
};

std::string utf8_of(PyObject* object) {
  if (object == nullptr) return {};
  Py_ssize_t size = 0;
  const char* text = PyUnicode_AsUTF8AndSize(object, &size);
  if (text == nullptr) {
    PyErr_Clear();
    return {};
  }
  return std::string(text, static_cast<std::size_t>(size));
}

// Moves the current Python exception of the target into `result` as text.
void capture_failure(CallResult& result) {
  PyObject* exc = PyErr_GetRaisedException();
  if (exc == nullptr) {
    result.failure_type = "SystemError";
    result.failure_message = "the call into the interpreter failed without an exception";
    return;
  }
  result.failure_type = Py_TYPE(exc)->tp_name;
  PyObject* message = PyObject_Str(exc);
  result.failure_message = utf8_of(message);
  Py_XDECREF(message);
  PyErr_Clear();
  PyObject* traceback = PyImport_ImportModule("traceback");
  PyObject* lines = traceback ? PyObject_CallMethod(traceback, "format_exception", "O", exc) : nullptr;
  PyObject* empty = lines ? PyUnicode_FromString("") : nullptr;
  PyObject* joined = empty ? PyUnicode_Join(empty, lines) : nullptr;
  result.failure_traceback = utf8_of(joined);
  Py_XDECREF(joined);
  Py_XDECREF(empty);
  Py_XDECREF(lines);
  Py_XDECREF(traceback);
  PyErr_Clear();
  Py_DECREF(exc);
}

// The request's value in the target: a new reference of the target's
// holder on the caller's block (the caller holds it for the whole call, so
// the handle is live), thawed. Null with an error set.
PyObject* thaw_request(ModuleState* state, const std::shared_ptr<ArenaSession>& session, shoal::Handle request) {
  std::shared_ptr<BlockOwner> owner;
  try {
    shoal::HeldBlock mine = without_gil([&] { return session->holder().retain(request); });
    owner = std::make_shared<BlockOwner>(session, std::move(mine));
  } catch (...) {
    return raise_python_error(state);
  }
  return thaw_value(state, owner);
}

// runner.execute(request), or runner.failed_outcome(exception) when the
// request could not even be thawed; both return an outcome tuple.
// (A one-argument call: PyObject_CallMethod's "O" would spread a tuple
// request into several arguments.)
PyObject* call_runner(PyObject* runner, const char* function, PyObject* argument) {
  PyObject* name = PyUnicode_FromString(function);
  if (name == nullptr) return nullptr;
  PyObject* result = PyObject_CallMethodOneArg(runner, name, argument);
  Py_DECREF(name);
  return result;
}

PyObject* run_request(PyObject* runner, PyObject* request) {
  if (request != nullptr) return call_runner(runner, "execute", request);
  PyObject* exc = PyErr_GetRaisedException();
  PyObject* outcome = call_runner(runner, "failed_outcome", exc);
  Py_DECREF(exc);
  return outcome;
}

// Freezes `outcome`; if it cannot be sent (an unpicklable result), freezes
// the outcome describing that error instead.
OwnedBlock freeze_outcome(ModuleState* state, ArenaSession& session, PyObject* runner, PyObject* outcome) {
  OwnedBlock block = freeze_value(state, session, outcome);
  if (block) return block;
  PyObject* exc = PyErr_GetRaisedException();
  PyObject* fallback = call_runner(runner, "failed_outcome", exc);
  Py_DECREF(exc);
  if (fallback == nullptr) return block;
  block = freeze_value(state, session, fallback);
  Py_DECREF(fallback);
  return block;
}

// Everything the call does while this thread is in the target interpreter.
void run_inside_target(shoal::Holder& caller_holder, shoal::Handle request, CallResult& result) {
  PyObject* module = PyImport_ImportModule("shoal._shoal");
  PyObject* runner = module ? PyImport_ImportModule("shoal._interp_runner") : nullptr;
  if (runner == nullptr) {
    Py_XDECREF(module);
    capture_failure(result);
    return;
  }
  ModuleState* state = state_of_module(module);
  std::shared_ptr<ArenaSession> session = default_session(state);
  PyObject* outcome = nullptr;
  if (session) {
    PyObject* request_value = thaw_request(state, session, request);
    outcome = run_request(runner, request_value);
    Py_XDECREF(request_value);
  }
  OwnedBlock mine;
  if (outcome != nullptr) mine = freeze_outcome(state, *session, runner, outcome);
  Py_XDECREF(outcome);
  if (mine) {
    // Hand the reference over: the caller's holder takes its own before
    // ours goes, so the outcome is owned by someone at every instant.
    try {
      without_gil([&] {
        result.outcome.emplace(caller_holder.retain(mine->handle()));
        mine.reset();
      });
    } catch (...) {
      raise_python_error(state);
    }
  }
  if (!result.outcome) capture_failure(result);
  mine.reset();  // if the hand-over failed: still ours, released without the GIL
  Py_DECREF(runner);
  Py_DECREF(module);
}

// Runs `request` in `target` (interpreter `id`) on this OS thread, in the
// thread state `kept` there if any; with `keep`, a new one is kept for the
// next call. Called with the caller's GIL held; returns with it held again.
void call_in(std::int64_t id, PyInterpreterState* target, PyThreadState* kept, bool keep,
             shoal::Holder& caller_holder, shoal::Handle request, CallResult& result) {
  PyThreadState* caller = PyEval_SaveThread();
  PyThreadState* inside = kept != nullptr ? kept : PyThreadState_New(target);
  if (inside == nullptr) {
    take_gil_back(caller);
    result.failure_type = "MemoryError";
    result.failure_message = "no memory for a thread state in the target interpreter";
    return;
  }
  take_gil_back(inside);
  run_inside_target(caller_holder, request, result);
  if (kept != nullptr || keep) {
    PyEval_SaveThread();  // the target's GIL released; the state stays for next time
    if (kept == nullptr) keep_thread_state(id, inside);
  } else {
    PyThreadState_Clear(inside);
    PyThreadState_DeleteCurrent();
  }
  take_gil_back(caller);
}

PyObject* failure_tuple(const CallResult& result) {
  return Py_BuildValue("(O(s#s#s#))", Py_False, result.failure_type.data(),
                       static_cast<Py_ssize_t>(result.failure_type.size()), result.failure_message.data(),
                       static_cast<Py_ssize_t>(result.failure_message.size()), result.failure_traceback.data(),
                       static_cast<Py_ssize_t>(result.failure_traceback.size()));
}

}  // namespace

// ------------------------------------------------------------ create ----

PyObject* interp_create_function(PyObject*, PyObject* isolated_arg) {
  int isolated = PyObject_IsTrue(isolated_arg);
  if (isolated < 0) return nullptr;
  PyInterpreterConfig config = {};
  if (isolated) {
    // Its own GIL and allocator: runs in parallel with every other
    // interpreter; only extensions with multi-phase init import there.
    config.use_main_obmalloc = 0;
    config.allow_fork = 0;
    config.allow_exec = 0;
    config.allow_threads = 1;
    config.allow_daemon_threads = 0;
    config.check_multi_interp_extensions = 1;
    config.gil = PyInterpreterConfig_OWN_GIL;
  } else {
    // A legacy interpreter: shares the main GIL and allocator, and so can
    // import single-phase extensions such as NumPy.
    config.use_main_obmalloc = 1;
    config.allow_fork = 1;
    config.allow_exec = 1;
    config.allow_threads = 1;
    config.allow_daemon_threads = 1;
    config.check_multi_interp_extensions = 0;
    config.gil = PyInterpreterConfig_SHARED_GIL;
  }
  PyThreadState* caller = PyThreadState_Get();
  PyThreadState* fresh = nullptr;
  PyStatus status = Py_NewInterpreterFromConfig(&fresh, &config);
  if (PyStatus_Exception(status) || fresh == nullptr) {
    PyThreadState_Swap(caller);
    PyErr_Format(PyExc_RuntimeError, "could not create a subinterpreter: %s",
                 status.err_msg ? status.err_msg : "unknown error");
    return nullptr;
  }
  PyInterpreterState* interp = PyThreadState_GetInterpreter(fresh);
  const std::int64_t id = PyInterpreterState_GetID(interp);
  // The creating thread state is kept, as this thread's state there and as
  // the one that will end the interpreter, the way CPython 3.12's own
  // interpreter module does it. Deleting it instead breaks 3.12: it is the
  // interpreter's preallocated initial thread state, which 3.12 does not
  // reset when freed (the next PyThreadState_New aborts, "thread state
  // already initialized"), and whichever thread state first imports
  // threading there must still exist when the interpreter ends.
  PyThreadState_Swap(caller);
  register_interpreter(id, interp, isolated != 0, fresh);
  return PyLong_FromLongLong(id);
}

// -------------------------------------------------------------- call ----

PyObject* interp_call_function(PyObject* module, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 2 && nargs != 3) {
    PyErr_SetString(PyExc_TypeError, "_interp_call(id, request, keep_thread_state=False) takes 2 or 3 arguments");
    return nullptr;
  }
  std::int64_t id = 0;
  if (!parse_id(args[0], &id)) return nullptr;
  const int keep = nargs == 3 ? PyObject_IsTrue(args[2]) : 0;
  if (keep < 0) return nullptr;
  if (id == current_id()) {
    PyErr_Format(PyExc_RuntimeError, "interpreter %lld cannot call into itself", static_cast<long long>(id));
    return nullptr;
  }
  ModuleState* state = state_of_module(module);
  std::shared_ptr<ArenaSession> session = default_session(state);
  if (!session) return nullptr;
  OwnedBlock request = freeze_value(state, *session, args[1]);
  if (!request) return nullptr;

  PyThreadState* kept = nullptr;
  PyInterpreterState* target = begin_call(id, &kept);
  if (target == nullptr) {
    // Not an exception: a LookupError raised by a user's __reduce__ while
    // freezing must not be mistaken for this.
    return Py_BuildValue("(OO)", Py_None, Py_None);
  }
  CallResult result;
  call_in(id, target, kept, keep != 0, session->holder(), request->handle(), result);
  end_call(id);
  request.reset();

  if (!result.outcome) return failure_tuple(result);
  auto owner = std::make_shared<BlockOwner>(session, result.outcome.take());
  PyObject* outcome = thaw_value(state, owner);
  owner.reset();
  if (outcome == nullptr) return nullptr;
  return Py_BuildValue("(ON)", Py_True, outcome);
}

// ----------------------------------------------------------- destroy ----

PyObject* interp_destroy_function(PyObject*, PyObject* id_arg) {
  std::int64_t id = 0;
  if (!parse_id(id_arg, &id)) return nullptr;
  if (id == current_id()) return PyUnicode_FromString("current");
  bool busy = false;
  PyThreadState* initial = nullptr;
  std::vector<PyThreadState*> others;
  PyInterpreterState* interp = unregister_for_close(id, &busy, &initial, &others);
  if (busy) return PyUnicode_FromString("running");
  if (interp == nullptr) return PyUnicode_FromString("unknown");
  // Finalising runs the target's atexit hooks and module teardown (shoal's
  // closes its arenas, releasing every block that interpreter held). It
  // runs in the initial thread state (see interp_create_function), and
  // Py_EndInterpreter insists on being the last: the states kept for other
  // callers go first (no call runs, so none is in use).
  PyThreadState* caller = PyThreadState_Get();
  PyThreadState_Swap(initial);
  for (PyThreadState* tstate : others) {
    PyThreadState_Clear(tstate);
    PyThreadState_Delete(tstate);
  }
  Py_EndInterpreter(initial);
  PyThreadState_Swap(caller);
  return PyUnicode_FromString("closed");
}

// ----------------------------------------------------------- queries ----

PyObject* interp_is_running_function(PyObject*, PyObject* id_arg) {
  std::int64_t id = 0;
  if (!parse_id(id_arg, &id)) return nullptr;
  return PyBool_FromLong(is_running(id));
}

PyObject* interp_is_isolated_function(PyObject*, PyObject* id_arg) {
  std::int64_t id = 0;
  if (!parse_id(id_arg, &id)) return nullptr;
  return PyBool_FromLong(is_isolated(id));
}

PyObject* interp_list_function(PyObject*, PyObject*) {
  std::vector<std::int64_t> ids = registered_ids();
  PyObject* list = PyList_New(static_cast<Py_ssize_t>(ids.size()));
  if (list == nullptr) return nullptr;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    PyObject* item = PyLong_FromLongLong(ids[i]);
    if (item == nullptr) {
      Py_DECREF(list);
      return nullptr;
    }
    PyList_SET_ITEM(list, static_cast<Py_ssize_t>(i), item);
  }
  return list;
}

PyObject* interp_current_function(PyObject*, PyObject*) { return PyLong_FromLongLong(current_id()); }

PyObject* interp_forget_all_function(PyObject*, PyObject*) {
  forget_all_after_fork();
  Py_RETURN_NONE;
}

PyObject* interp_main_function(PyObject*, PyObject*) {
  return PyLong_FromLongLong(PyInterpreterState_GetID(PyInterpreterState_Main()));
}

}  // namespace shoal_py
