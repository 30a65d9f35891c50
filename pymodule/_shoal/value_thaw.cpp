// value_thaw.cpp — reading a frozen object (FrozenObject) into Python values.
//
// Everything but buffers is copied out into ordinary Python objects; buffers
// are not copied at all. The reader validates everything it reads
// (frozen.hpp), so a corrupt object raises CorruptObject here, never more
// -- except a pickle: unpickling runs whatever code the payload names, as
// pickle always does. Receiving a pickled value trusts every process that
// can write the arena (anyone who can open its /dev/shm file).
#include "value_thaw.hpp"


#include <string>
#include <utility>

#include "buffer_type.hpp"
#include "channel_ends.hpp"
#include "channel_type.hpp"
#include "errors.hpp"
#include "frozen_root.hpp"
#include "frozen_view_type.hpp"
#include "gil.hpp"
#include "numpy_arrays.hpp"
#include "shoal/array_blob.hpp"
#include "shoal/frozen.hpp"

namespace shoal_py {
namespace {

using shoal::heap::ValueKind;
using shoal::heap::ValueReader;

// `buffer` (a new Buffer, or null with an error set; stolen) as the value a
// receiver gets: itself where `numpy` is null, else a NumPy array over it,
// made through NumPy's C-API or, where that cannot, numpy.asarray.
PyObject* as_numpy_array(PyObject* buffer, PyObject* numpy) {
  if (buffer == nullptr || numpy == nullptr) return buffer;
  PyObject* array = numpy_array_over(buffer, reinterpret_cast<BufferObject*>(buffer)->fields);
  if (array == nullptr && !PyErr_Occurred()) array = PyObject_CallMethod(numpy, "asarray", "O", buffer);
  Py_DECREF(buffer);
  return array;
}

// What a value of another object (a FrozenView) becomes.
enum class Views {
  opened,  // a view of that object, in place (what a receiver gets)
  thawed,  // its plain value (view.thaw(): nothing of the arena left but buffers)
};

class ValueThawer {
 public:
  // `object` holds the block `frozen` reads. `budget`: values this thawer
  // may build before it calls the object corrupt (see read_value).
  ValueThawer(ModuleState* state, const std::shared_ptr<BlockOwner>& object, const shoal::heap::FrozenObject& frozen,
              Views views)
      : state_(state),
        object_(object),
        views_(views),
        budget_(frozen.message_words() * shoal::heap::kTraversalFactor + 16),
        handle_(frozen.handle()) {}
  ~ValueThawer() { Py_XDECREF(numpy_); }

  // The Python value of `value`, or null with a Python error set. The
  // core's errors (CorruptObject) are converted here, at each level, so
  // that a container being built is never leaked by an exception.
  PyObject* read(const ValueReader& value) {
    try {
      return read_value(value);
    } catch (...) {
      return raise_python_error(state_);
    }
  }

 private:
  PyObject* read_value(const ValueReader& value) {
    // A message of n words holds fewer than n values unless its pointers
    // alias one another; Cap'n Proto's traversal limit refuses that, but a
    // view's reader has none (frozen_root.hpp), so the count is kept here:
    // thawing stays linear in the object's size.
    if (budget_ == 0) {
      PyErr_Format(state_->corrupt_object,
                   "frozen object %s: more values than its message can hold (aliased pointers?)",
                   shoal::to_string(handle_).c_str());
      return nullptr;
    }
    --budget_;
    switch (value.kind()) {
      case ValueKind::none: Py_RETURN_NONE;
      case ValueKind::boolean: return PyBool_FromLong(value.as_bool());
      case ValueKind::int64: return PyLong_FromLongLong(value.as_int64());
      case ValueKind::big_int: return read_big_int(value);
      case ValueKind::float64: return PyFloat_FromDouble(value.as_float64());
      case ValueKind::text: {
        const std::string_view text = value.as_text();
        return PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "strict");
      }
      case ValueKind::bytes: {
        const auto bytes = value.as_bytes();
        return PyBytes_FromStringAndSize(reinterpret_cast<const char*>(bytes.data()),
                                         static_cast<Py_ssize_t>(bytes.size()));
      }
      case ValueKind::list: return read_list(value);
      case ValueKind::tuple: return read_tuple(value);
      case ValueKind::dict: return read_dict(value);
      case ValueKind::set: return read_set(value, PySet_New(nullptr));
      case ValueKind::frozenset: return read_set(value, PyFrozenSet_New(nullptr));
      case ValueKind::ndarray: return read_ndarray(value);
      case ValueKind::pickled: return read_pickled(value);
      case ValueKind::channel: return read_channel(value);
      case ValueKind::view: return read_view(value);
      default: break;
    }
    PyErr_Format(PyExc_TypeError, "cannot receive a value of kind '%s' yet (a later shoal increment)",
                 shoal::heap::to_string(value.kind()));
    return nullptr;
  }

