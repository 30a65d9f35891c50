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

// A Channel object over `channel`, through `session`. Returns null with an error set.
PyObject* new_channel_object(PyTypeObject* type, std::shared_ptr<ArenaSession> session, shoal::Channel channel);

// The open session of arena `name` in this interpreter, reusing an open
// Arena object's (or joining the process's default arena), else attaching
// anew. Takes the GIL's place while it may wait. Throws the core's errors.
std::shared_ptr<ArenaSession> session_for(ModuleState* state, const std::string& name);


// shoal._shoal.select(*channels, timeout=None) -> (channel, value).
PyObject* select_function(PyObject* module, PyObject* args, PyObject* kwargs);
extern const char kSelectDoc[];

}  // namespace shoal_py
