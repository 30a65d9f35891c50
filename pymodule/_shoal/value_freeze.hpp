// value_freeze.hpp — a Python value into a frozen object in the arena.
#pragma once

#include <Python.h>

#include "arena_session.hpp"
#include "module_state.hpp"
#include "owned.hpp"
#include "shoal/freezer.hpp"
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
// `checksum`, the object is sealed (shoal::Arena::seal_checksum). With
// Indexing::hashed, every dict and set gets a hash index (shoal.freeze()).
//
// A view of a frozen value (shoal.FrozenDict, ...) of this arena is written
// as a FrozenView naming its object (no copy: the receiver gets a view of
// the same block); a view of another arena is pickled by reference (an
// in-flight reference: shoal/_pickling.py), arriving as a view too.
OwnedBlock freeze_value(ModuleState* state, ArenaSession& session, PyObject* value, bool checksum = false,
                        shoal::heap::Freezer::Indexing indexing = shoal::heap::Freezer::Indexing::none);

}  // namespace shoal_py
