// channel_type.hpp — the Python type shoal.Channel.
#pragma once

#include <Python.h>

#include <memory>
#include <optional>

#include "arena_session.hpp"
#include "module_state.hpp"
#include "shoal/channel.hpp"

namespace shoal_py {

// The C++ part of a Channel object. `channel` is this interpreter's own
// reference to the channel block, through `session`'s holder.
struct ChannelFields {
  std::shared_ptr<ArenaSession> session;
  std::optional<shoal::Channel> channel;
};

struct ChannelObject {
  PyObject_HEAD
  ChannelFields fields;
};

PyTypeObject* create_channel_type(PyObject* module);

// shoal._shoal._rebuild_channel(arena_name, offset, generation): the
// unpickling side of Channel.__reduce__.
PyObject* rebuild_channel_function(PyObject* module, PyObject* args);

// shoal._shoal.select(*channels, timeout=None) -> (channel, value).
PyObject* select_function(PyObject* module, PyObject* args, PyObject* kwargs);
extern const char kSelectDoc[];

}  // namespace shoal_py
