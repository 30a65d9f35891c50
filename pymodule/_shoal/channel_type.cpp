// channel_type.cpp — shoal.Channel: a bounded queue of values between
// interpreters and processes.
//
// Entry points: channel_new (Channel(capacity, arena=None): None is the
// process-wide default arena), send/recv and their try_ forms, close,
// poison, iteration. What a value becomes in a slot is channel_items.hpp;
// how a call waits (in slices without the GIL, Ctrl-C, timeouts, the end
// of the process) is channel_wait.hpp; shoal.select, pickling and
// reopening after fork() have files of their own (channel_type.hpp).
#include "channel_type.hpp"

#include <chrono>
#include <new>
#include <optional>
#include <utility>

#include "arena_type.hpp"
#include "call_site.hpp"
#include "channel_after_fork.hpp"
#include "channel_async.hpp"
#include "channel_ends.hpp"
#include "channel_items.hpp"
#include "channel_pickling.hpp"
#include "channel_wait.hpp"
#include "errors.hpp"
#include "fast_args.hpp"
#include "gil.hpp"
#include "inline_value.hpp"
#include "shoal/errors.hpp"
#include "value_freeze.hpp"

namespace shoal_py {
namespace {

using std::chrono::nanoseconds;

constexpr std::uint32_t kDefaultCapacity = 64;

ModuleState* state_of(PyObject* object) { return state_of_type(Py_TYPE(object)); }

// ------------------------------------------------------- construction ----

}  // namespace

PyObject* new_channel_object(PyTypeObject* type, std::shared_ptr<ArenaSession> session, Owned<shoal::Channel> channel,
                             std::optional<shoal::layout::EndRole> role, OwnedBlock end) {
  PyObject* object = type->tp_alloc(type, 0);
  if (object == nullptr) return nullptr;
  new (&as_channel(object)->fields) ChannelFields{std::move(session), std::move(channel), role, std::move(end)};
  return object;
}

namespace {

PyObject* channel_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  static const char* keywords[] = {"capacity", "arena", "checksum", "name", nullptr};
  unsigned long long capacity = kDefaultCapacity;
  PyObject* arena = Py_None;
  int checksum = 0;
  PyObject* name_arg = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|KO$pO:Channel", const_cast<char**>(keywords), &capacity,
                                   &arena, &checksum, &name_arg)) {
    return nullptr;
  }
  ModuleState* state = state_of_type(type);
  std::string_view name;
  if (name_arg != Py_None) {
    Py_ssize_t length = 0;
    const char* utf8 = PyUnicode_Check(name_arg) ? PyUnicode_AsUTF8AndSize(name_arg, &length) : nullptr;
    if (utf8 == nullptr) {
      if (!PyErr_Occurred()) {
        PyErr_Format(PyExc_TypeError, "name must be a str or None, not %.100s", Py_TYPE(name_arg)->tp_name);
      }
      return nullptr;
    }
    if (static_cast<std::size_t>(length) > shoal::layout::kMaxChannelName) {
      PyErr_Format(PyExc_ValueError, "a channel name is at most %u bytes of UTF-8, got %zd",
                   shoal::layout::kMaxChannelName, length);
      return nullptr;
    }
    name = {utf8, static_cast<std::size_t>(length)};
  }
  if (arena != Py_None && !PyObject_TypeCheck(arena, state->arena_type)) {
    PyErr_Format(PyExc_TypeError, "arena must be a shoal.Arena, not %.100s", Py_TYPE(arena)->tp_name);
    return nullptr;
  }
  if (capacity < 1 || capacity > (1u << 20)) {
    PyErr_Format(PyExc_ValueError, "capacity must be between 1 and 1048576, got %llu", capacity);
    return nullptr;
  }
  std::shared_ptr<ArenaSession> session;
  if (arena == Py_None) {
    PyObject* fallback = default_arena_object(state);
    if (fallback == nullptr) return nullptr;
    session = reinterpret_cast<ArenaObject*>(fallback)->fields.session;
    Py_DECREF(fallback);
  } else {
    session = reinterpret_cast<ArenaObject*>(arena)->fields.session;
  }
  if (!session) {
    PyErr_SetString(PyExc_ValueError, "arena is closed");
    return nullptr;
  }
  try {
    const std::uint32_t site = calling_site(state, *session);
    Owned<shoal::Channel> channel{without_gil([&] {
      return shoal::Channel::create(session->holder(), static_cast<std::uint32_t>(capacity),
                                    checksum ? shoal::layout::kChannelChecksum : 0u, name, site);
    })};
    return new_channel_object(type, std::move(session), std::move(channel));
  } catch (...) {
    return raise_python_error(state);
  }
}