  PyObject* read_big_int(const ValueReader& value) {
    const shoal::heap::BigIntView big = value.as_big_int();
    PyObject* bytes = PyBytes_FromStringAndSize(reinterpret_cast<const char*>(big.magnitude.data()),
                                                static_cast<Py_ssize_t>(big.magnitude.size()));
    if (bytes == nullptr) return nullptr;
    PyObject* magnitude =
        PyObject_CallMethod(reinterpret_cast<PyObject*>(&PyLong_Type), "from_bytes", "Os", bytes, "little");
    Py_DECREF(bytes);
    if (magnitude == nullptr || !big.negative) return magnitude;
    PyObject* negative = PyNumber_Negative(magnitude);
    Py_DECREF(magnitude);
    return negative;
  }

  PyObject* read_list(const ValueReader& value) {
    const shoal::heap::SequenceReader items = value.as_sequence();
    PyObject* list = PyList_New(static_cast<Py_ssize_t>(items.size()));
    if (list == nullptr) return nullptr;
    for (std::size_t i = 0; i < items.size(); ++i) {
      PyObject* item = read(items[i]);
      if (item == nullptr) return Py_DECREF(list), nullptr;
      PyList_SET_ITEM(list, static_cast<Py_ssize_t>(i), item);
    }
    return list;
  }

  PyObject* read_tuple(const ValueReader& value) {
    const shoal::heap::SequenceReader items = value.as_sequence();
    PyObject* tuple = PyTuple_New(static_cast<Py_ssize_t>(items.size()));
    if (tuple == nullptr) return nullptr;
    for (std::size_t i = 0; i < items.size(); ++i) {
      PyObject* item = read(items[i]);
      if (item == nullptr) return Py_DECREF(tuple), nullptr;
      PyTuple_SET_ITEM(tuple, static_cast<Py_ssize_t>(i), item);
    }
    return tuple;
  }

  PyObject* read_set(const ValueReader& value, PyObject* set) {
    if (set == nullptr) return nullptr;
    const shoal::heap::SequenceReader items = value.as_sequence();
    for (std::size_t i = 0; i < items.size(); ++i) {
      PyObject* item = read(items[i]);
      if (item == nullptr || PySet_Add(set, item) < 0) {
        Py_XDECREF(item);
        Py_DECREF(set);
        return nullptr;
      }
      Py_DECREF(item);
    }
    return set;
  }

  PyObject* read_dict(const ValueReader& value) {
    const shoal::heap::DictReader entries = value.as_dict();
    PyObject* dict = PyDict_New();
    if (dict == nullptr) return nullptr;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      PyObject* key = read(entries.key(i));
      PyObject* item = key != nullptr ? read(entries.value(i)) : nullptr;
      const int failed = item == nullptr || PyDict_SetItem(dict, key, item) < 0;
      Py_XDECREF(key);
      Py_XDECREF(item);
      if (failed) return Py_DECREF(dict), nullptr;
    }
    return dict;
  }

  PyObject* read_ndarray(const ValueReader& value) {
    const shoal::heap::ArrayView array = value.as_ndarray();
    BufferFields fields;
    const std::optional<DType> dtype = parse_dtype(array.dtype);
    if (!dtype) {
      PyErr_Format(PyExc_TypeError, "cannot receive an array of dtype '%.50s' yet (a later shoal increment)",
                   std::string(array.dtype).c_str());
      return nullptr;
    }
    fields.dtype = *dtype;
    fields.shape.assign(array.shape.begin(), array.shape.end());
    fields.strides.assign(fields.shape.size(), 0);
    // Buffers are C-contiguous (what a shoal sender writes always is): the
    // strides must be those, except where a dimension of 0 or 1 makes a
    // stride meaningless.
    std::uint64_t step = dtype->itemsize;
    for (std::size_t i = fields.shape.size(); i-- > 0;) {
      fields.strides[i] = static_cast<Py_ssize_t>(step);
      if (array.shape[i] > 1 && array.strides[i] != static_cast<std::int64_t>(step)) {
        PyErr_SetString(PyExc_TypeError, "cannot receive a non-contiguous array yet (a later shoal increment)");
        return nullptr;
      }
      step *= array.shape[i];
    }
    fields.nbytes = step;
    return make_buffer(std::move(fields), array.blob, array.offset);
  }

