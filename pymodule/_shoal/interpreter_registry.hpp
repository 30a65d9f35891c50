// interpreter_registry.hpp — the subinterpreters shoal made, process-wide.
//
// shoal.interpreters names an interpreter by its id (an int that every
// interpreter of the process can hold: ids cross interpreters, Python
// objects do not). This registry maps an id to the PyInterpreterState that
// shoal created, and counts the calls running in it, so that:
//   * a call into an interpreter that was closed fails cleanly instead of
//     following a dangling pointer;
//   * closing an interpreter while a call runs in it is refused
//     (Py_EndInterpreter requires that no other thread is in it).
// No Python objects live here; a std::mutex guards it, because threads of
// different interpreters (different GILs) use it at once.
#pragma once

#include <Python.h>

#include <cstdint>
#include <thread>
#include <vector>

namespace shoal_py {

// Records a new interpreter made by shoal, and `initial`, the thread state
// it was created with (bound to this OS thread), kept as this thread's
// state there: it is the one that ends the interpreter (see
// interpreter_functions.cpp).
void register_interpreter(std::int64_t id, PyInterpreterState* interp, bool isolated, PyThreadState* initial);

// Admits one call into interpreter `id`: its state, or null when `id` is
// not (or no longer) an open interpreter of shoal's. Every admitted call
// must be matched by end_call(id). `kept` receives the thread state this OS
// thread kept in `id` (keep_thread_state), or null.
PyInterpreterState* begin_call(std::int64_t id, PyThreadState** kept);
void end_call(std::int64_t id);

// Keeps `tstate` (of interpreter `id`, bound to this OS thread) for this
// thread's later calls: a fresh thread state per call costs an mmap and a
// munmap of its frame stack, and the munmap a TLB shootdown on every core.
// Kept states are deleted when the interpreter is closed.
void keep_thread_state(std::int64_t id, PyThreadState* tstate);

// Takes `id` out of the registry so that it can be destroyed, if no call
// runs in it. Returns the state (null if unknown), its initial thread state
// and the other thread states kept in it (to delete before ending it); sets
// `busy` when calls are running (then nothing changes).
PyInterpreterState* unregister_for_close(std::int64_t id, bool* busy, PyThreadState** initial,
                                         std::vector<PyThreadState*>* others);

// Whether a call is running in `id` (false for unknown ids).
bool is_running(std::int64_t id);
// Whether `id` was made by shoal and is still open.
bool is_registered(std::int64_t id);
// Whether `id` was created isolated (own GIL); false if unknown.
bool is_isolated(std::int64_t id);
// The ids of every open interpreter made by shoal, in creation order.
std::vector<std::int64_t> registered_ids();

// In a fork() child: CPython has deleted every subinterpreter, and the
// mutex may have been held by a thread that does not exist here. Starts
// over with a new, empty registry (the old one is leaked, not touched).
void forget_all_after_fork();

}  // namespace shoal_py
