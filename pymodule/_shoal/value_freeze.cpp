// value_freeze.cpp — walking a Python value and writing it with a Freezer.
//
// The walk runs with the GIL held (it reads Python objects) and calls no
// Python code that could change what it walks: exact types only (a
// subclass of int is not an int here: its methods could do anything), and
// sizes are read once, before the container is written.
//
// A failure anywhere leaves nothing behind: the Freezer, never published,
// frees every blob it made when it goes.
#include "value_freeze.hpp"

#include <string>
#include <utility>
#include <vector>

#include "buffer_type.hpp"
#include "errors.hpp"
#include "gil.hpp"
#include "shoal/freezer.hpp"

namespace shoal_py {
namespace {

using shoal::heap::ValueWriter;

// A short repr for paths in error messages ("value['a'][2]").
std::string short_repr(PyObject* object) {
  PyObject* repr = PyObject_Repr(object);
  if (repr == nullptr) {
    PyErr_Clear();
    return "<?>";
  }
  const char* text = PyUnicode_AsUTF8(repr);
  std::string result = text != nullptr ? text : "<?>";
  if (text == nullptr) PyErr_Clear();
  Py_DECREF(repr);
  if (result.size() > 60) result = result.substr(0, 57) + "...";
  return result;
}

// Where a value sits inside what is being sent, as a chain of steps from
// the root. Kept as cheap links on the C++ stack and spelled out only for
// an error message: a successful send builds no strings and calls no repr.
struct PathStep {
  enum class Kind { root, index, dict_value, dict_key, set_item };
  const PathStep* parent = nullptr;
  Kind kind = Kind::root;
  std::size_t index = 0;      // Kind::index
  PyObject* item = nullptr;   // the key (dict_value, dict_key) or the element (set_item)

  PathStep child_index(std::size_t i) const { return {this, Kind::index, i, nullptr}; }
  PathStep child(Kind k, PyObject* o) const { return {this, k, 0, o}; }
};

// "value['a'][2]", "value{frozenset()}", "value: key (1, 2)".
std::string spell(const PathStep& step) {
  switch (step.kind) {
    case PathStep::Kind::root: return "value";
    case PathStep::Kind::index: return spell(*step.parent) + "[" + std::to_string(step.index) + "]";
    case PathStep::Kind::dict_value: return spell(*step.parent) + "[" + short_repr(step.item) + "]";
    case PathStep::Kind::dict_key: return spell(*step.parent) + ": key " + short_repr(step.item);
    case PathStep::Kind::set_item: return spell(*step.parent) + "{" + short_repr(step.item) + "}";
  }
  return "value";
}

class ValueFreezer {
 public:
  ValueFreezer(ModuleState* state, ArenaSession& session, shoal::heap::Freezer& freezer)
      : state_(state), session_(session), freezer_(freezer) {}

  // Writes `value` at `path`. Returns -1 with a Python error set. May throw
  // the core's errors (ArenaFull, InvalidArgument for too deep a nesting).
  int write(PyObject* value, ValueWriter out, const PathStep& path) {
    if (value == Py_None) return out.set_none(), 0;
    if (PyBool_Check(value)) return out.set_bool(value == Py_True), 0;
    if (PyLong_CheckExact(value)) return write_int(value, out);
    if (PyFloat_CheckExact(value)) return out.set_float(PyFloat_AS_DOUBLE(value)), 0;
    if (PyUnicode_CheckExact(value)) return write_text(value, out);
    if (PyBytes_CheckExact(value)) {
      const auto* data = reinterpret_cast<const std::byte*>(PyBytes_AS_STRING(value));
      out.set_bytes({data, static_cast<std::size_t>(PyBytes_GET_SIZE(value))});
      return 0;
    }
    if (PyTuple_CheckExact(value)) return write_sequence(value, out.set_tuple(PyTuple_GET_SIZE(value)), path);
    if (PyList_CheckExact(value)) return write_sequence(value, out.set_list(PyList_GET_SIZE(value)), path);
    if (PyDict_CheckExact(value)) return write_dict(value, out, path);
    if (PyFrozenSet_CheckExact(value)) return write_set(value, out.set_frozenset(PySet_GET_SIZE(value)), path);
    if (PySet_CheckExact(value)) return write_set(value, out.set_set(PySet_GET_SIZE(value)), path);
    if (BufferFields* buffer = buffer_fields(state_, value)) return write_buffer(*buffer, out, path);
    PyErr_Format(PyExc_TypeError, "%s: cannot send '%.100s'", spell(path).c_str(), Py_TYPE(value)->tp_name);
    return -1;
  }

