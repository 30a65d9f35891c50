// inline_value.hpp — the Python values a channel slot carries itself.
//
// None, True/False, an int that fits in 64 bits and a float travel inline
// (shoal::Channel::InlineValue, layout.hpp InlineTag): no block is frozen,
// allocated or released for them, so a small-value send and receive cost
// one arena lock round trip each. Only the exact built-in types qualify: a
// subclass (an IntEnum, a bool-like class) is frozen as usual and arrives
// as itself.
#pragma once

#include <Python.h>

#include "shoal/channel.hpp"

namespace shoal_py {

// True, with `*out` set, when `value` travels inline. Never raises.
bool inline_value_of(PyObject* value, shoal::Channel::InlineValue* out);

// The Python value of an inline item (a new reference), or nullptr with a
// Python error set.
PyObject* python_value_of(const shoal::Channel::InlineValue& value);

}  // namespace shoal_py
