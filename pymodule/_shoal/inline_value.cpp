// inline_value.cpp — see inline_value.hpp.
#include "inline_value.hpp"

#include <cstdint>
#include <cstring>

namespace shoal_py {

using shoal::layout::InlineTag;

bool inline_value_of(PyObject* value, shoal::Channel::InlineValue* out) {
  if (value == Py_None) {
    *out = {InlineTag::none, 0};
    return true;
  }
  if (PyBool_Check(value)) {  // bool cannot be subclassed
    *out = {InlineTag::boolean, value == Py_True ? 1u : 0u};
    return true;
  }
  if (PyLong_CheckExact(value)) {
    int overflow = 0;
    const long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (overflow != 0) return false;  // a big int is frozen as usual
    std::uint64_t bits = 0;
    std::memcpy(&bits, &number, sizeof bits);
    *out = {InlineTag::int64, bits};
    return true;
  }
  if (PyFloat_CheckExact(value)) {
    const double number = PyFloat_AS_DOUBLE(value);
    std::uint64_t bits = 0;
    std::memcpy(&bits, &number, sizeof bits);  // every bit: -0.0 and NaN payloads too
    *out = {InlineTag::float64, bits};
    return true;
  }
  return false;
}

PyObject* python_value_of(const shoal::Channel::InlineValue& value) {
  switch (value.tag) {
    case InlineTag::none:
      Py_RETURN_NONE;
    case InlineTag::boolean:
      return PyBool_FromLong(value.word != 0);
    case InlineTag::int64: {
      long long number = 0;
      std::memcpy(&number, &value.word, sizeof number);
      return PyLong_FromLongLong(number);
    }
    case InlineTag::float64: {
      double number = 0;
      std::memcpy(&number, &value.word, sizeof number);
      return PyFloat_FromDouble(number);
    }
  }
  // The core checked the tag; a newer writer's tag lands here.
  PyErr_Format(PyExc_ValueError, "a channel item carries an inline value of unknown tag %llu",
               static_cast<unsigned long long>(value.tag));
  return nullptr;
}

}  // namespace shoal_py
