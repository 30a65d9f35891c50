// frozen_lookup.hpp — finding a Python key in a frozen dict or set.
//
// The index stores each key's stable hash (shoal/frozen_hash.hpp); a
// lookup computes the same hash from the Python object it is given, probes
// the index, and compares the few stored keys whose hash matches with the
// key, as a dict does: equal values are found whatever their type (1, 1.0
// and True; a str and the text stored). A key with no stable hash (an
// object that was pickled, a Decimal) is compared with every stored key
// that could equal it, by ==: correct, and a scan.
#pragma once

#include <Python.h>

#include <memory>

#include "frozen_root.hpp"
#include "module_state.hpp"
#include "shoal/frozen.hpp"

namespace shoal_py {

// The entry of `key` among a dict's keys: its index, -1 if absent, or -2
// with a Python error set (an unhashable key raises TypeError, as a dict
// does; a corrupt object CorruptObject).
Py_ssize_t find_in_dict(ModuleState* state, const std::shared_ptr<FrozenRoot>& root,
                        const shoal::heap::DictReader& dict, PyObject* key);

// The same among a set's items.
Py_ssize_t find_in_set(ModuleState* state, const std::shared_ptr<FrozenRoot>& root,
                       const shoal::heap::SequenceReader& items, PyObject* key);

}  // namespace shoal_py
