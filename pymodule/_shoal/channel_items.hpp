// channel_items.hpp — what travels in a channel slot, seen from Python.
//
// A value is frozen into an object block (value_freeze.cpp), our reference
// to it moves into the core channel's slot, and the receiver thaws what it
// takes (value_thaw.cpp). None, bools, 64-bit ints and floats skip all of
// that: they travel in the slot itself (inline_value.hpp). A shoal.Buffer
// made by empty() (or received that way) is sent as its own blob, which
// describes its array (array_blob_of).
#pragma once

#include <Python.h>

#include <optional>

#include "shoal/channel.hpp"
#include "shoal/handle.hpp"

namespace shoal_py {

// The Python value of an item received through Channel object `channel`:
// inline, an array blob that came as itself, or thawed from its object
// block. The block's reference is shared by any Buffers in the value, and
// dropped here if none keeps it. Null with an error set.
PyObject* value_of(PyObject* channel, shoal::Channel::Item item);

// The blob of `value` if it can be sent through Channel object `channel`
// as itself: a shoal.Buffer (or a NumPy array viewing one whole) that owns
// a blob describing its own array (made by empty(), or received that way),
// in this channel's arena, sealed (buffer_seal.hpp): call it only to
// send. Else nothing, and the value is frozen; nothing with an error set
// if looking at `value` failed, or BufferError if writable views of the
// Buffer are alive (callers check PyErr_Occurred).
std::optional<shoal::Handle> array_blob_of(PyObject* channel, PyObject* value);

}  // namespace shoal_py
