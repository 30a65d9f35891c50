// sizes.cpp — "64MiB" and friends: converting sizes between Python and the core.
#include "sizes.hpp"

#include <string>
#include <string_view>

#include "errors.hpp"
#include "shoal/size.hpp"

namespace shoal_py {

int uint64_from_int(PyObject* object, const char* what, std::uint64_t* out) {
  if (!PyLong_Check(object) || PyBool_Check(object)) {
    PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", what, Py_TYPE(object)->tp_name);
    return -1;
  }
  int overflow = 0;  // -1 below LLONG_MIN, +1 above LLONG_MAX (value is then -1)
  const long long value = PyLong_AsLongLongAndOverflow(object, &overflow);
  if (value == -1 && overflow == 0 && PyErr_Occurred()) return -1;
  if (overflow < 0 || (overflow == 0 && value < 0)) {
    PyErr_Format(PyExc_ValueError, "%s must be >= 0, got %R", what, object);
    return -1;
  }
  if (overflow == 0) {
    *out = static_cast<std::uint64_t>(value);
    return 0;
  }
  // Above LLONG_MAX: it may still fit in 64 unsigned bits.
  const unsigned long long big = PyLong_AsUnsignedLongLong(object);
  if (big == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
    PyErr_Clear();
    PyErr_Format(PyExc_ValueError, "%s does not fit in 64 bits: %R", what, object);
    return -1;
  }
  *out = big;
  return 0;
}

int size_from_object(ModuleState* state, PyObject* object, std::uint64_t* out) {
  if (PyUnicode_Check(object)) {
    Py_ssize_t length = 0;
    const char* text = PyUnicode_AsUTF8AndSize(object, &length);
    if (text == nullptr) return -1;
    try {
      *out = shoal::parse_size(std::string_view(text, static_cast<std::size_t>(length)));
      return 0;
    } catch (...) {
      raise_python_error(state);
      return -1;
    }
  }
  if (PyLong_Check(object) && !PyBool_Check(object)) return uint64_from_int(object, "size", out);
  PyErr_Format(PyExc_TypeError, "size must be an int of bytes or a str like '64MiB', not %.100s",
               Py_TYPE(object)->tp_name);
  return -1;
}

PyObject* parse_size_function(PyObject* module, PyObject* text) {
  if (!PyUnicode_Check(text)) {
    PyErr_Format(PyExc_TypeError, "parse_size() takes a str like '64MiB', not %.100s", Py_TYPE(text)->tp_name);
    return nullptr;
  }
  std::uint64_t bytes = 0;
  if (size_from_object(state_of_module(module), text, &bytes) < 0) return nullptr;
  return PyLong_FromUnsignedLongLong(bytes);
}

PyObject* format_size_function(PyObject*, PyObject* nbytes) {
  std::uint64_t bytes = 0;
  if (uint64_from_int(nbytes, "nbytes", &bytes) < 0) return nullptr;
  const std::string text = shoal::format_size(bytes);
  return PyUnicode_FromStringAndSize(text.data(), static_cast<Py_ssize_t>(text.size()));
}

}  // namespace shoal_py
