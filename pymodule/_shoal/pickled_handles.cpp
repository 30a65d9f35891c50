// pickled_handles.cpp — see pickled_handles.hpp.
#include "pickled_handles.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "block_owner.hpp"
#include "buffer_type.hpp"
#include "channel_ends.hpp"
#include "channel_type.hpp"
#include "dtype.hpp"
#include "errors.hpp"
#include "frozen_view_type.hpp"
#include "gil.hpp"
#include "session_lookup.hpp"
#include "shoal/channel.hpp"
#include "shoal/errors.hpp"
#include "shoal/in_flight.hpp"

namespace shoal_py {
namespace {

// A ref's fields (see pickled_handles.hpp).
struct Ref {
  std::string arena;
  std::string arena_id;  // 16 raw bytes
  std::string boot_id;
  shoal::Ticket ticket;
};

std::string hex(const std::string& bytes) {
  std::string out;
  char two[3];
  for (unsigned char c : bytes) {
    std::snprintf(two, sizeof two, "%02x", c);
    out += two;
  }
  return out;
}

// Reads a ref tuple; -1 with TypeError set if it is not one (a hand-made
// or damaged pickle).
int parse_ref(PyObject* object, Ref* ref) {
  const char* arena = nullptr;
  const char* arena_id = nullptr;
  Py_ssize_t id_length = 0;
  const char* boot_id = nullptr;
  unsigned long long offset = 0, generation = 0, entry = 0, number = 0, expires = 0;
  if (!PyTuple_Check(object) ||
      !PyArg_ParseTuple(object, "sy#sKKKKK;a shoal pickle reference is (arena, id, boot id, offset, generation, "
                                "entry, ticket, expires)",
                        &arena, &arena_id, &id_length, &boot_id, &offset, &generation, &entry, &number, &expires)) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "a shoal pickle reference must be a tuple");
    return -1;
  }
  if (id_length != 16) {
    PyErr_SetString(PyExc_ValueError, "a shoal pickle reference's arena id must be 16 bytes");
    return -1;
  }
  ref->arena = arena;
  ref->arena_id.assign(arena_id, 16);
  ref->boot_id = boot_id;
  ref->ticket = shoal::Ticket{entry, number, shoal::Handle{offset, generation}, expires};
  return 0;
}

PyObject* ref_tuple(const shoal::Arena& arena, const shoal::Ticket& ticket) {
  const shoal::ArenaIdentity identity = arena.identity();
  return Py_BuildValue("(sy#sKKKKK)", arena.name().c_str(), reinterpret_cast<const char*>(identity.id.data()),
                       static_cast<Py_ssize_t>(identity.id.size()), identity.boot_id.c_str(),
                       static_cast<unsigned long long>(ticket.block.offset),
                       static_cast<unsigned long long>(ticket.block.generation),
                       static_cast<unsigned long long>(ticket.entry), static_cast<unsigned long long>(ticket.number),
                       static_cast<unsigned long long>(ticket.expires_boot_ns));
}

// What a redeemed ticket gave: the block (a buffer's, a channel's or a
// channel end's), now held through our holder, and its kind.
struct Redeemed {
  shoal::layout::BlockKind kind = shoal::layout::BlockKind::none;
  OwnedBlock block;
};

// Whose a ref is, for messages.
std::string whose(const Ref& ref) {
  return "arena '" + ref.arena + "' (id " + hex(ref.arena_id) + ") on the host with boot id " + ref.boot_id;
}

// The session of the arena `ref` names, checked to be that very arena:
// same host, same identity. Throws ForeignHandle or ArenaNotFound, naming
// the arena and host the ref belongs to. (A session this call attached
// goes with its last reference, without the GIL: arena_session.cpp.)
std::shared_ptr<ArenaSession> open_session(ModuleState* state, const Ref& ref) {
  if (ref.boot_id != shoal::Arena::host_boot_id()) {
    throw shoal::ForeignHandle("this pickled shoal value belongs to " + whose(ref) +
                               ", and this is another host (boot id " + shoal::Arena::host_boot_id() +
                               "): arena memory is shared within one host only; send a copy (bytes(buf), np.array(buf))");
  }
  std::shared_ptr<ArenaSession> session;
  try {
    session = session_for(state, ref.arena);
  } catch (const shoal::ArenaNotFound&) {
    throw shoal::ArenaNotFound("this pickled shoal value belongs to " + whose(ref) +
                               ", which no longer exists: its creator destroyed it or exited");
  }
  const shoal::ArenaIdentity found = session->arena().identity();
  const std::string found_id(reinterpret_cast<const char*>(found.id.data()), found.id.size());
  if (found_id != ref.arena_id) {
    throw shoal::ForeignHandle("this pickled shoal value belongs to " + whose(ref) + ", but the arena named '" +
                               ref.arena + "' now is another one (id " + hex(found_id) +
                               "): the original was destroyed and the name reused");
  }
  return session;
}

}  // namespace

