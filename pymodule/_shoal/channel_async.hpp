// channel_async.hpp — what the async methods of shoal.Channel need from C++.
//
// The coroutines themselves are Python (shoal/_channel_async.py: asyncio's
// add_reader and futures read best there); Channel's arecv, asend,
// __aiter__ and __anext__ are trampolines to them, since the type is
// immutable. What must be C++:
//   * Channel._activity(): the arena's activity word, read before a try
//     (shoal::Channel::activity);
//   * shoal._shoal._Wakeup: what one coroutine waits with, an fd its loop
//     watches: an io_uring futex wait on the activity word (ring_wakeup.hpp)
//     where the kernel serves those, else an eventfd and its registration
//     with the arena's waker thread (async_waker.hpp), owned together, so a
//     coroutine that is cancelled or collected never leaves the waker
//     writing to a closed descriptor. Either wakes the coroutine only when
//     one of its channels may be ready (shoal::Channel::Probe).
#pragma once

#include <Python.h>

namespace shoal_py {

PyObject* channel_activity(PyObject* self, PyObject*);
PyObject* channel_arecv(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames);
PyObject* channel_asend(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames);
PyObject* channel_anext(PyObject* self);

extern const char kArecvDoc[];
extern const char kAsendDoc[];

PyTypeObject* create_wakeup_type(PyObject* module);

}  // namespace shoal_py
