// frozen_view_type.hpp — read-only views of a frozen value, read in place:
// the C types under shoal.FrozenDict, FrozenList, FrozenTuple and FrozenSet.
//
// shoal.freeze(value) writes a value once into the arena, with a hash index
// in every dict and set (schemas/value.capnp), and returns a view of it.
// A view reads the Cap'n Proto message where it lies: `len` and indexing
// read a list's length and one element, a key lookup probes the index and
// compares one stored key, and only what is read becomes a Python object
// (leaves as new objects, nested containers as views sharing the object,
// arrays as zero-copy buffers). Sent through a channel, handed to another
// interpreter or process, or pickled on the same host, a view arrives as a
// view of the same block (value_freeze.cpp writes a FrozenView; pickling
// takes an in-flight reference), so receiving costs the same whatever the
// size.
//
// The C types are base classes: shoal/_frozen.py subclasses each with the
// matching collections.abc class (Mapping, Sequence, Set) and hands the
// subclasses back through _shoal._set_frozen_classes, so that a view made
// here is an instance of what users import. Until then (an interpreter
// that imported shoal._shoal alone) the bare C types are used.
#pragma once

#include <Python.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "frozen_root.hpp"
#include "module_state.hpp"
#include "shoal/frozen.hpp"

namespace shoal_py {

// The C++ part of a view (placement new, destroyed in the dealloc).
struct FrozenViewFields {
  std::shared_ptr<FrozenRoot> root;
  std::vector<std::uint32_t> path;  // from the object's root (a FrozenView's path)
  shoal::heap::ValueKind kind;      // dict, list, tuple, set or frozenset
  // The reader of this container, into root->object (one of the two).
  std::optional<shoal::heap::DictReader> dict;
  std::optional<shoal::heap::SequenceReader> items;
  Py_hash_t hash = -1;  // a FrozenTuple's or FrozenSet's, once computed
};

struct FrozenViewObject {
  PyObject_HEAD
  FrozenViewFields fields;
};

// Creates the view types and the iterator type into `state`; adds the
// view types to `module` (as _FrozenDict, _FrozenList, _FrozenTuple,
// _FrozenSet). Returns -1 with an error set.
int add_frozen_view_types(PyObject* module, ModuleState* state);

// A view of the container `value` (a part of `root`'s object at `path`).
// Returns null with an error set.
PyObject* new_frozen_view(ModuleState* state, const std::shared_ptr<FrozenRoot>& root,
                          std::vector<std::uint32_t> path, const shoal::heap::ValueReader& value);

// The fields of `object` if it is a view, else null (no error set).
FrozenViewFields* frozen_view_fields(ModuleState* state, PyObject* object);

// shoal.freeze(value, *, arena=None).
PyObject* freeze_function(PyObject* module, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames);

// _shoal._set_frozen_classes(dict_cls, list_cls, tuple_cls, set_cls).
PyObject* set_frozen_classes_function(PyObject* module, PyObject* const* args, Py_ssize_t nargs);

// A view of the value at `path` in object `block` (held), of `session`'s
// arena: how a pickled view arrives (_redeem_frozen, pickled_handles.cpp).
// Returns null with an error set.
PyObject* frozen_view_of_block(ModuleState* state, const std::shared_ptr<ArenaSession>& session,
                               shoal::HeldBlock block, const std::vector<std::uint32_t>& path);

}  // namespace shoal_py
