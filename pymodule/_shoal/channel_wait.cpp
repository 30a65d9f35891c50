// channel_wait.cpp — see channel_wait.hpp.
#include "channel_wait.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace shoal_py {

int parse_timeout(PyObject* object, Timeout* timeout) {
  if (object == nullptr || object == Py_None) {
    *timeout = std::nullopt;
    return 0;
  }
  const double seconds = PyFloat_AsDouble(object);
  if (seconds == -1.0 && PyErr_Occurred()) return -1;
  if (std::isnan(seconds) || seconds < 0) {
    PyErr_Format(PyExc_ValueError, "timeout must be None or a number of seconds >= 0, got %R", object);
    return -1;
  }
  const double capped = std::min(seconds, 1e9);  // ~31 years: for ever, without overflow
  *timeout = std::chrono::nanoseconds(static_cast<std::int64_t>(capped * 1e9));
  return 0;
}

}  // namespace shoal_py
