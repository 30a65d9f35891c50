// pickler_choice.hpp — which of pickle's functions to call in this interpreter.
//
// CPython 3.12's C pickler (_pickle) corrupts memory in an isolated
// subinterpreter: after _pickle.dumps, or _pickle.loads with buffers=, an
// object of the subinterpreter's allocator ends up on the main
// interpreter's tuple freelist and the process aborts at exit ("double free
// or corruption", reproduced with nothing but pickle in the subinterpreter).
// There the pure-Python pickler (pickle._dumps / pickle._loads, same
// arguments) is used; it is slower and sound. 3.13 is not affected.
#pragma once

#include <Python.h>

namespace shoal_py {

inline bool avoid_c_pickler() {
#if PY_VERSION_HEX < 0x030D0000
  return PyInterpreterState_Get() != PyInterpreterState_Main();
#else
  return false;
#endif
}

inline const char* pickle_dumps_name() { return avoid_c_pickler() ? "_dumps" : "dumps"; }
inline const char* pickle_loads_name() { return avoid_c_pickler() ? "_loads" : "loads"; }

}  // namespace shoal_py
