// channel_type.cpp — shoal.Channel: a bounded queue of values between
// interpreters and processes.
//
// Entry points: channel_new (Channel(capacity, arena=None): None is the
// process-wide default arena), send/recv and their try_ forms, close,
// poison, iteration, shoal.select (select_function), and pickling (by
// reference: shoal/_pickling.py, pickled_handles.hpp). A Channel inherited through fork() reopens itself through the
// child's own holder on first use (ensure_usable_here).
//
// A value is frozen into an object block (value_freeze.cpp), our reference
// to it moves into the core channel's slot, and the receiver thaws what it
// takes (value_thaw.cpp). None, bools, 64-bit ints and floats skip all of
// that: they travel in the slot itself (inline_value.hpp).
//
// Blocking: a wait is cut into 50 ms slices, run with the GIL released.
// In the main thread of the main interpreter (the only one that runs signal
// handlers) the GIL is taken back between slices for PyErr_CheckSignals(),
// so Ctrl-C interrupts a blocked call there; other threads stay without the
// GIL until the wait ends. Every slice also looks at the process-wide
// "exiting" switch (process_exit.hpp): once the process exits, a call that
// would wait raises shoal.ProcessExiting instead. A wait that runs out of
// time raises the built-in TimeoutError.
//
// select(*channels, timeout=None) is shoal::Channel::select in the same
// slices: each slice starts its round at a random channel (fairness), and
// a channel that has ended is raised as ChannelClosed / ChannelPoisoned
// with `.channel` set to the Channel object given.
#include "channel_type.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "arena_type.hpp"
#include "block_owner.hpp"
#include "buffer_type.hpp"
#include "default_arena.hpp"
#include "errors.hpp"
#include "fast_args.hpp"
#include "gil.hpp"
#include "inline_value.hpp"
#include "numpy_arrays.hpp"
#include "process_exit.hpp"
#include "shoal/array_blob.hpp"
#include "shoal/errors.hpp"
#include "value_freeze.hpp"
#include "value_thaw.hpp"