int channel_traverse(PyObject* object, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(object));  // see arena_traverse
  return 0;
}

void channel_dealloc(PyObject* object) {
  PyTypeObject* type = Py_TYPE(object);
  PyObject_GC_UnTrack(object);
  // Our reference on the channel block, then perhaps the session: both go
  // without the GIL (owned.hpp).
  as_channel(object)->fields.~ChannelFields();
  type->tp_free(object);
  Py_DECREF(type);
}

// ------------------------------------------------------------ methods ----

shoal::Channel& core(PyObject* self) { return channel_core(self); }

PyObject* channel_send(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  if (ensure_usable_here(self) < 0 || check_end_use(self, EndUse::send) < 0) return nullptr;
  static constexpr const char* kNames[] = {"obj", "timeout"};
  PyObject* bound[2];
  if (bind_arguments("send", args, nargs, kwnames, kNames, 1, bound) < 0) return nullptr;
  PyObject* value = bound[0];
  PyObject* timeout_arg = bound[1] != nullptr ? bound[1] : Py_None;
  Timeout timeout;
  if (parse_timeout(timeout_arg, &timeout) < 0) return nullptr;
  shoal::Channel::InlineValue small;
  if (inline_value_of(value, &small)) {
    const int sent = wait_in_slices(state_of(self), timeout, "Channel.send",
                                    [&](nanoseconds slice) { core(self).send_inline(small, slice); });
    if (sent < 0) return nullptr;
    Py_RETURN_NONE;
  }
  // The Buffer (the caller's argument) holds the blob while we wait; the
  // slot takes a reference of its own and the blob is frozen with it.
  if (const std::optional<shoal::Handle> blob = array_blob_of(self, value)) {
    const int sent = wait_in_slices(state_of(self), timeout, "Channel.send",
                                    [&](nanoseconds slice) { core(self).send(*blob, slice); });
    if (sent < 0) return nullptr;
    Py_RETURN_NONE;
  }
  if (PyErr_Occurred()) return nullptr;
  OwnedBlock object = freeze_value(state_of(self), *as_channel(self)->fields.session, value, core(self).checksummed());
  if (!object) return nullptr;
  // Our reference to the new object moves into the channel slot: one lock
  // round trip, no refcount change. If the send fails it is still ours,
  // released as `object` goes.
  const int sent = wait_in_slices(state_of(self), timeout, "Channel.send",
                                  [&](nanoseconds slice) { core(self).send(std::move(*object), slice); });
  if (sent < 0) return nullptr;
  Py_RETURN_NONE;
}

PyObject* channel_try_send(PyObject* self, PyObject* value) {
  if (ensure_usable_here(self) < 0 || check_end_use(self, EndUse::send) < 0) return nullptr;
  bool sent = false;
  shoal::Channel::InlineValue small;
  if (inline_value_of(value, &small)) {
    try {
      sent = without_gil([&] { return core(self).try_send_inline(small); });
    } catch (...) {
      return raise_python_error(state_of(self));
    }
  } else if (const std::optional<shoal::Handle> blob = array_blob_of(self, value)) {
    try {
      sent = without_gil([&] { return core(self).try_send(*blob); });
    } catch (...) {
      return raise_python_error(state_of(self));
    }
  } else if (PyErr_Occurred()) {
    return nullptr;
  } else {
    OwnedBlock object = freeze_value(state_of(self), *as_channel(self)->fields.session, value, core(self).checksummed());
    if (!object) return nullptr;
    try {
      sent = without_gil([&] { return core(self).try_send(std::move(*object)); });
    } catch (...) {
      return raise_python_error(state_of(self));
    }
  }
  if (!sent) {
    PyErr_SetString(state_of(self)->full, "the channel is full");
    return nullptr;
  }
  Py_RETURN_NONE;
}

