// channel_async.cpp — see channel_async.hpp.
#include "channel_async.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <new>
#include <system_error>
#include <vector>

#include "async_waker.hpp"
#include "futex_ring.hpp"
#include "ring_wakeup.hpp"
#include "channel_after_fork.hpp"
#include "channel_ends.hpp"
#include "channel_type.hpp"
#include "module_state.hpp"

namespace shoal_py {

const char kArecvDoc[] =
    "arecv(timeout=None)\n--\n\n"
    "As recv(), awaited: the oldest value, waiting (without blocking the event loop)\n"
    "while the channel is empty. TimeoutError after `timeout` seconds; ChannelClosed\n"
    "once closed and drained. Cancelled, it has taken nothing.";
const char kAsendDoc[] =
    "asend(obj, timeout=None)\n--\n\n"
    "As send(), awaited: waits (without blocking the event loop) while the channel\n"
    "is full. TimeoutError after `timeout` seconds; ChannelClosed if closed.\n"
    "Cancelled, it has sent nothing.";

PyObject* channel_activity(PyObject* self, PyObject*) {
  if (ensure_usable_here(self) < 0) return nullptr;
  return PyLong_FromUnsignedLong(shoal::Channel::activity(as_channel(self)->fields.session->arena()));
}

namespace {

// shoal._channel_async, from sys.modules (the shoal package imports it, so
// it is there): the import machinery at every call would cost more than
// the rest of a call that does not wait.
PyObject* async_module() {
  PyObject* name = PyUnicode_FromString("shoal._channel_async");
  if (name == nullptr) return nullptr;
  PyObject* module = PyImport_GetModule(name);
  if (module == nullptr && !PyErr_Occurred()) module = PyImport_Import(name);
  Py_DECREF(name);
  return module;
}

// shoal._channel_async.<name>(self, *args, **kwargs): a coroutine.
PyObject* call_coroutine(const char* name, PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                         PyObject* kwnames) {
  PyObject* module = async_module();
  if (module == nullptr) return nullptr;
  PyObject* function = PyObject_GetAttrString(module, name);
  Py_DECREF(module);
  if (function == nullptr) return nullptr;
  const Py_ssize_t nkw = kwnames != nullptr ? PyTuple_GET_SIZE(kwnames) : 0;
  std::vector<PyObject*> all;
  all.reserve(static_cast<std::size_t>(1 + nargs + nkw));
  all.push_back(self);
  all.insert(all.end(), args, args + nargs + nkw);
  PyObject* result = PyObject_Vectorcall(function, all.data(), static_cast<std::size_t>(1 + nargs), kwnames);
  Py_DECREF(function);
  return result;
}

}  // namespace

// An end of the other role, or a closed end, is refused at the call.
PyObject* channel_arecv(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  if (check_end_use(self, EndUse::receive) < 0) return nullptr;
  return call_coroutine("arecv", self, args, nargs, kwnames);
}

PyObject* channel_asend(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  if (check_end_use(self, EndUse::send) < 0) return nullptr;
  return call_coroutine("asend", self, args, nargs, kwnames);
}

PyObject* channel_anext(PyObject* self) {
  if (check_end_use(self, EndUse::receive) < 0) return nullptr;
  return call_coroutine("anext", self, nullptr, 0, nullptr);
}

// ------------------------------------------------------------ _Wakeup ----

namespace {

// One coroutine's means of waiting: the loop watches a ring's fd
// (ring_wakeup.hpp) where the kernel serves io_uring futex waits, else an
// eventfd that the arena's waker thread writes to (async_waker.hpp).
struct WakeupObject {
  PyObject_HEAD
  pid_t pid;                      // the process that made it: a fork() child's copy only closes
  RingWakeup* ring;               // the ring path; null on the thread path or once closed
  int fd;                         // the thread path's eventfd; -1 with a ring or once closed
  WakeRegistration registration;  // the thread path's
};

WakeupObject* as_wakeup(PyObject* object) { return reinterpret_cast<WakeupObject*>(object); }

void close_wakeup(WakeupObject* w) {
  delete w->ring;  // disarms, then closes the ring
  w->ring = nullptr;
  w->registration.disarm();  // first: the waker must not write to a closed fd
  if (w->fd >= 0) {
    ::close(w->fd);
    w->fd = -1;
  }
}

PyObject* wakeup_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  if (PyTuple_GET_SIZE(args) != 0 || (kwargs != nullptr && PyDict_GET_SIZE(kwargs) != 0)) {
    PyErr_SetString(PyExc_TypeError, "_Wakeup() takes no arguments");
    return nullptr;
  }
  RingWakeup* ring = nullptr;
  int fd = -1;
  if (FutexRing::available()) {
    try {
      ring = new RingWakeup();
    } catch (const std::system_error& e) {
      errno = e.code().value();
      return PyErr_SetFromErrno(PyExc_OSError);
    }
  } else {
    fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) return PyErr_SetFromErrno(PyExc_OSError);
  }
  PyObject* self = type->tp_alloc(type, 0);
  if (self == nullptr) {
    delete ring;
    if (fd >= 0) ::close(fd);
    return nullptr;
  }
  as_wakeup(self)->pid = ::getpid();
  as_wakeup(self)->ring = ring;
  as_wakeup(self)->fd = fd;
  new (&as_wakeup(self)->registration) WakeRegistration();
  return self;
}

