// channel_select.cpp — shoal.select(*channels, timeout=None).
//
// shoal::Channel::select in the slices of channel_wait.hpp: each slice
// starts its round at a random channel (fairness), and a channel that has
// ended is raised as ChannelClosed / ChannelPoisoned with `.channel` set
// to the Channel object given.
#include "channel_select.hpp"

#include <chrono>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "channel_after_fork.hpp"
#include "channel_ends.hpp"
#include "channel_items.hpp"
#include "channel_type.hpp"
#include "channel_wait.hpp"

namespace shoal_py {

const char kSelectDoc[] =
    "select(*channels, timeout=None)\n--\n\n"
    "Receives from whichever channel has a value first; returns (channel, value).\n"
    "Fair: each round starts at a random channel, so a busy one cannot starve the\n"
    "others. A channel found closed and drained, or poisoned, is reported, not\n"
    "skipped: ChannelClosed or ChannelPoisoned with .channel set to it. TimeoutError\n"
    "after `timeout` seconds. Every channel must be of the same arena (ValueError\n"
    "otherwise); the wait sleeps on that arena's activity word, without polling.";

PyObject* select_function(PyObject* module, PyObject* args, PyObject* kwargs) {
  ModuleState* state = state_of_module(module);
  PyObject* timeout_arg = Py_None;
  if (kwargs != nullptr) {
    static const char* keywords[] = {"timeout", nullptr};
    PyObject* no_args = PyTuple_New(0);
    if (no_args == nullptr) return nullptr;
    const int ok =
        PyArg_ParseTupleAndKeywords(no_args, kwargs, "|O:select", const_cast<char**>(keywords), &timeout_arg);
    Py_DECREF(no_args);
    if (!ok) return nullptr;
  }
  const Py_ssize_t count = PyTuple_GET_SIZE(args);
  if (count == 0) {
    PyErr_SetString(PyExc_ValueError, "select() needs at least one channel");
    return nullptr;
  }
  for (Py_ssize_t i = 0; i < count; ++i) {
    PyObject* item = PyTuple_GET_ITEM(args, i);
    if (!PyObject_TypeCheck(item, state->channel_type)) {
      PyErr_Format(PyExc_TypeError, "select() takes shoal.Channel objects, got %.100s at position %zd",
                   Py_TYPE(item)->tp_name, i);
      return nullptr;
    }
    if (ensure_usable_here(item) < 0 || check_end_use(item, EndUse::receive) < 0) return nullptr;
  }
  Timeout timeout;
  if (parse_timeout(timeout_arg, &timeout) < 0) return nullptr;
  // `args` keeps every Channel object alive while the GIL is released.
  std::vector<shoal::Channel*> channels;
  channels.reserve(static_cast<std::size_t>(count));
  for (Py_ssize_t i = 0; i < count; ++i) channels.push_back(&channel_core(PyTuple_GET_ITEM(args, i)));
  std::optional<shoal::Channel::Selected> selected;
  std::size_t ended = std::numeric_limits<std::size_t>::max();
  const int done = wait_in_slices(state, timeout, "select", [&](std::chrono::nanoseconds slice) {
    selected.emplace(shoal::Channel::select(channels, slice, std::nullopt, &ended));
  });
  if (done < 0) {
    if (ended < channels.size() && PyErr_ExceptionMatches(state->channel_closed)) {
      // Name the channel that ended: the Channel object the caller passed.
      PyObject* error = PyErr_GetRaisedException();
      const int set = PyObject_SetAttrString(error, "channel", PyTuple_GET_ITEM(args, static_cast<Py_ssize_t>(ended)));
      if (set < 0) {
        Py_DECREF(error);
        return nullptr;
      }
      PyErr_SetRaisedException(error);
    }
    return nullptr;
  }
  PyObject* channel = PyTuple_GET_ITEM(args, static_cast<Py_ssize_t>(selected->index));
  PyObject* value = value_of(channel, std::move(selected->item));
  if (value == nullptr) return nullptr;
  return Py_BuildValue("(ON)", channel, value);
}

}  // namespace shoal_py