// Receives one item, waiting up to `timeout`. Returns -1 with an error set
// (ChannelClosed once closed and drained).
int receive_item(PyObject* self, Timeout timeout, shoal::Channel::Item* item) {
  return wait_in_slices(state_of(self), timeout, "Channel.recv",
                        [&](nanoseconds slice) { *item = core(self).receive(slice); });
}

PyObject* channel_recv(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  if (ensure_usable_here(self) < 0 || check_end_use(self, EndUse::receive) < 0) return nullptr;
  static constexpr const char* kNames[] = {"timeout"};
  PyObject* bound[1];
  if (bind_arguments("recv", args, nargs, kwnames, kNames, 0, bound) < 0) return nullptr;
  PyObject* timeout_arg = bound[0] != nullptr ? bound[0] : Py_None;
  Timeout timeout;
  if (parse_timeout(timeout_arg, &timeout) < 0) return nullptr;
  shoal::Channel::Item item;
  if (receive_item(self, timeout, &item) < 0) return nullptr;
  return value_of(self, std::move(item));
}

PyObject* channel_try_recv(PyObject* self, PyObject*) {
  if (ensure_usable_here(self) < 0 || check_end_use(self, EndUse::receive) < 0) return nullptr;
  std::optional<shoal::Channel::Item> item;
  try {
    item = without_gil([&] { return core(self).try_receive(); });
  } catch (...) {
    return raise_python_error(state_of(self));
  }
  if (!item) {
    PyErr_SetString(state_of(self)->empty, "the channel is empty");
    return nullptr;
  }
  return value_of(self, std::move(*item));
}

PyObject* channel_close(PyObject* self, PyObject*) {
  if (is_end(self)) {  // this end only: the channel closes once its last end of the role goes
    close_end(self);
    Py_RETURN_NONE;
  }
  if (ensure_usable_here(self) < 0) return nullptr;
  try {
    without_gil([&] { core(self).close(); });
  } catch (...) {
    return raise_python_error(state_of(self));
  }
  Py_RETURN_NONE;
}

PyObject* channel_poison(PyObject* self, PyObject*) {
  if (ensure_usable_here(self) < 0) return nullptr;
  try {
    without_gil([&] { core(self).poison(); });
  } catch (...) {
    return raise_python_error(state_of(self));
  }
  Py_RETURN_NONE;
}

// Iteration receives until the channel is closed and drained; a poisoned
// channel raises ChannelPoisoned (an abrupt end is not a normal one).
PyObject* channel_iternext(PyObject* self) {
  if (ensure_usable_here(self) < 0 || check_end_use(self, EndUse::receive) < 0) return nullptr;
  shoal::Channel::Item item;
  if (receive_item(self, std::nullopt, &item) < 0) {
    if (PyErr_ExceptionMatches(state_of(self)->channel_closed) &&
        !PyErr_ExceptionMatches(state_of(self)->channel_poisoned)) {
      PyErr_Clear();  // the end, not an error
    }
    return nullptr;
  }
  return value_of(self, std::move(item));
}

Py_ssize_t channel_length(PyObject* self) {
  if (ensure_usable_here(self) < 0) return -1;
  try {
    return static_cast<Py_ssize_t>(without_gil([&] { return core(self).size(); }));
  } catch (...) {
    raise_python_error(state_of(self));
    return -1;
  }
}

PyObject* channel_get_closed(PyObject* self, void*) {
  if (ensure_usable_here(self) < 0) return nullptr;
  try {
    return PyBool_FromLong(without_gil([&] { return core(self).closed(); }));
  } catch (...) {
    return raise_python_error(state_of(self));
  }
}