 private:
  int write_int(PyObject* value, ValueWriter out) {
    int overflow = 0;
    const long long small = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (small == -1 && PyErr_Occurred()) return -1;
    if (overflow == 0) return out.set_int(small), 0;
    // Outside int64: sign and little-endian magnitude, through int.to_bytes
    // (the same on every CPython version, unlike the private helpers).
    PyObject* magnitude = PyNumber_Absolute(value);
    if (magnitude == nullptr) return -1;
    PyObject* bits = PyObject_CallMethod(magnitude, "bit_length", nullptr);
    const long long bit_count = bits != nullptr ? PyLong_AsLongLong(bits) : -1;
    Py_XDECREF(bits);
    PyObject* bytes = bit_count < 0 ? nullptr
                                    : PyObject_CallMethod(magnitude, "to_bytes", "Ls", (bit_count + 7) / 8, "little");
    Py_DECREF(magnitude);
    if (bytes == nullptr) return -1;
    const auto* data = reinterpret_cast<const std::uint8_t*>(PyBytes_AS_STRING(bytes));
    out.set_big_int(overflow < 0, {data, static_cast<std::size_t>(PyBytes_GET_SIZE(bytes))});
    Py_DECREF(bytes);
    return 0;
  }

  int write_text(PyObject* value, ValueWriter out) {
    Py_ssize_t length = 0;
    const char* utf8 = PyUnicode_AsUTF8AndSize(value, &length);  // fails on lone surrogates
    if (utf8 == nullptr) return -1;
    out.set_text({utf8, static_cast<std::size_t>(length)});
    return 0;
  }

  int write_sequence(PyObject* value, shoal::heap::SequenceWriter items, const PathStep& path) {
    for (std::size_t i = 0; i < items.size(); ++i) {
      PyObject* item = PyTuple_Check(value) ? PyTuple_GET_ITEM(value, i) : PyList_GET_ITEM(value, i);
      if (write(item, items[i], path.child_index(i)) < 0) return -1;
    }
    return 0;
  }

  int write_set(PyObject* value, shoal::heap::SequenceWriter items, const PathStep& path) {
    PyObject* iterator = PyObject_GetIter(value);  // a set's own iterator: runs no user code
    if (iterator == nullptr) return -1;
    int result = 0;
    for (std::size_t i = 0; i < items.size() && result == 0; ++i) {
      PyObject* item = PyIter_Next(iterator);
      if (item == nullptr) break;
      result = write(item, items[i], path.child(PathStep::Kind::set_item, item));
      Py_DECREF(item);
    }
    Py_DECREF(iterator);
    return result;
  }

  int write_dict(PyObject* value, ValueWriter out, const PathStep& path) {
    shoal::heap::DictWriter entries = out.set_dict(static_cast<std::size_t>(PyDict_GET_SIZE(value)));
    Py_ssize_t position = 0;
    PyObject* key = nullptr;
    PyObject* item = nullptr;
    std::size_t i = 0;
    while (i < entries.size() && PyDict_Next(value, &position, &key, &item)) {
      if (write(key, entries.key(i), path.child(PathStep::Kind::dict_key, key)) < 0) return -1;
      if (write(item, entries.value(i), path.child(PathStep::Kind::dict_value, key)) < 0) return -1;
      ++i;
    }
    return 0;
  }

  // A Buffer crosses by reference: the object takes a reference on its
  // blob, and the blob is frozen when the object is published.
  int write_buffer(const BufferFields& buffer, ValueWriter out, const PathStep& path) {
    if (&buffer.owner->session->arena() != &session_.arena() &&
        buffer.owner->session->arena().name() != session_.arena().name()) {
      PyErr_Format(PyExc_ValueError, "%s: the buffer lives in arena '%s', the channel in arena '%s'",
                   spell(path).c_str(), buffer.owner->session->arena().name().c_str(), session_.arena().name().c_str());
      return -1;
    }
    shoal::heap::BlobSlice slice;
    if (buffer.owner->session.get() == &session_ && buffer.owner->block.handle() == buffer.blob) {
      slice = freezer_.reference(buffer.owner->block, buffer.offset, buffer.nbytes);
    } else {
      // Received, or held through another Arena object: the Freezer needs
      // a reference of the channel's own holder on the blob itself.
      shoal::HeldBlock blob = session_.holder().retain(buffer.blob);
      slice = freezer_.reference(blob, buffer.offset, buffer.nbytes);
    }
    std::vector<std::uint64_t> shape(buffer.shape.begin(), buffer.shape.end());
    std::vector<std::int64_t> strides(buffer.strides.begin(), buffer.strides.end());
    out.set_ndarray({buffer.dtype.typestr, shape, strides}, slice);
    return 0;
  }

  ModuleState* state_;
  ArenaSession& session_;
  shoal::heap::Freezer& freezer_;
};

}  // namespace

std::optional<shoal::HeldBlock> freeze_value(ModuleState* state, ArenaSession& session, PyObject* value) {
  std::optional<shoal::heap::Freezer> freezer;
  std::optional<shoal::HeldBlock> object;
  try {
    freezer.emplace(session.holder());
    ValueFreezer walker(state, session, *freezer);
    if (walker.write(value, freezer->root(), PathStep{}) == 0) {
      object = without_gil([&] { return freezer->publish(); });
    }
  } catch (...) {
    raise_python_error(state);
  }
  // An unpublished Freezer frees what it made, which takes the arena lock.
  without_gil([&] { freezer.reset(); });
  return object;
}

}  // namespace shoal_py
