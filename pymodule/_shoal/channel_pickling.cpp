// channel_pickling.cpp — see channel_pickling.hpp.
#include "channel_pickling.hpp"

namespace shoal_py {

// Pickling lives in Python (shoal/_pickling.py).
PyObject* channel_reduce(PyObject* self, PyObject* protocol) {
  PyObject* module = PyImport_ImportModule("shoal._pickling");
  if (module == nullptr) return nullptr;
  PyObject* result = PyObject_CallMethod(module, "reduce_channel", "OO", self, protocol);
  Py_DECREF(module);
  return result;
}

PyObject* channel_copy(PyObject* self, PyObject*) { return Py_NewRef(self); }

}  // namespace shoal_py
