// channel_ends.cpp — see channel_ends.hpp.
#include "channel_ends.hpp"

#include <string>
#include <utility>

#include "channel_after_fork.hpp"
#include "errors.hpp"
#include "gil.hpp"
#include "shoal/errors.hpp"

namespace shoal_py {

using shoal::layout::EndRole;

namespace {

ModuleState* state_of(PyObject* object) { return state_of_type(Py_TYPE(object)); }

const char* role_name(EndRole role) { return role == EndRole::sender ? "sender" : "receiver"; }

// A new Channel object on `self`'s channel, holding `end` of `role`.
PyObject* end_object(PyObject* self, EndRole role, Owned<shoal::Channel> channel, OwnedBlock end) {
  const ChannelFields& fields = as_channel(self)->fields;
  return new_channel_object(Py_TYPE(self), fields.session, std::move(channel), role, std::move(end));
}

PyObject* make_end(PyObject* self, EndRole role) {
  if (ensure_usable_here(self) < 0) return nullptr;
  ChannelFields& fields = as_channel(self)->fields;
  if (fields.role) {
    PyErr_Format(PyExc_TypeError, "this is a %s end: make more with clone(); sender() and receiver() are the channel's",
                 role_name(*fields.role));
    return nullptr;
  }
  // Read with the GIL: another thread may close or replace the fields meanwhile.
  const std::shared_ptr<ArenaSession> session = fields.session;
  const shoal::Handle handle = fields.channel->handle();
  try {
    auto [channel, end] = without_gil([&] {
      shoal::Channel ours = shoal::Channel::open(session->holder(), handle);
      shoal::HeldBlock made = ours.make_end(role);
      return std::pair{Owned<shoal::Channel>{std::move(ours)}, OwnedBlock{std::move(made)}};
    });
    return end_object(self, role, std::move(channel), std::move(end));
  } catch (...) {
    return raise_python_error(state_of(self));
  }
}

std::string describe(PyObject* self) { return as_channel(self)->fields.channel->describe(); }

}  // namespace

bool is_end(PyObject* self) { return as_channel(self)->fields.role.has_value(); }

int check_end_use(PyObject* self, EndUse use) {
  const ChannelFields& fields = as_channel(self)->fields;
  if (!fields.role) return 0;
  const bool sender = *fields.role == EndRole::sender;
  if (sender != (use == EndUse::send)) {
    PyErr_Format(PyExc_TypeError, "this is a %s end of %s: it cannot %s", role_name(*fields.role), describe(self).c_str(),
                 sender ? "receive" : "send");
    return -1;
  }
  if (!fields.end) {
    PyErr_Format(state_of(self)->channel_closed, "this %s end of %s is closed", role_name(*fields.role),
                 describe(self).c_str());
    return -1;
  }
  return 0;
}

int reference_handle(PyObject* self, shoal::Handle* handle) {
  const ChannelFields& fields = as_channel(self)->fields;
  if (!fields.role) {
    *handle = fields.channel->handle();
    return 0;
  }
  if (!fields.end) {
    PyErr_Format(PyExc_ValueError, "this %s end of %s is closed: it cannot be handed on", role_name(*fields.role),
                 describe(self).c_str());
    return -1;
  }
  *handle = fields.end->handle();
  return 0;
}

PyObject* open_channel_reference(ModuleState* state, std::shared_ptr<ArenaSession> session, shoal::Handle handle) {
  try {
    // The caller holds `handle` (a redeemed ticket, an object's child), so
    // its kind is fixed.
    if (session->arena().block_kind(handle) == shoal::layout::BlockKind::channel_end) {
      shoal::Channel::End end = without_gil([&] { return shoal::Channel::open_end(session->holder(), handle); });
      return new_channel_object(state->channel_type, std::move(session), Owned<shoal::Channel>{std::move(end.channel)},
                                end.role, OwnedBlock{std::move(end.end)});
    }
    Owned<shoal::Channel> channel{without_gil([&] { return shoal::Channel::open(session->holder(), handle); })};
    return new_channel_object(state->channel_type, std::move(session), std::move(channel));
  } catch (...) {
    return raise_python_error(state);
  }
}

PyObject* channel_sender(PyObject* self, PyObject*) { return make_end(self, EndRole::sender); }
PyObject* channel_receiver(PyObject* self, PyObject*) { return make_end(self, EndRole::receiver); }

PyObject* channel_clone(PyObject* self, PyObject*) {
  if (ensure_usable_here(self) < 0) return nullptr;
  ChannelFields& fields = as_channel(self)->fields;
  if (!fields.role) {
    PyErr_SetString(PyExc_TypeError, "clone() is a method of channel ends (Channel.sender(), Channel.receiver())");
    return nullptr;
  }
  if (check_end_use(self, *fields.role == EndRole::sender ? EndUse::send : EndUse::receive) < 0) return nullptr;
  // Read with the GIL: close() on another thread may empty `end` meanwhile.
  const std::shared_ptr<ArenaSession> session = fields.session;
  const shoal::Handle handle = fields.channel->handle();
  const shoal::Handle end_handle = fields.end->handle();
  try {
    auto [channel, end] = without_gil([&] {
      shoal::Channel ours = shoal::Channel::open(session->holder(), handle);
      shoal::HeldBlock again = session->holder().retain(end_handle);
      return std::pair{Owned<shoal::Channel>{std::move(ours)}, OwnedBlock{std::move(again)}};
    });
    return end_object(self, *fields.role, std::move(channel), std::move(end));
  } catch (...) {
    return raise_python_error(state_of(self));
  }
}

void close_end(PyObject* self) { as_channel(self)->fields.end.reset(); }

PyObject* channel_enter(PyObject* self, PyObject*) { return Py_NewRef(self); }

PyObject* channel_exit(PyObject* self, PyObject* const*, Py_ssize_t) {
  PyObject* done = PyObject_CallMethod(self, "close", nullptr);
  if (done == nullptr) return nullptr;
  Py_DECREF(done);
  Py_RETURN_FALSE;
}

PyObject* channel_get_role(PyObject* self, void*) {
  const ChannelFields& fields = as_channel(self)->fields;
  if (!fields.role) Py_RETURN_NONE;
  return PyUnicode_FromString(role_name(*fields.role));
}

const char kSenderDoc[] =
    "sender($self)\n--\n\n"
    "A new sender end of this channel: a Channel that only sends, whose close() closes\n"
    "this end, not the channel. When the last sender end is gone (every copy closed,\n"
    "clone() and pickles included, or the process that had one dead), the channel closes:\n"
    "receivers get what is pending, then ChannelClosed saying so, at once rather than\n"
    "after their timeout.";
const char kReceiverDoc[] =
    "receiver($self)\n--\n\n"
    "A new receiver end of this channel: a Channel that only receives. When the last\n"
    "receiver end is gone, the channel closes and blocked and later senders get\n"
    "ChannelClosed saying so.";
const char kCloneDoc[] =
    "clone($self)\n--\n\n"
    "Another object on the same end, to close independently: the end lives until every\n"
    "copy is closed (as Trio's clone()).";

}  // namespace shoal_py