PyObject* channel_get_poisoned(PyObject* self, void*) {
  if (ensure_usable_here(self) < 0) return nullptr;
  try {
    return PyBool_FromLong(without_gil([&] { return core(self).poisoned(); }));
  } catch (...) {
    return raise_python_error(state_of(self));
  }
}

PyObject* channel_get_capacity(PyObject* self, void*) { return PyLong_FromUnsignedLong(core(self).capacity()); }

PyObject* channel_get_checksum(PyObject* self, void*) { return PyBool_FromLong(core(self).checksummed()); }

PyObject* channel_get_name(PyObject* self, void*) {
  const std::string& name = core(self).name();
  if (name.empty()) Py_RETURN_NONE;
  return PyUnicode_DecodeUTF8(name.data(), static_cast<Py_ssize_t>(name.size()), "strict");
}

PyObject* channel_repr(PyObject* self) {
  const ChannelFields& fields = as_channel(self)->fields;
  const std::string& name = core(self).name();
  const std::string& arena = fields.session->arena().name();
  std::string what = "shoal.Channel";
  if (fields.role) {
    what += fields.role == shoal::layout::EndRole::sender ? " sender end" : " receiver end";
    if (!fields.end) what += " (closed)";
  }
  if (name.empty()) {
    return PyUnicode_FromFormat("<%s arena='%s' capacity=%u>", what.c_str(), arena.c_str(), core(self).capacity());
  }
  return PyUnicode_FromFormat("<%s '%s' arena='%s' capacity=%u>", what.c_str(), name.c_str(), arena.c_str(),
                              core(self).capacity());
}

// ------------------------------------------------------------- tables ----

template <class Fn>
PyCFunction as_cfunction(Fn fn) {
  return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fn));
}

