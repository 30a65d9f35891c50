// process_exit.hpp — what shoal does when the process ends while threads
// wait in it.
//
// Two process-wide switches, both turned by shoal's exit hook in the main
// interpreter (shoal/__init__.py, _end_at_exit):
//
//   * "exiting": every shoal call that would have to wait (send, recv,
//     select, in any thread of any interpreter of this process) raises
//     shoal.ProcessExiting instead, and one already waiting does so within
//     a wait slice. So Tasks end and their interpreters can be closed
//     before CPython finalises them, and threads stop waiting. Turned on
//     at interpreter shutdown (atexit), or earlier by a second Ctrl-C while
//     shutdown waits for Tasks (_interp_lifecycle.py).
//
//   * the GIL gate: once closed, no thread but the exiting one takes a GIL
//     back through shoal; a thread that would is parked for good instead
//     (the process is about to end). CPython 3.12/3.13 end a thread that
//     takes a GIL after finalisation began with pthread_exit, a forced
//     unwinding that would run into our noexcept destructors (abort:
//     "terminate called without an active exception") and our catch (...)
//     blocks. The gate is closed after the exiting switch has woken every
//     wait and the Tasks have ended, and closing it waits for the threads
//     already on their way back to a GIL to get there: from then on,
//     no shoal frame takes part in finalisation's thread ending.
//
// What stays: a thread running Python code that shoal called (a __reduce__
// while freezing, pickle.loads while thawing, a function in another
// interpreter) when finalisation begins can still be ended by CPython
// with our frames below it. Short of CPython 3.14's parking, no extension
// can prevent that.
#pragma once

#include <Python.h>

namespace shoal_py {

// True once the process is exiting: blocking calls raise ProcessExiting.
bool process_exiting();
void begin_process_exit();

// PyEval_RestoreThread(tstate), unless the GIL gate is closed (or the
// runtime is finalising) and this is not the thread that ends the process:
// then the thread parks for good and this never returns.
void take_gil_back(PyThreadState* tstate);

// Closes the GIL gate. Called with the GIL held, by the thread that will
// finalise the runtime (it stays free to take GILs); waits, the GIL
// released, for threads already past the gate to get their GIL.
void close_gil_gate();

// The main thread of the main interpreter, the only one that runs signal
// handlers (so the only one whose waits retake the GIL to check for
// Ctrl-C). Noted once by module_exec in the main interpreter.
void note_main_thread(unsigned long ident);
bool handles_signals();

}  // namespace shoal_py