namespace shoal_py {
namespace {

using std::chrono::nanoseconds;
using Timeout = shoal::Channel::Timeout;

constexpr nanoseconds kSlice = std::chrono::milliseconds(50);  // how late Ctrl-C may be noticed
constexpr std::uint32_t kDefaultCapacity = 64;

ChannelObject* as_channel(PyObject* object) { return reinterpret_cast<ChannelObject*>(object); }
ModuleState* state_of(PyObject* object) { return state_of_type(Py_TYPE(object)); }

// A Channel inherited through fork() holds the parent's reference, through
// the parent's holder, which the child cannot use. Reopen the same channel
// through a session of this process before its first use here. Returns -1
// with an error set.
int ensure_usable_here(PyObject* self) {
  ChannelFields& fields = as_channel(self)->fields;
  if (fields.session->opened_here()) return 0;
  const std::string name = fields.session->arena().name();
  const shoal::Handle handle = fields.channel->handle();
  try {
    std::shared_ptr<ArenaSession> session = session_for(state_of(self), name);
    shoal::Channel reopened =
        without_gil([&] { return shoal::Channel::open(session->holder(), handle); });
    // The parent's objects do nothing in a fork child (holder.hpp): dropping them is safe.
    fields.channel.emplace(std::move(reopened));
    fields.session = std::move(session);
    return 0;
  } catch (...) {
    raise_python_error(state_of(self));
    return -1;
  }
}

// timeout=None waits for ever; a number is seconds, >= 0. Returns -1 with
// an error set.
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
  *timeout = nanoseconds(static_cast<std::int64_t>(capped * 1e9));
  return 0;
}

// How a stretch of waiting without the GIL ended.
enum class Waited { done, timed_out, exiting, check_signals };

// Runs attempt(slice) (a core call that waits at most `slice`, throwing
// WaitTimeout when nothing happened) until it succeeds or `timeout` has
// passed; returns after one slice when `check_signals`. Once the process
// exits, the attempt is made once more without waiting. Without the GIL:
// core errors propagate as C++ exceptions.
template <class Attempt>
Waited wait_without_gil(Timeout timeout, std::chrono::steady_clock::time_point start, bool check_signals,
                        Attempt& attempt) {
  for (;;) {
    const bool exiting = process_exiting();
    nanoseconds slice = exiting ? nanoseconds(0) : kSlice;
    if (timeout) {
      const nanoseconds left = *timeout - (std::chrono::steady_clock::now() - start);
      slice = std::max(nanoseconds(0), std::min(slice, left));
    }
    try {
      attempt(slice);
      return Waited::done;
    } catch (const shoal::WaitTimeout&) {
    }
    if (exiting) return Waited::exiting;
    if (timeout && std::chrono::steady_clock::now() - start >= *timeout) return Waited::timed_out;
    if (check_signals) return Waited::check_signals;
  }
}

// Runs attempt(slice) until it succeeds, fails otherwise, `timeout` has
// passed or the process exits (see wait_without_gil). Returns -1 with a
// Python error set. `what` names the call in the error's message.
template <class Attempt>
int wait_in_slices(ModuleState* state, Timeout timeout, const char* what, Attempt attempt) {
  // Read only when there is a timeout to measure: the common calls (no
  // timeout, or a first attempt that succeeds) take no clock reading here.
  const auto start = timeout ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
  const bool check_signals = handles_signals();
  for (;;) {
    Waited waited;
    try {
      waited = without_gil([&] { return wait_without_gil(timeout, start, check_signals, attempt); });
    } catch (...) {
      raise_python_error(state);
      return -1;
    }
    char message[120];
    switch (waited) {
      case Waited::done:
        return 0;
      case Waited::timed_out:
        std::snprintf(message, sizeof message, "%s() timed out after %g s", what,
                      std::chrono::duration<double>(*timeout).count());
        PyErr_SetString(PyExc_TimeoutError, message);
        return -1;
      case Waited::exiting:
        std::snprintf(message, sizeof message, "%s() would wait, and the process is exiting", what);
        PyErr_SetString(state->process_exiting, message);
        return -1;
      case Waited::check_signals:
        if (PyErr_CheckSignals() < 0) return -1;  // Ctrl-C: KeyboardInterrupt
        break;
    }
  }
}

// Drops our reference on a block without the GIL.
void release(shoal::HeldBlock& block) {
  without_gil([&] { block.reset(); });
}

// The Python value of a received block: an array blob that came as itself
// (array_blob_of), or a frozen object. The block's reference is shared by
// any Buffers in the value, and dropped here if none keeps it.
PyObject* thaw(PyObject* self, shoal::HeldBlock block) {
  const bool array = shoal::heap::is_array_blob(block);
  auto owner = std::make_shared<BlockOwner>(as_channel(self)->fields.session, std::move(block));
  PyObject* value = array ? thaw_array_blob(state_of(self), owner) : thaw_value(state_of(self), owner);
  release_owner_without_gil(owner);
  return value;
}

// The Python value of a received item: inline, an array blob that came as
// itself, or thawed from its object block.
PyObject* value_of(PyObject* self, shoal::Channel::Item item) {
  if (item.is_inline()) return python_value_of(item.value);
  return thaw(self, std::move(item.block));
}

// The blob of `value` if it can be sent as itself: a shoal.Buffer (or a
// NumPy array viewing one whole) that owns a blob describing its own array
// (made by empty(), or received that way), in this channel's arena. Else
// nothing, and the value is frozen.
std::optional<shoal::Handle> array_blob_of(PyObject* self, PyObject* value) {
  // A checksummed channel sends objects only: a blob has nowhere to keep one.
  if (as_channel(self)->fields.channel->checksummed()) return std::nullopt;
  const BufferFields* buffer = buffer_fields(state_of(self), value);
  if (buffer == nullptr) buffer = buffer_viewed_whole(state_of(self), value);  // may set an error: callers check
  if (buffer == nullptr) return std::nullopt;
  const BlockOwner& owner = *buffer->owner;
  if (owner.block.handle() != buffer->blob || !shoal::heap::is_array_blob(owner.block)) return std::nullopt;
  const ArenaSession& ours = *as_channel(self)->fields.session;
  if (owner.session.get() != &ours && owner.session->arena().name() != ours.arena().name()) return std::nullopt;
  return buffer->blob;
}

// ------------------------------------------------------- construction ----

}  // namespace

