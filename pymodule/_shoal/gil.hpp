// gil.hpp — running core calls with the GIL released.
//
// Anything that may wait for the arena lock (held, perhaps, by another
// process) must not hold this interpreter's GIL meanwhile: other threads of
// the interpreter keep running. `without_gil` is Py_BEGIN_ALLOW_THREADS /
// Py_END_ALLOW_THREADS as an RAII guard, so the GIL is taken back even when
// the core throws; the caller then converts the exception with the GIL held.
//
// The function passed in must not touch any Python object. Releasing
// something that owns arena memory is not a call: an Owned (owned.hpp)
// does that, wherever it goes.
//
// The GIL is taken back through take_gil_back (process_exit.hpp): at the
// end of the process a thread other than the exiting one parks there for
// good rather than be ended by CPython inside this noexcept destructor.
#pragma once

#include <Python.h>

#include <utility>

#include "process_exit.hpp"

namespace shoal_py {

// True if this thread holds a GIL: it has a thread state attached (one
// that released its GIL, inside without_gil say, has none).
inline bool holds_gil() {
#if PY_VERSION_HEX >= 0x030D0000
  return PyThreadState_GetUnchecked() != nullptr;
#else
  return _PyThreadState_UncheckedGet() != nullptr;
#endif
}

class GilReleased {
 public:
  GilReleased() : thread_state_(PyEval_SaveThread()) {}
  ~GilReleased() { take_gil_back(thread_state_); }
  GilReleased(const GilReleased&) = delete;
  GilReleased& operator=(const GilReleased&) = delete;

 private:
  PyThreadState* thread_state_;
};

template <class Fn>
decltype(auto) without_gil(Fn&& fn) {
  GilReleased released;
  return std::forward<Fn>(fn)();
}

}  // namespace shoal_py