PyObject* issue_ticket_function(PyObject* module, PyObject* const* args, Py_ssize_t nargs) {
  ModuleState* state = state_of_module(module);
  if (nargs != 2 && nargs != 3) {
    PyErr_SetString(PyExc_TypeError, "_issue_ticket(value, lifetime, shared=True) takes 2 or 3 arguments");
    return nullptr;
  }
  int shared = nargs == 3 ? PyObject_IsTrue(args[2]) : 1;
  if (shared < 0) return nullptr;
  const double seconds = PyFloat_AsDouble(args[1]);
  if (seconds == -1.0 && PyErr_Occurred()) return nullptr;
  if (!(seconds > 0) || !std::isfinite(seconds)) {
    PyErr_Format(PyExc_ValueError, "a pickle lifetime must be a positive number of seconds, got %R", args[1]);
    return nullptr;
  }
  const auto lifetime = std::chrono::nanoseconds(static_cast<std::int64_t>(std::min(seconds, 1e9) * 1e9));
  std::shared_ptr<ArenaSession> session;  // the value's own: never the last reference
  shoal::Handle block;
  std::uint64_t data_offset = 0;
  if (BufferFields* buffer = buffer_fields(state, args[0])) {
    session = buffer->owner->session;
    block = buffer->blob;
    data_offset = buffer->offset;
  } else if (PyObject_TypeCheck(args[0], state->channel_type)) {
    const ChannelFields& fields = reinterpret_cast<ChannelObject*>(args[0])->fields;
    session = fields.session;
    if (reference_handle(args[0], &block) < 0) return nullptr;  // an end's, or the channel's
    // An end's pickle is used once: its entry is its own, ended when it is
    // redeemed, so the end lives no longer than whoever unpickled it.
    if (is_end(args[0])) shared = 0;
  } else if (FrozenViewFields* view = frozen_view_fields(state, args[0])) {
    session = view->root->owner->session;
    block = view->root->owner->block->handle();
  } else {
    PyErr_Format(PyExc_TypeError, "_issue_ticket takes a shoal.Buffer, Channel or frozen view, not %.100s",
                 Py_TYPE(args[0])->tp_name);
    return nullptr;
  }
  try {
    // `args` keeps the value, so its block, alive while the GIL is released.
    const shoal::Ticket ticket = without_gil([&] { return shoal::InFlight::issue(session->arena(), block, lifetime, shared != 0); });
    PyObject* ref = ref_tuple(session->arena(), ticket);
    if (ref == nullptr) {
      without_gil([&] { shoal::InFlight::cancel(session->arena(), ticket); });
      return nullptr;
    }
    return Py_BuildValue("(NK)", ref, static_cast<unsigned long long>(data_offset));
  } catch (...) {
    return raise_python_error(state);
  }
}

namespace {

// Redeems `ref_object` through `session`'s holder (set here). Returns false
// with a Python error set.
bool redeem(ModuleState* state, PyObject* ref_object, std::shared_ptr<ArenaSession>* session, Redeemed* redeemed) {
  Ref ref;
  if (parse_ref(ref_object, &ref) < 0) return false;
  try {
    *session = open_session(state, ref);
    // Everything that may take the arena lock, and anything it leaves to
    // destroy when it throws, stays inside: without the GIL.
    *redeemed = without_gil([&] {
      Redeemed out;
      // A channel end's pickle is single use (see issue_ticket_function):
      // redeeming it ends its entry, in the same critical section.
      out.block = OwnedBlock{shoal::InFlight::redeem((*session)->holder(), ref.ticket, shoal::InFlight::Redeem::channel_end_once)};
      out.kind = out.block->kind();
      return out;
    });
    return true;
  } catch (...) {
    raise_python_error(state);
    return false;
  }
}

}  // namespace

