// channel_ends.hpp — a Channel object that is one end of its channel.
//
// Channel.sender() and Channel.receiver() give a Channel object that
// carries an end (shoal/channel.hpp, "Ends"): it sends only, or receives
// only, and close() closes this end, not the channel. clone() gives
// another object on the same end; pickling one, or sending it in a value,
// hands over a reference to the same end. The channel closes for everyone
// when the last reference to its last sender end goes (every copy closed or
// collected, or the process that had one dead and reaped), and the same for
// receivers, so nobody waits on a peer that is gone.
#pragma once

#include <Python.h>

#include <memory>

#include "arena_session.hpp"
#include "channel_type.hpp"
#include "module_state.hpp"
#include "shoal/handle.hpp"

namespace shoal_py {

enum class EndUse { send, receive };

// 0 if `channel` may be used for `use`: a plain Channel, or an open end of
// that role. -1 with TypeError (an end of the other role) or ChannelClosed
// (this end was closed) set.
int check_end_use(PyObject* channel, EndUse use);

// The block a reference to `channel` names, for pickling it or sending it
// in a value: the end's for an end, the channel's otherwise. -1 with
// ValueError set for a closed end.
int reference_handle(PyObject* channel, shoal::Handle* handle);

// A Channel object for `handle`, a channel or a channel end (of any other
// holder), opened through `session`'s holder. Null with an error set.
PyObject* open_channel_reference(ModuleState* state, std::shared_ptr<ArenaSession> session, shoal::Handle handle);

// The methods and properties (channel_type.cpp's tables).
PyObject* channel_sender(PyObject* self, PyObject* unused);
PyObject* channel_receiver(PyObject* self, PyObject* unused);
PyObject* channel_clone(PyObject* self, PyObject* unused);
PyObject* channel_enter(PyObject* self, PyObject* unused);
PyObject* channel_exit(PyObject* self, PyObject* const* args, Py_ssize_t nargs);
PyObject* channel_get_role(PyObject* self, void* unused);
// close() of an end: drops this object's reference to it. Idempotent.
void close_end(PyObject* self);
bool is_end(PyObject* self);

extern const char kSenderDoc[];
extern const char kReceiverDoc[];
extern const char kCloneDoc[];

}  // namespace shoal_py
