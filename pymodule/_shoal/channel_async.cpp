// channel_async.cpp — see channel_async.hpp.
#include "channel_async.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <new>
#include <vector>

#include "async_waker.hpp"
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

struct WakeupObject {
  PyObject_HEAD
  int fd;  // -1 once closed
  WakeRegistration registration;
};

WakeupObject* as_wakeup(PyObject* object) { return reinterpret_cast<WakeupObject*>(object); }

void close_wakeup(WakeupObject* w) {
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
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return PyErr_SetFromErrno(PyExc_OSError);
  PyObject* self = type->tp_alloc(type, 0);
  if (self == nullptr) {
    ::close(fd);
    return nullptr;
  }
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
  if (w->fd >= 0) return 0;
  PyErr_SetString(PyExc_ValueError, "the _Wakeup is closed");
  return -1;
}

PyObject* wakeup_fileno(PyObject* self, PyObject*) {
  if (check_open(as_wakeup(self)) < 0) return nullptr;
  return PyLong_FromLong(as_wakeup(self)->fd);
}

// arm(channel, token) -> True if registered (await the fd), False if the
// activity word has moved since `token` (try again now).
PyObject* wakeup_arm(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  ModuleState* state = state_of_type(Py_TYPE(self));
  if (nargs != 2 || !PyObject_TypeCheck(args[0], state->channel_type)) {
    PyErr_SetString(PyExc_TypeError, "arm(channel, token) takes a shoal.Channel and an int");
    return nullptr;
  }
  WakeupObject* w = as_wakeup(self);
  if (check_open(w) < 0) return nullptr;
  const unsigned long token = PyLong_AsUnsignedLong(args[1]);
  if (token == static_cast<unsigned long>(-1) && PyErr_Occurred()) return nullptr;
  if (ensure_usable_here(args[0]) < 0) return nullptr;
  WakeRegistration::Armed armed;
  try {
    armed = w->registration.arm(as_channel(args[0])->fields.session->shared_arena(),
                                static_cast<std::uint32_t>(token), w->fd);
  } catch (const std::exception& e) {
    PyErr_Format(PyExc_RuntimeError, "cannot start the arena's waker: %s", e.what());
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

PyObject* wakeup_disarm(PyObject* self, PyObject*) {
  as_wakeup(self)->registration.disarm();
  Py_RETURN_NONE;
}

// Empties the eventfd (so the loop stops seeing it readable).
PyObject* wakeup_drain(PyObject* self, PyObject*) {
  WakeupObject* w = as_wakeup(self);
  if (check_open(w) < 0) return nullptr;
  std::uint64_t count = 0;
  if (::read(w->fd, &count, sizeof count) < 0 && errno != EAGAIN) return PyErr_SetFromErrno(PyExc_OSError);
  Py_RETURN_NONE;
}

PyObject* wakeup_close(PyObject* self, PyObject*) {
  close_wakeup(as_wakeup(self));
  Py_RETURN_NONE;
}

PyMethodDef wakeup_methods[] = {
    {"fileno", wakeup_fileno, METH_NOARGS, "fileno() -> the eventfd an event loop watches"},
    {"arm", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(wakeup_arm)), METH_FASTCALL,
     "arm(channel, token) -> True: registered, the fd turns readable once the channel's arena's activity\n"
     "word differs from token; False: it already does (try again). ProcessExiting once the process exits."},
    {"disarm", wakeup_disarm, METH_NOARGS, "disarm(): unregister (the fd is written to no more)"},
    {"drain", wakeup_drain, METH_NOARGS, "drain(): reset the eventfd"},
    {"close", wakeup_close, METH_NOARGS, "close(): disarm and close the eventfd"},
    {nullptr, nullptr, 0, nullptr},
};

PyType_Slot wakeup_slots[] = {
    {Py_tp_new, reinterpret_cast<void*>(wakeup_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(wakeup_dealloc)},
    {Py_tp_methods, wakeup_methods},
    {Py_tp_doc, const_cast<char*>("_Wakeup(): an eventfd and its registration with an arena's waker "
                                  "(shoal/_channel_async.py)")},
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