PyObject* redeem_function(PyObject* module, PyObject* ref_object) {
  ModuleState* state = state_of_module(module);
  std::shared_ptr<ArenaSession> session;
  Redeemed redeemed;
  if (!redeem(state, ref_object, &session, &redeemed)) return nullptr;
  if (redeemed.kind == shoal::layout::BlockKind::channel || redeemed.kind == shoal::layout::BlockKind::channel_end) {
    // Opened while the redeemed reference holds it; that one goes after.
    return open_channel_reference(state, session, redeemed.block->handle());
  }
  if (redeemed.kind != shoal::layout::BlockKind::blob && redeemed.kind != shoal::layout::BlockKind::raw) {
    PyErr_Format(state->invalid_handle, "arena '%s': a pickled reference names a block that is neither a buffer nor a channel",
                 session->arena().name().c_str());
    return nullptr;
  }
  BufferFields fields;
  fields.blob = redeemed.block->handle();
  fields.data = redeemed.block->bytes().data();
  fields.nbytes = redeemed.block->bytes().size();
  fields.dtype = *parse_dtype("uint8");
  fields.shape = {static_cast<Py_ssize_t>(fields.nbytes)};
  fields.strides = {1};
  fields.received = true;
  fields.owner = std::make_shared<BlockOwner>(session, redeemed.block.take());
  return new_buffer_object(state, std::move(fields));
}

PyObject* redeem_frozen_function(PyObject* module, PyObject* const* args, Py_ssize_t nargs) {
  ModuleState* state = state_of_module(module);
  if (nargs != 2 || !PyTuple_Check(args[1])) {
    PyErr_SetString(PyExc_TypeError, "_redeem_frozen(ref, path): path is a tuple of ints");
    return nullptr;
  }
  std::vector<std::uint32_t> path;
  for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(args[1]); ++i) {
    const unsigned long step = PyLong_AsUnsignedLong(PyTuple_GET_ITEM(args[1], i));
    if (step == static_cast<unsigned long>(-1) && PyErr_Occurred()) return nullptr;
    if (step > 0xFFFFFFFFul) {
      PyErr_SetString(PyExc_ValueError, "_redeem_frozen: a path step out of range");
      return nullptr;
    }
    path.push_back(static_cast<std::uint32_t>(step));
  }
  std::shared_ptr<ArenaSession> session;
  Redeemed redeemed;
  if (!redeem(state, args[0], &session, &redeemed)) return nullptr;
  if (redeemed.kind != shoal::layout::BlockKind::object) {
    PyErr_Format(state->invalid_handle, "arena '%s': a pickled frozen view names a block that is not a frozen object",
                 session->arena().name().c_str());
    return nullptr;
  }
  return frozen_view_of_block(state, session, redeemed.block.take(), path);
}

PyObject* cancel_ticket_function(PyObject* module, PyObject* ref_object) {
  ModuleState* state = state_of_module(module);
  Ref ref;
  if (parse_ref(ref_object, &ref) < 0) return nullptr;
  try {
    const std::shared_ptr<ArenaSession> session = open_session(state, ref);
    const bool ended = without_gil([&] { return shoal::InFlight::cancel(session->arena(), ref.ticket); });
    return PyBool_FromLong(ended);
  } catch (...) {
    return raise_python_error(state);
  }
}

PyObject* in_flight_function(PyObject* module, PyObject* name) {
  ModuleState* state = state_of_module(module);
  if (!PyUnicode_Check(name)) {
    PyErr_SetString(PyExc_TypeError, "_in_flight(name): the arena's name");
    return nullptr;
  }
  try {
    const char* text = PyUnicode_AsUTF8(name);
    if (text == nullptr) return nullptr;
    const std::shared_ptr<ArenaSession> session = session_for(state, text);
    const auto entries = without_gil([&] { return shoal::InFlight::list(session->arena()); });
    PyObject* list = PyList_New(0);
    if (list == nullptr) return nullptr;
    for (const shoal::InFlightInfo& e : entries) {
      PyObject* item = Py_BuildValue(
          "{s:K,s:K,s:K,s:d,s:d,s:i}", "entry", static_cast<unsigned long long>(e.ticket.entry), "offset",
          static_cast<unsigned long long>(e.ticket.block.offset), "generation",
          static_cast<unsigned long long>(e.ticket.block.generation), "created", static_cast<double>(e.created_ns) / 1e9,
          "expires", static_cast<double>(e.expires_ns) / 1e9, "pid", e.creator_pid);
      if (item == nullptr || PyList_Append(list, item) < 0) {
        Py_XDECREF(item);
        Py_DECREF(list);
        return nullptr;
      }
      Py_DECREF(item);
    }
    return list;
  } catch (...) {
    return raise_python_error(state);
  }
}

PyObject* boot_id_function(PyObject*, PyObject*) {
  return PyUnicode_FromString(shoal::Arena::host_boot_id().c_str());
}

}  // namespace shoal_py