PyMethodDef channel_methods[] = {
    {"send", as_cfunction(channel_send), METH_FASTCALL | METH_KEYWORDS,
     "send(obj, timeout=None)\n--\n\nSends obj, waiting while the channel is full. TimeoutError after\n"
     "`timeout` seconds; ChannelClosed if closed; TypeError naming what cannot be sent."},
    {"recv", as_cfunction(channel_recv), METH_FASTCALL | METH_KEYWORDS,
     "recv(timeout=None)\n--\n\nThe oldest value, waiting while the channel is empty. TimeoutError after\n"
     "`timeout` seconds; ChannelClosed once closed and drained."},
    {"try_send", channel_try_send, METH_O, "try_send(obj)\n--\n\nAs send(), but raises shoal.Full at once if full."},
    {"try_recv", channel_try_recv, METH_NOARGS,
     "try_recv()\n--\n\nAs recv(), but raises shoal.Empty at once if empty."},
    {"close", channel_close, METH_NOARGS,
     "close()\n--\n\nCloses the channel for everyone: sends fail at once, receives drain what is\n"
     "pending and then raise ChannelClosed. Idempotent. On an end (sender(), receiver()):\n"
     "closes this end only (the channel closes when its last end of the role is gone)."},
    {"sender", channel_sender, METH_NOARGS, kSenderDoc},
    {"receiver", channel_receiver, METH_NOARGS, kReceiverDoc},
    {"clone", channel_clone, METH_NOARGS, kCloneDoc},
    {"__enter__", channel_enter, METH_NOARGS, "with channel: ... closes it (an end: this end) at the end of the block."},
    {"__exit__", as_cfunction(channel_exit), METH_FASTCALL, nullptr},
    {"poison", channel_poison, METH_NOARGS,
     "poison()\n--\n\nCloses the channel at once for everyone: pending values are dropped (their\n"
     "memory freed unless held elsewhere) and every blocked or later send and recv, at either\n"
     "end, in any interpreter or process, raises ChannelPoisoned (a ChannelClosed). Idempotent."},
    // Awaitable forms (channel_async.hpp).
    {"arecv", as_cfunction(channel_arecv), METH_FASTCALL | METH_KEYWORDS, kArecvDoc},
    {"asend", as_cfunction(channel_asend), METH_FASTCALL | METH_KEYWORDS, kAsendDoc},
    {"_activity", channel_activity, METH_NOARGS, "_activity() -> the arena's activity word (read before a try)"},
    {"__reduce_ex__", channel_reduce, METH_O, nullptr},
    {"__copy__", channel_copy, METH_NOARGS, "The channel itself: channels are shared, not copied."},
    {"__deepcopy__", channel_copy, METH_O, "The channel itself: channels are shared, not copied."},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef channel_getset[] = {
    {"closed", channel_get_closed, nullptr, "True once close() or poison() was called (by anyone).", nullptr},
    {"poisoned", channel_get_poisoned, nullptr, "True once poison() was called (by anyone).", nullptr},
    {"capacity", channel_get_capacity, nullptr, "How many values may be pending.", nullptr},
    {"name", channel_get_name, nullptr, "The name it was made with (Channel(name=...)), or None.", nullptr},
    {"role", channel_get_role, nullptr, "'sender' or 'receiver' for an end (sender(), receiver()), else None.", nullptr},
    {"checksum", channel_get_checksum, nullptr,
     "True if values sent through it carry a checksum that every receiver verifies (Channel(checksum=True)).",
     nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

const char channel_doc[] =
    "Channel(capacity=64, arena=None, *, checksum=False, name=None)\n--\n\n"
    "A bounded queue of values in an arena (default_arena() if None), between\n"
    "threads, interpreters and processes. Values are frozen into the arena;\n"
    "shoal.Buffers cross without a copy\n"
    "and arrive read-only. Iterating receives until the channel is closed (a\n"
    "poisoned one raises ChannelPoisoned); so does `async for`, awaiting. Pickles\n"
    "as (arena name, handle), so multiprocessing children can open the same channel.\n\n"
    "name: shown by `shoal channels` (with the line that made the channel) and in every\n"
    "error about the channel; at most 128 bytes of UTF-8.\n\n"
    "checksum=True: every value sent carries a CRC-32 of its bytes (buffers and arrays\n"
    "included) that every receiver verifies, so bytes altered in the arena after the send\n"
    "raise CorruptObject instead of arriving changed. It costs a pass over the value's\n"
    "bytes at each end; None, bools and small ints and floats travel in the slot unsealed.\n\n"
    "A blocked send, recv or select ends when the channel is closed or poisoned (by\n"
    "anyone: another thread, interpreter or process), after its timeout, on Ctrl-C in\n"
    "the main thread, or when the process exits: then it raises shoal.ProcessExiting,\n"
    "a SystemExit, in every thread and Task, so they end and the process can exit.";

PyType_Slot channel_slots[] = {
    {Py_tp_new, reinterpret_cast<void*>(channel_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(channel_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(channel_traverse)},
    {Py_tp_repr, reinterpret_cast<void*>(channel_repr)},
    {Py_tp_iter, reinterpret_cast<void*>(PyObject_SelfIter)},
    {Py_tp_iternext, reinterpret_cast<void*>(channel_iternext)},
    {Py_am_aiter, reinterpret_cast<void*>(PyObject_SelfIter)},
    {Py_am_anext, reinterpret_cast<void*>(channel_anext)},
    {Py_mp_length, reinterpret_cast<void*>(channel_length)},
    {Py_tp_methods, channel_methods},
    {Py_tp_getset, channel_getset},
    {Py_tp_doc, const_cast<char*>(channel_doc)},
    {0, nullptr},
};

PyType_Spec channel_spec = {
    .name = "shoal.Channel",
    .basicsize = sizeof(ChannelObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = channel_slots,
};

}  // namespace

PyTypeObject* create_channel_type(PyObject* module) {
  return reinterpret_cast<PyTypeObject*>(PyType_FromModuleAndSpec(module, &channel_spec, nullptr));
}

}  // namespace shoal_py