void wakeup_dealloc(PyObject* self) {
  PyTypeObject* type = Py_TYPE(self);
  close_wakeup(as_wakeup(self));
  as_wakeup(self)->registration.~WakeRegistration();
  type->tp_free(self);
  Py_DECREF(type);
}

int check_open(WakeupObject* w) {
  if (w->ring != nullptr || w->fd >= 0) return 0;
  PyErr_SetString(PyExc_ValueError, "the _Wakeup is closed");
  return -1;
}

PyObject* wakeup_fileno(PyObject* self, PyObject*) {
  WakeupObject* w = as_wakeup(self);
  if (check_open(w) < 0) return nullptr;
  return PyLong_FromLong(w->ring != nullptr ? w->ring->fd() : w->fd);
}

PyObject* wakeup_kind(PyObject* self, PyObject*) {
  WakeupObject* w = as_wakeup(self);
  if (check_open(w) < 0) return nullptr;
  return PyUnicode_FromString(w->ring != nullptr ? "ring" : "thread");
}

// The probes of `channels` (a tuple of Channels, the first one's arena's),
// each for what the coroutine wants of it. Null with an error set.
bool probes_of(ModuleState* state, PyObject* channels, shoal::Channel::Want want,
               std::vector<shoal::Channel::Probe>& probes) {
  if (!PyTuple_Check(channels) || PyTuple_GET_SIZE(channels) == 0) {
    PyErr_SetString(PyExc_TypeError, "arm() takes a non-empty tuple of shoal.Channel objects");
    return false;
  }
  for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(channels); ++i) {
    PyObject* channel = PyTuple_GET_ITEM(channels, i);
    if (!PyObject_TypeCheck(channel, state->channel_type)) {
      PyErr_SetString(PyExc_TypeError, "arm() takes a non-empty tuple of shoal.Channel objects");
      return false;
    }
    if (ensure_usable_here(channel) < 0) return false;
    probes.push_back(channel_core(channel).probe(want));
  }
  return true;
}

// arm(token, channels, sending) -> True if armed (await the fd, then
// check()), False if one of the channels may be ready already (try again
// now). `token`: the arena's activity word, read before the failed try.
PyObject* wakeup_arm(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  ModuleState* state = state_of_type(Py_TYPE(self));
  if (nargs != 3) {
    PyErr_SetString(PyExc_TypeError, "arm(token, channels, sending) takes 3 arguments");
    return nullptr;
  }
  WakeupObject* w = as_wakeup(self);
  if (check_open(w) < 0) return nullptr;
  if (w->pid != ::getpid()) {
    PyErr_SetString(PyExc_ValueError, "this _Wakeup belongs to the parent process (each process makes its own)");
    return nullptr;
  }
  const unsigned long token = PyLong_AsUnsignedLong(args[0]);
  if (token == static_cast<unsigned long>(-1) && PyErr_Occurred()) return nullptr;
  const int sending = PyObject_IsTrue(args[2]);
  if (sending < 0) return nullptr;
  std::vector<shoal::Channel::Probe> probes;
  if (!probes_of(state, args[1], sending ? shoal::Channel::Want::send : shoal::Channel::Want::receive, probes)) {
    return nullptr;
  }
  const auto& arena = as_channel(PyTuple_GET_ITEM(args[1], 0))->fields.session->shared_arena();
  WakeRegistration::Armed armed;
  try {
    armed = w->ring != nullptr
                ? w->ring->arm(arena, static_cast<std::uint32_t>(token), std::move(probes))
                : w->registration.arm(arena, static_cast<std::uint32_t>(token), w->fd, std::move(probes));
  } catch (const std::exception& e) {
    PyErr_Format(PyExc_RuntimeError, "cannot wait for the arena's activity: %s", e.what());
    return nullptr;
  }
  switch (armed) {
    case WakeRegistration::Armed::waiting:
      Py_RETURN_TRUE;
    case WakeRegistration::Armed::moved:
      Py_RETURN_FALSE;
    case WakeRegistration::Armed::exiting:
      break;
  }
  PyErr_SetString(state->process_exiting, "an async channel call would wait, and the process is exiting");
  return nullptr;
}

