// value_thaw.hpp — a frozen object back into Python values.
#pragma once

#include <Python.h>

#include <memory>

#include "block_owner.hpp"
#include "module_state.hpp"

namespace shoal_py {

// Builds the Python value of the frozen object `object` holds. Arrays
// arrive as read-only shoal.Buffers viewing the arena in place (or
// read-only NumPy arrays over them, when NumPy is already imported in this
// interpreter); pickles are unpickled with each out-of-band buffer given as
// a read-only memoryview of the arena (so a pickled memoryview arrives as
// one, and NumPy arrays inside objects view the arena). Each view shares
// `object`, so the object and its blobs live as long as any of them. Kinds
// not handled yet (raw blobs, channels, arrays of other dtypes or strides)
// raise TypeError. Returns null with a Python error set.
PyObject* thaw_value(ModuleState* state, const std::shared_ptr<BlockOwner>& object);

// The array a blob that describes itself holds (shoal/array_blob.hpp: an
// array made with empty() and sent whole), as thaw_value gives an array:
// a read-only Buffer sharing `blob`, or a NumPy array over it. A malformed
// header raises CorruptObject. Returns null with a Python error set.
PyObject* thaw_array_blob(ModuleState* state, const std::shared_ptr<BlockOwner>& blob);

}  // namespace shoal_py
