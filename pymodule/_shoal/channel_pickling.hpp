// channel_pickling.hpp — how a Channel object is pickled and copied.
//
// A channel is shared by nature: copy.copy and copy.deepcopy give the
// channel itself, and pickling is by reference (shoal/_pickling.py,
// pickled_handles.hpp): an in-flight reference the arena holds until the
// receiver opens the channel, so multiprocessing children can open it.
#pragma once

#include <Python.h>

namespace shoal_py {

// Channel.__reduce_ex__(protocol).
PyObject* channel_reduce(PyObject* self, PyObject* protocol);
// Channel.__copy__() and __deepcopy__(memo): the channel itself.
PyObject* channel_copy(PyObject* self, PyObject* unused);

}  // namespace shoal_py
