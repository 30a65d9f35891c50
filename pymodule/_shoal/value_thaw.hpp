// value_thaw.hpp — a frozen object back into Python values.
#pragma once

#include <Python.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "block_owner.hpp"
#include "module_state.hpp"
#include "shoal/frozen.hpp"

namespace shoal_py {

struct FrozenRoot;

// Builds the Python value of the frozen object `object` holds. Arrays
// arrive as read-only shoal.Buffers viewing the arena in place (or
// read-only NumPy arrays over them, when NumPy is already imported in this
// interpreter); pickles are unpickled with each out-of-band buffer given as
// a read-only memoryview of the arena (so a pickled memoryview arrives as
// one, and NumPy arrays inside objects view the arena). Each view shares
// `object`, so the object and its blobs live as long as any of them. Kinds
// not handled yet (raw blobs, channels, arrays of other dtypes or strides)
// raise TypeError. Returns null with a Python error set.
// A value of another frozen object inside it (a view that was sent)
// arrives as a view of that object, in place (frozen_view_type.hpp).
PyObject* thaw_value(ModuleState* state, const std::shared_ptr<BlockOwner>& object);

// Object `object` opened for views, through `session`'s holder (a
// reference of its own). Returns null with a Python error set.
std::shared_ptr<FrozenRoot> open_frozen_root(ModuleState* state, const std::shared_ptr<ArenaSession>& session,
                                             shoal::Handle object);

// The plain Python value of `value`, a part of `root`'s object: containers
// copied out, views inside it thawed too (view.thaw()). Its work is
// bounded by the object's size, whatever its pointers do.
PyObject* thaw_plain(ModuleState* state, const std::shared_ptr<FrozenRoot>& root,
                     const shoal::heap::ValueReader& value);

// `value`, the part of `root`'s object at path `parent` + `step`, as a view
// hands it out: a container as a view of it (sharing `root`), anything else
// as thaw_value gives it. (The path is built only for a container: a
// lookup returning an int allocates nothing but the int.)
PyObject* thaw_element(ModuleState* state, const std::shared_ptr<FrozenRoot>& root,
                       const shoal::heap::ValueReader& value, const std::vector<std::uint32_t>& parent,
                       std::uint32_t step);

// The array a blob that describes itself holds (shoal/array_blob.hpp: an
// array made with empty() and sent whole), as thaw_value gives an array:
// a read-only Buffer sharing `blob`, or a NumPy array over it. A malformed
// header raises CorruptObject. Returns null with a Python error set.
PyObject* thaw_array_blob(ModuleState* state, const std::shared_ptr<BlockOwner>& blob);

}  // namespace shoal_py
