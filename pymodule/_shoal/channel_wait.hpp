// channel_wait.hpp — how a channel call waits: in slices, without the GIL.
//
// A wait is cut into 50 ms slices, run with the GIL released. In the main
// thread of the main interpreter (the only one that runs signal handlers)
// the GIL is taken back between slices for PyErr_CheckSignals(), so Ctrl-C
// interrupts a blocked call there; other threads stay without the GIL
// until the wait ends. Every slice also looks at the process-wide
// "exiting" switch (process_exit.hpp): once the process exits, a call that
// would wait raises shoal.ProcessExiting instead. A wait that runs out of
// time raises the built-in TimeoutError.
//
// Used by Channel's send and recv (channel_type.cpp) and by select
// (channel_select.cpp). Templates, so that the attempt (a lambda) is
// called directly: no std::function on the send and receive paths.
#pragma once

#include <Python.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "errors.hpp"
#include "gil.hpp"
#include "module_state.hpp"
#include "process_exit.hpp"
#include "shoal/channel.hpp"
#include "shoal/errors.hpp"

namespace shoal_py {

using Timeout = shoal::Channel::Timeout;

inline constexpr std::chrono::nanoseconds kSlice = std::chrono::milliseconds(50);  // how late Ctrl-C may be noticed

// timeout=None waits for ever; a number is seconds, >= 0. Returns -1 with
// an error set.
int parse_timeout(PyObject* object, Timeout* timeout);

// How a stretch of waiting without the GIL ended.
enum class Waited { done, timed_out, exiting, check_signals };

// Runs attempt(slice) (a core call that waits at most `slice`, throwing
// WaitTimeout when nothing happened) until it succeeds or `timeout` has
// passed; returns after one slice when `check_signals`. Once the process
// exits, the attempt is made once more without waiting. Without the GIL:
// core errors propagate as C++ exceptions.
template <class Attempt>
Waited wait_without_gil(Timeout timeout, std::chrono::steady_clock::time_point start, bool check_signals,
                        Attempt& attempt) {
  for (;;) {
    const bool exiting = process_exiting();
    std::chrono::nanoseconds slice = exiting ? std::chrono::nanoseconds(0) : kSlice;
    if (timeout) {
      const std::chrono::nanoseconds left = *timeout - (std::chrono::steady_clock::now() - start);
      slice = std::max(std::chrono::nanoseconds(0), std::min(slice, left));
    }
    try {
      attempt(slice);
      return Waited::done;
    } catch (const shoal::WaitTimeout&) {
    }
    if (exiting) return Waited::exiting;
    if (timeout && std::chrono::steady_clock::now() - start >= *timeout) return Waited::timed_out;
    if (check_signals) return Waited::check_signals;
  }
}

// Runs attempt(slice) until it succeeds, fails otherwise, `timeout` has
// passed or the process exits (see wait_without_gil). Returns -1 with a
// Python error set. `what` names the call in the error's message.
template <class Attempt>
int wait_in_slices(ModuleState* state, Timeout timeout, const char* what, Attempt attempt) {
  // Read only when there is a timeout to measure: the common calls (no
  // timeout, or a first attempt that succeeds) take no clock reading here.
  const auto start = timeout ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
  const bool check_signals = handles_signals();
  for (;;) {
    Waited waited;
    try {
      waited = without_gil([&] { return wait_without_gil(timeout, start, check_signals, attempt); });
    } catch (...) {
      raise_python_error(state);
      return -1;
    }
    char message[120];
    switch (waited) {
      case Waited::done:
        return 0;
      case Waited::timed_out:
        std::snprintf(message, sizeof message, "%s() timed out after %g s", what,
                      std::chrono::duration<double>(*timeout).count());
        PyErr_SetString(PyExc_TimeoutError, message);
        return -1;
      case Waited::exiting:
        std::snprintf(message, sizeof message, "%s() would wait, and the process is exiting", what);
        PyErr_SetString(state->process_exiting, message);
        return -1;
      case Waited::check_signals:
        if (PyErr_CheckSignals() < 0) return -1;  // Ctrl-C: KeyboardInterrupt
        break;
    }
  }
}

}  // namespace shoal_py
