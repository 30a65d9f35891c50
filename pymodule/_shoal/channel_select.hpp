// channel_select.hpp — shoal.select: receive from whichever channel has a
// value first.
#pragma once

#include <Python.h>

namespace shoal_py {

// shoal._shoal.select(*channels, timeout=None) -> (channel, value).
PyObject* select_function(PyObject* module, PyObject* args, PyObject* kwargs);
extern const char kSelectDoc[];

}  // namespace shoal_py