PyObject* new_channel_object(PyTypeObject* type, std::shared_ptr<ArenaSession> session, shoal::Channel channel) {
  PyObject* object = type->tp_alloc(type, 0);
  if (object == nullptr) {
    without_gil([&] {
      { shoal::Channel dropped = std::move(channel); }
      session.reset();
    });
    return nullptr;
  }
  new (&as_channel(object)->fields) ChannelFields{std::move(session), std::move(channel)};
  return object;
}

namespace {

PyObject* channel_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  static const char* keywords[] = {"capacity", "arena", "checksum", nullptr};
  unsigned long long capacity = kDefaultCapacity;
  PyObject* arena = Py_None;
  int checksum = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|KO$p:Channel", const_cast<char**>(keywords), &capacity,
                                   &arena, &checksum)) {
    return nullptr;
  }
  ModuleState* state = state_of_type(type);
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
    shoal::Channel channel = without_gil(
        [&] {
          return shoal::Channel::create(session->holder(), static_cast<std::uint32_t>(capacity),
                                        checksum ? shoal::layout::kChannelChecksum : 0u);
        });
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
  ChannelFields& fields = as_channel(object)->fields;
  // Our reference on the channel block, then perhaps the session: both may take the arena lock.
  without_gil([&] {
    fields.channel.reset();
    fields.session.reset();
  });
  fields.~ChannelFields();
  type->tp_free(object);
  Py_DECREF(type);
}

// ------------------------------------------------------------ methods ----

shoal::Channel& core(PyObject* self) { return *as_channel(self)->fields.channel; }

PyObject* channel_send(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  if (ensure_usable_here(self) < 0) return nullptr;
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
  std::optional<shoal::HeldBlock> object =
      freeze_value(state_of(self), *as_channel(self)->fields.session, value, core(self).checksummed());
  if (!object) return nullptr;
  // Our reference to the new object moves into the channel slot: one lock
  // round trip, no refcount change. If the send fails it is still ours.
  const int sent = wait_in_slices(state_of(self), timeout, "Channel.send",
                                  [&](nanoseconds slice) { core(self).send(std::move(*object), slice); });
  if (*object) release(*object);
  if (sent < 0) return nullptr;
  Py_RETURN_NONE;
}

