// fast_args.cpp — see fast_args.hpp.
#include <Python.h>

#include "fast_args.hpp"

namespace shoal_py {

int bind_arguments(const char* function, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames,
                   std::span<const char* const> names, std::size_t required, std::span<PyObject*> out) {
  const auto count = static_cast<Py_ssize_t>(names.size());
  if (out.size() < names.size()) {
    PyErr_Format(PyExc_SystemError, "%s(): %zu parameters bound into %zu slots", function, names.size(), out.size());
    return -1;
  }
  if (nargs > count) {
    PyErr_Format(PyExc_TypeError, "%s() takes at most %zd argument%s (%zd given)", function, count,
                 count == 1 ? "" : "s", nargs);
    return -1;
  }
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<Py_ssize_t>(i) < nargs ? args[i] : nullptr;
  const Py_ssize_t nkw = kwnames != nullptr ? PyTuple_GET_SIZE(kwnames) : 0;
  for (Py_ssize_t k = 0; k < nkw; ++k) {
    PyObject* key = PyTuple_GET_ITEM(kwnames, k);
    std::size_t i = 0;
    while (i < names.size() && PyUnicode_CompareWithASCIIString(key, names[i]) != 0) ++i;
    if (i == names.size()) {
      PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", function, key);
      return -1;
    }
    if (out[i] != nullptr) {
      PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", function, names[i]);
      return -1;
    }
    out[i] = args[nargs + k];
  }
  for (std::size_t i = 0; i < required; ++i) {
    if (out[i] == nullptr) {
      PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s' (pos %zu)", function, names[i], i + 1);
      return -1;
    }
  }
  return 0;
}

}  // namespace shoal_py