// Reads what made the fd readable; True once the armed wait should end.
// Nothing in a fork() child: the fd and the ring's mappings are shared with
// the parent, whose wake-up a read here would take.
bool take_wakeup(WakeupObject* w) {
  if (w->pid != ::getpid()) return false;
  if (w->ring != nullptr) return w->ring->check();
  std::uint64_t count = 0;
  if (::read(w->fd, &count, sizeof count) < 0) {
    if (errno != EAGAIN) throw std::system_error(errno, std::generic_category(), "read of an eventfd");
    return false;
  }
  return count > 0;
}

PyObject* wakeup_check(PyObject* self, PyObject*) {
  WakeupObject* w = as_wakeup(self);
  if (check_open(w) < 0) return nullptr;
  try {
    return PyBool_FromLong(take_wakeup(w));
  } catch (const std::system_error& e) {
    errno = e.code().value();
    return PyErr_SetFromErrno(PyExc_OSError);
  }
}

PyObject* wakeup_disarm(PyObject* self, PyObject*) {
  WakeupObject* w = as_wakeup(self);
  if (w->ring != nullptr) w->ring->disarm();
  w->registration.disarm();
  Py_RETURN_NONE;
}

// Reads whatever is left (so the loop stops seeing the fd readable).
PyObject* wakeup_drain(PyObject* self, PyObject* args) {
  PyObject* taken = wakeup_check(self, args);
  if (taken == nullptr) return nullptr;
  Py_DECREF(taken);
  Py_RETURN_NONE;
}

PyObject* wakeup_close(PyObject* self, PyObject*) {
  close_wakeup(as_wakeup(self));
  Py_RETURN_NONE;
}

PyMethodDef wakeup_methods[] = {
    {"fileno", wakeup_fileno, METH_NOARGS, "fileno() -> the fd an event loop watches (a ring's or an eventfd)"},
    {"kind", wakeup_kind, METH_NOARGS, "kind() -> 'ring' (io_uring futex wait) or 'thread' (the arena's waker)"},
    {"arm", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(wakeup_arm)), METH_FASTCALL,
     "arm(token, channels, sending) -> True: armed, the fd turns readable once the arena's activity word\n"
     "differs from token (then check()); False: a channel may be ready already (try again).\n"
     "ProcessExiting once the process exits."},
    {"check", wakeup_check, METH_NOARGS,
     "check() -> reads what made the fd readable: True once the armed wait should end (a channel may be\n"
     "ready, or the process exits); False: keep waiting"},
    {"disarm", wakeup_disarm, METH_NOARGS, "disarm(): stop waiting (the fd turns readable no more)"},
    {"drain", wakeup_drain, METH_NOARGS, "drain(): read whatever is left"},
    {"close", wakeup_close, METH_NOARGS, "close(): disarm and close the fd"},
    {nullptr, nullptr, 0, nullptr},
};

PyType_Slot wakeup_slots[] = {
    {Py_tp_new, reinterpret_cast<void*>(wakeup_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(wakeup_dealloc)},
    {Py_tp_methods, wakeup_methods},
    {Py_tp_doc, const_cast<char*>("_Wakeup(): what one coroutine waits with: an io_uring futex wait, or an "
                                  "eventfd the arena's waker writes to (shoal/_channel_async.py)")},
    {0, nullptr},
};

PyType_Spec wakeup_spec = {
    .name = "shoal._shoal._Wakeup",
    .basicsize = sizeof(WakeupObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = wakeup_slots,
};

}  // namespace

PyTypeObject* create_wakeup_type(PyObject* module) {
  return reinterpret_cast<PyTypeObject*>(PyType_FromModuleAndSpec(module, &wakeup_spec, nullptr));
}

}  // namespace shoal_py
