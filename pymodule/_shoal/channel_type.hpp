// channel_type.hpp — the Python type shoal.Channel.
//
// The type and its methods are in channel_type.cpp; around it, one concept
// a file: channel_items (values into slots and back), channel_wait
// (waiting in slices without the GIL), channel_select (shoal.select),
// channel_pickling, channel_after_fork (reopening in a fork() child) and
// session_lookup (a session on an arena named by a pickle).
#pragma once

#include <Python.h>

#include <memory>
#include <optional>

#include "arena_session.hpp"
#include "module_state.hpp"
#include "owned.hpp"
#include "shoal/channel.hpp"

namespace shoal_py {

// The C++ part of a Channel object. `channel` is this interpreter's own
// reference to the channel block, through `session`'s holder (declared
// after it: it goes first). An end (channel_ends.hpp) has a role, and its
// reference to the end block in `end` until close() drops it.
struct ChannelFields {
  std::shared_ptr<ArenaSession> session;
  Owned<shoal::Channel> channel;
  std::optional<shoal::layout::EndRole> role;
  OwnedBlock end;
};

struct ChannelObject {
  PyObject_HEAD
  ChannelFields fields;
};

PyTypeObject* create_channel_type(PyObject* module);

// A Channel object over `channel`, through `session`; an end of it if
// `role` is given, `end` being the reference to the end block. Returns
// null with an error set.
PyObject* new_channel_object(PyTypeObject* type, std::shared_ptr<ArenaSession> session, Owned<shoal::Channel> channel,
                             std::optional<shoal::layout::EndRole> role = std::nullopt, OwnedBlock end = {});

inline ChannelObject* as_channel(PyObject* object) { return reinterpret_cast<ChannelObject*>(object); }
// The core channel of a Channel object (made usable here first: channel_after_fork.hpp).
inline shoal::Channel& channel_core(PyObject* object) { return *as_channel(object)->fields.channel; }

}  // namespace shoal_py