  // A read-only Buffer over `blob`, `offset` bytes in; a NumPy array over
  // it if NumPy is here (looked up once per thaw, when first needed).
  PyObject* make_buffer(BufferFields fields, const shoal::heap::BlobView& blob, std::uint64_t offset) {
    if (!numpy_looked_up_) {
      numpy_ = imported_numpy(state_);
      numpy_looked_up_ = true;
    }
    return as_numpy_array(make_plain_buffer(std::move(fields), blob, offset), numpy_);
  }

  // The Buffer itself, read-only, sharing the object (which holds the blob).
  PyObject* make_plain_buffer(BufferFields fields, const shoal::heap::BlobView& blob, std::uint64_t offset) {
    fields.owner = object_;
    fields.blob = blob.block;
    fields.offset = offset;
    fields.data = const_cast<std::byte*>(blob.bytes.data() + offset);  // exported read-only only
    fields.received = true;
    return new_buffer_object(state_, std::move(fields));
  }

  // shoal._pickling.loads_for_receive(payload, buffers, channels): each
  // out-of-band buffer a read-only memoryview of the arena memory (over a
  // Buffer, which keeps the object alive; NumPy's unpickler wraps such a
  // view without a copy), each persistent id the channel it names, opened
  // here.
  PyObject* read_pickled(const ValueReader& value) {
    const shoal::heap::PickledView pickled = value.as_pickled();
    PyObject* buffers = PyList_New(static_cast<Py_ssize_t>(pickled.buffers.size()));
    if (buffers == nullptr) return nullptr;
    for (std::size_t i = 0; i < pickled.buffers.size(); ++i) {
      PyObject* view = byte_view(pickled.buffers[i]);
      if (view == nullptr) return Py_DECREF(buffers), nullptr;
      PyList_SET_ITEM(buffers, static_cast<Py_ssize_t>(i), view);
    }
    PyObject* channels = PyList_New(static_cast<Py_ssize_t>(pickled.channels.size()));
    if (channels == nullptr) return Py_DECREF(buffers), nullptr;
    for (std::size_t i = 0; i < pickled.channels.size(); ++i) {
      PyObject* channel = open_channel(pickled.channels[i]);
      if (channel == nullptr) return Py_DECREF(buffers), Py_DECREF(channels), nullptr;
      PyList_SET_ITEM(channels, static_cast<Py_ssize_t>(i), channel);
    }
    PyObject* payload = PyMemoryView_FromMemory(
        const_cast<char*>(reinterpret_cast<const char*>(pickled.payload.data())),
        static_cast<Py_ssize_t>(pickled.payload.size()), PyBUF_READ);
    PyObject* module = payload != nullptr ? PyImport_ImportModule("shoal._pickling") : nullptr;
    PyObject* result = module != nullptr ? PyObject_CallMethod(module, "loads_for_receive", "OOO", payload,
                                                               buffers, channels)
                                         : nullptr;
    Py_XDECREF(module);
    Py_XDECREF(payload);
    Py_DECREF(channels);
    Py_DECREF(buffers);
    return result;
  }

  // A read-only memoryview of the bytes `blob` names.
  PyObject* byte_view(const shoal::heap::BlobView& blob) {
    BufferFields fields;
    fields.dtype = *parse_dtype("|u1");
    fields.shape = {static_cast<Py_ssize_t>(blob.bytes.size())};
    fields.strides = {1};
    fields.nbytes = blob.bytes.size();
    // The offset is not known here (a slice of the blob); a Buffer sent on
    // measures it from its data pointer (value_freeze.cpp).
    PyObject* buffer = make_plain_buffer(std::move(fields), blob, 0);
    if (buffer == nullptr) return nullptr;
    PyObject* view = PyMemoryView_FromObject(buffer);
    Py_DECREF(buffer);
    return view;
  }

  // The channel, opened through this interpreter's holder; the object
  // holds a reference on it meanwhile, so it is still there to open.
  PyObject* read_channel(const ValueReader& value) { return open_channel(value.as_channel()); }

  // A value of another frozen object: a view of it, opened through this
  // interpreter's holder (our own reference: the object being read holds
  // one meanwhile, so it is still there to take), or its plain value.
  PyObject* read_view(const ValueReader& value) {
    const shoal::heap::ViewRef ref = value.as_view();
    std::shared_ptr<FrozenRoot> root = open_frozen_root(state_, object_->session, ref.object);
    if (!root) return nullptr;
    try {
      const ValueReader target = root->object.at(ref.path);
      if (views_ == Views::thawed) return thaw_plain(state_, root, target);
      if (ref.path.empty()) return new_frozen_view(state_, root, {}, target);  // a view is of a container
      const std::vector<std::uint32_t> parent(ref.path.begin(), ref.path.end() - 1);
      return thaw_element(state_, root, target, parent, ref.path.back());
    } catch (...) {
      return raise_python_error(state_);
    }
  }

