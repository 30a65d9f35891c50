// value_freeze.hpp — a Python value into a frozen object in the arena.
#pragma once

#include <Python.h>

#include "arena_session.hpp"
#include "module_state.hpp"
#include "owned.hpp"
#include "shoal/holder.hpp"

namespace shoal_py {

// Freezes `value` into a new object block of `session`'s arena and returns
// the caller's reference to it. What crosses natively: None, bool, int (any
// size), float, str, bytes, tuple, list, dict, set, frozenset, nested;
// shoal.Buffer (referenced in place, never copied; frozen from then on);
// NumPy arrays and memoryviews of numbers (bool, integers, float32/64,
// complex64/128, either byte order), as C-contiguous arrays, referenced in
// place when their bytes lie in a shoal blob of this arena, else copied
// once. Anything else is pickled (protocol 5) with its out-of-band buffers
// in blobs, zero-copy for shoal memory the same way. What cannot be pickled
// raises TypeError naming where it sits ("value['a'][2]: cannot send
// 'generator'"; "...: it cannot be pickled (reason)", chained) and leaves
// nothing allocated. Returns an empty Owned with a Python error set. With
// `checksum`, the object is sealed (shoal::Arena::seal_checksum).
OwnedBlock freeze_value(ModuleState* state, ArenaSession& session, PyObject* value, bool checksum = false);

}  // namespace shoal_py