PyObject* channel_try_send(PyObject* self, PyObject* value) {
  if (ensure_usable_here(self) < 0) return nullptr;
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
    std::optional<shoal::HeldBlock> object =
        freeze_value(state_of(self), *as_channel(self)->fields.session, value, core(self).checksummed());
    if (!object) return nullptr;
    try {
      sent = without_gil([&] { return core(self).try_send(std::move(*object)); });
    } catch (...) {
      release(*object);
      return raise_python_error(state_of(self));
    }
    release(*object);
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
  if (ensure_usable_here(self) < 0) return nullptr;
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
  if (ensure_usable_here(self) < 0) return nullptr;
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
  if (ensure_usable_here(self) < 0) return nullptr;
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

// __reduce_ex__: pickling lives in Python (shoal/_pickling.py): by
// reference, through an in-flight reference the arena holds meanwhile.
PyObject* channel_reduce(PyObject* self, PyObject* protocol) {
  PyObject* module = PyImport_ImportModule("shoal._pickling");
  if (module == nullptr) return nullptr;
  PyObject* result = PyObject_CallMethod(module, "reduce_channel", "OO", self, protocol);
  Py_DECREF(module);
  return result;
}

// A channel is shared by nature: copy.copy and copy.deepcopy give itself.
PyObject* channel_copy(PyObject* self, PyObject*) { return Py_NewRef(self); }

PyObject* channel_repr(PyObject* self) {
  return PyUnicode_FromFormat("<shoal.Channel arena='%s' capacity=%u>",
                              as_channel(self)->fields.session->arena().name().c_str(), core(self).capacity());
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
     "pending and then raise ChannelClosed. Idempotent."},
    {"poison", channel_poison, METH_NOARGS,
     "poison()\n--\n\nCloses the channel at once for everyone: pending values are dropped (their\n"
     "memory freed unless held elsewhere) and every blocked or later send and recv, at either\n"
     "end, in any interpreter or process, raises ChannelPoisoned (a ChannelClosed). Idempotent."},
    {"__reduce_ex__", channel_reduce, METH_O, nullptr},
    {"__copy__", channel_copy, METH_NOARGS, "The channel itself: channels are shared, not copied."},
    {"__deepcopy__", channel_copy, METH_O, "The channel itself: channels are shared, not copied."},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef channel_getset[] = {
    {"closed", channel_get_closed, nullptr, "True once close() or poison() was called (by anyone).", nullptr},
    {"poisoned", channel_get_poisoned, nullptr, "True once poison() was called (by anyone).", nullptr},
    {"capacity", channel_get_capacity, nullptr, "How many values may be pending.", nullptr},
    {"checksum", channel_get_checksum, nullptr,
     "True if values sent through it carry a checksum that every receiver verifies (Channel(checksum=True)).",
     nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

const char channel_doc[] =
    "Channel(capacity=64, arena=None, *, checksum=False)\n--\n\n"
    "A bounded queue of values in an arena (default_arena() if None), between\n"
    "threads, interpreters and processes. Values are frozen into the arena;\n"
    "shoal.Buffers cross without a copy\n"
    "and arrive read-only. Iterating receives until the channel is closed (a\n"
    "poisoned one raises ChannelPoisoned). Pickles\n"
    "as (arena name, handle), so multiprocessing children can open the same channel.\n\n"
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

std::shared_ptr<ArenaSession> session_for(ModuleState* state, const std::string& name) {
  if (state->open_arenas != nullptr) {
    for (ArenaObject* arena : *state->open_arenas) {
      const auto& session = arena->fields.session;
      if (session && session->opened_here() && arena->fields.name == name) return session;
    }
  }
  if (state->joined_sessions != nullptr) {
    const auto found = state->joined_sessions->find(name);
    if (found != state->joined_sessions->end()) {
      if (std::shared_ptr<ArenaSession> session = found->second.lock(); session && session->opened_here()) {
        return session;
      }
    }
  }
  // The process-wide default arena is joined, not mapped again: its blocks
  // keep their addresses across the interpreters of this process.
  const std::int64_t interpreter_id = PyInterpreterState_GetID(PyInterpreterState_Get());
  std::shared_ptr<ArenaSession> session = without_gil([&] {
    if (std::shared_ptr<shoal::Arena> shared = process_arena_named(name)) {
      return ArenaSession::join(std::move(shared), interpreter_id);
    }
    return ArenaSession::attach(name, interpreter_id);
  });
  if (state->joined_sessions != nullptr) (*state->joined_sessions)[name] = session;
  return session;
}

PyTypeObject* create_channel_type(PyObject* module) {
  return reinterpret_cast<PyTypeObject*>(PyType_FromModuleAndSpec(module, &channel_spec, nullptr));
}

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
    if (ensure_usable_here(item) < 0) return nullptr;
  }
  Timeout timeout;
  if (parse_timeout(timeout_arg, &timeout) < 0) return nullptr;
  // `args` keeps every Channel object alive while the GIL is released.
  std::vector<shoal::Channel*> channels;
  channels.reserve(static_cast<std::size_t>(count));
  for (Py_ssize_t i = 0; i < count; ++i) channels.push_back(&core(PyTuple_GET_ITEM(args, i)));
  std::optional<shoal::Channel::Selected> selected;
  std::size_t ended = std::numeric_limits<std::size_t>::max();
  const int done = wait_in_slices(state, timeout, "select", [&](nanoseconds slice) {
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