  // A channel or one of its ends (the object holds it meanwhile).
  PyObject* open_channel(shoal::Handle handle) { return open_channel_reference(state_, object_->session, handle); }

  ModuleState* state_;
  const std::shared_ptr<BlockOwner>& object_;
  Views views_;
  std::uint64_t budget_;
  shoal::Handle handle_;  // of the object read, for messages
  PyObject* numpy_ = nullptr;  // a reference, once looked up; may stay null
  bool numpy_looked_up_ = false;
};

bool is_container(ValueKind kind) {
  return kind == ValueKind::dict || kind == ValueKind::list || kind == ValueKind::tuple || kind == ValueKind::set ||
         kind == ValueKind::frozenset;
}

}  // namespace

PyObject* thaw_value(ModuleState* state, const std::shared_ptr<BlockOwner>& object) {
  try {
    const shoal::heap::FrozenObject frozen(object->session->arena(), object->block->handle());
    ValueThawer thawer(state, object, frozen, Views::opened);
    return thawer.read(frozen.root());
  } catch (...) {
    return raise_python_error(state);
  }
}

std::shared_ptr<FrozenRoot> open_frozen_root(ModuleState* state, const std::shared_ptr<ArenaSession>& session,
                                             shoal::Handle object) {
  try {
    auto owner = std::make_shared<BlockOwner>(
        session, without_gil([&] { return session->holder().retain(object); }));
    return std::make_shared<FrozenRoot>(std::move(owner));
  } catch (...) {
    raise_python_error(state);
    return nullptr;
  }
}

PyObject* thaw_plain(ModuleState* state, const std::shared_ptr<FrozenRoot>& root, const ValueReader& value) {
  ValueThawer thawer(state, root->owner, root->object, Views::thawed);
  return thawer.read(value);
}

PyObject* thaw_element(ModuleState* state, const std::shared_ptr<FrozenRoot>& root, const ValueReader& value,
                       const std::vector<std::uint32_t>& parent, std::uint32_t step) {
  try {
    // The leaves lookups return most, without a thawer.
    switch (value.kind()) {
      case ValueKind::int64: return PyLong_FromLongLong(value.as_int64());
      case ValueKind::float64: return PyFloat_FromDouble(value.as_float64());
      case ValueKind::text: {
        const std::string_view text = value.as_text();
        return PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "strict");
      }
      case ValueKind::none: Py_RETURN_NONE;
      case ValueKind::boolean: return PyBool_FromLong(value.as_bool());
      default: break;
    }
    if (is_container(value.kind())) {
      std::vector<std::uint32_t> path = parent;
      path.push_back(step);
      return new_frozen_view(state, root, std::move(path), value);
    }
  } catch (...) {
    return raise_python_error(state);
  }
  ValueThawer thawer(state, root->owner, root->object, Views::opened);
  return thawer.read(value);
}

PyObject* thaw_array_blob(ModuleState* state, const std::shared_ptr<BlockOwner>& blob) {
  const std::optional<shoal::heap::ArrayBlob> array = shoal::heap::parse_array_blob(blob->block->bytes());
  if (!array) {
    PyErr_Format(state->corrupt_object, "arena '%s': the array blob %s has a malformed header",
                 blob->session->arena().name().c_str(), shoal::to_string(blob->block->handle()).c_str());
    return nullptr;
  }
  const std::optional<DType> dtype = parse_dtype(array->dtype);
  if (!dtype) {
    PyErr_Format(PyExc_TypeError, "cannot receive an array of dtype '%.50s' yet (a later shoal increment)",
                 array->dtype.c_str());
    return nullptr;
  }
  BufferFields fields;
  fields.dtype = *dtype;
  fields.shape.assign(array->shape.begin(), array->shape.end());
  // The same size parse_array_blob checked, unless it does not fit a Py_ssize_t.
  if (c_strides(fields.shape, dtype->itemsize, &fields.strides, &fields.nbytes) < 0) return nullptr;
  fields.owner = blob;
  fields.blob = blob->block->handle();
  fields.offset = array->data_offset;
  fields.data = blob->block->bytes().data() + array->data_offset;  // exported read-only only
  fields.received = true;
  PyObject* numpy = imported_numpy(state);
  PyObject* result = as_numpy_array(new_buffer_object(state, std::move(fields)), numpy);
  Py_XDECREF(numpy);
  return result;
}

}  // namespace shoal_py
