// value_freeze.cpp — walking a Python value and writing it with a Freezer.
//
// The walk runs with the GIL held (it reads Python objects). Built-in
// values are written natively for exact types only (a subclass of int is
// not an int here: its methods could do anything; it is pickled). Pickling
// runs user code, which could change a container being walked: the walk
// holds a reference on each item and checks sizes as it goes.
//
// Beyond the built-in types:
//  * NumPy arrays and memoryviews of numbers become arrays (ndarray); their
//    bytes are referenced in place when they already lie in a shoal blob
//    (a Buffer, or an array or memoryview over one), else copied once into
//    a new blob. A Buffer referenced in place is sealed first
//    (buffer_seal.hpp): BufferError while writable views of it are alive,
//    except the array or memoryview sent whole, made read-only then. A non-contiguous array is made C-contiguous as it is
//    copied, so what arrives is always C-contiguous (shoal.Buffer is).
//  * Everything else is pickled (protocol 5) with its out-of-band buffers
//    placed in blobs the same way, zero-copy for shoal memory. Pickling runs
//    user code (__reduce__), which is why it comes last: the built-in types
//    above are never pickled.
//
// A failure anywhere leaves nothing behind: the Freezer, never published,
// frees every blob it made when it goes.
#include "value_freeze.hpp"

#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "buffer_format.hpp"
#include "buffer_seal.hpp"
#include "call_site.hpp"
#include "buffer_type.hpp"
#include "channel_ends.hpp"
#include "channel_type.hpp"
#include "errors.hpp"
#include "frozen_view_type.hpp"
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
  PyObject* value = nullptr;  // what sits here (borrowed: the walk holds it)
  std::uint32_t depth = 0;    // containers above it

  PathStep child_index(std::size_t i, PyObject* v) const { return {this, Kind::index, i, nullptr, v, depth + 1}; }
  PathStep child(Kind k, PyObject* o, PyObject* v) const { return {this, k, 0, o, v, depth + 1}; }
};

// Below this depth a container is not looked for among its ancestors: a
// container that contains itself is found a few levels further down, and
// the values people send pay nothing for the search.
constexpr std::uint32_t kRecursionCheckDepth = 32;

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
  // `borrowed` keeps the owner of every blob the Freezer borrows alive
  // until the caller lets it go, after publish(): pickling runs user code,
  // which could drop the last Python reference to a Buffer already written.
  ValueFreezer(ModuleState* state, ArenaSession& session, shoal::heap::Freezer& freezer,
               std::vector<std::shared_ptr<BlockOwner>>& borrowed)
      : state_(state), session_(session), freezer_(freezer), borrowed_(borrowed) {}

  // Writes `value` at `path`. Returns -1 with a Python error set. May throw
  // the core's errors (ArenaFull, InvalidArgument for too deep a nesting).
  int write(PyObject* value, ValueWriter out, const PathStep& path) {
    if (value == Py_None) return out.set_none(), 0;
    if (PyBool_Check(value)) return out.set_bool(value == Py_True), 0;
    if (PyLong_CheckExact(value)) return write_int(value, out);
    if (PyFloat_CheckExact(value)) return out.set_float(PyFloat_AS_DOUBLE(value)), 0;
    if (PyUnicode_CheckExact(value)) return write_text(value, out, path);
    if (PyBytes_CheckExact(value)) {
      const auto* data = reinterpret_cast<const std::byte*>(PyBytes_AS_STRING(value));
      out.set_bytes({data, static_cast<std::size_t>(PyBytes_GET_SIZE(value))});
      return 0;
    }
    const bool container = PyTuple_CheckExact(value) || PyList_CheckExact(value) || PyDict_CheckExact(value) ||
                           PyAnySet_CheckExact(value);
    if (container && path.depth >= kRecursionCheckDepth && refuse_nesting(value, path) < 0) return -1;
    if (PyTuple_CheckExact(value)) return write_sequence(value, out.set_tuple(PyTuple_GET_SIZE(value)), path);
    if (PyList_CheckExact(value)) return write_sequence(value, out.set_list(PyList_GET_SIZE(value)), path);
    if (PyDict_CheckExact(value)) return write_dict(value, out, path);
    if (PyFrozenSet_CheckExact(value)) return write_set(value, out.set_frozenset(PySet_GET_SIZE(value)), path);
    if (PySet_CheckExact(value)) return write_set(value, out.set_set(PySet_GET_SIZE(value)), path);
    if (BufferFields* buffer = buffer_fields(state_, value)) return write_buffer(*buffer, out, path);
    if (PyObject_TypeCheck(value, state_->channel_type)) return write_channel(value, out, path);
    if (FrozenViewFields* view = frozen_view_fields(state_, value)) return write_view(*view, value, out, path);
    if (is_numpy_array(value) || is_formatted_memoryview(value)) {
      const int written = write_array(value, out, path);
      if (written != kNotAnArray) return written;
    }
    if (PyMemoryView_Check(value)) return write_byte_view(value, out, path);
    return write_pickled(value, out, path);
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

  int write_text(PyObject* value, ValueWriter out, const PathStep& path) {
    Py_ssize_t length = 0;
    const char* utf8 = PyUnicode_AsUTF8AndSize(value, &length);  // fails on lone surrogates
    if (utf8 == nullptr) {
      PyObject* cause = PyErr_GetRaisedException();
      PyErr_Format(PyExc_ValueError, "%s: cannot send this str: it has no UTF-8 form (%S)", spell(path).c_str(), cause);
      PyObject* error = PyErr_GetRaisedException();
      PyException_SetCause(error, cause);  // steals cause
      PyErr_SetRaisedException(error);
      return -1;
    }
    out.set_text({utf8, static_cast<std::size_t>(length)});
    return 0;
  }

  // Containers are walked with a reference on each item, and their size is
  // checked as the walk goes: pickling an element runs user code
  // (__reduce__), which could change the container or drop the item.
  int write_sequence(PyObject* value, shoal::heap::SequenceWriter items, const PathStep& path) {
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (PyList_Check(value) && static_cast<std::size_t>(PyList_GET_SIZE(value)) != items.size()) {
        return changed_size("list", path);
      }
      PyObject* item = PyTuple_Check(value) ? PyTuple_GET_ITEM(value, i) : PyList_GET_ITEM(value, i);
      Py_INCREF(item);
      const int result = write(item, items[i], path.child_index(i, item));
      Py_DECREF(item);
      if (result < 0) return -1;
    }
    return 0;
  }

  int write_set(PyObject* value, shoal::heap::SequenceWriter items, const PathStep& path) {
    PyObject* iterator = PyObject_GetIter(value);  // raises RuntimeError if the set changes size
    if (iterator == nullptr) return -1;
    int result = 0;
    for (std::size_t i = 0; i < items.size() && result == 0; ++i) {
      PyObject* item = PyIter_Next(iterator);
      if (item == nullptr) {
        result = PyErr_Occurred() ? -1 : changed_size("set", path);
        break;
      }
      result = write(item, items[i], path.child(PathStep::Kind::set_item, item, item));
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
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (static_cast<std::size_t>(PyDict_GET_SIZE(value)) != entries.size() ||
          !PyDict_Next(value, &position, &key, &item)) {
        return changed_size("dict", path);
      }
      Py_INCREF(key);
      Py_INCREF(item);
      int result = write(key, entries.key(i), path.child(PathStep::Kind::dict_key, key, key));
      if (result == 0) result = write(item, entries.value(i), path.child(PathStep::Kind::dict_value, key, item));
      Py_DECREF(key);
      Py_DECREF(item);
      if (result < 0) return -1;
    }
    return 0;
  }

  // A container that contains itself would be written for ever, and one
  // nested past the format's limit cannot be written: either is refused
  // here, naming where, before the Freezer's own limit says it without.
  static int refuse_nesting(PyObject* value, const PathStep& path) {
    const PathStep* first = nullptr;  // the outermost place `value` sits
    for (const PathStep* step = path.parent; step != nullptr; step = step->parent) {
      if (step->value == value) first = step;
    }
    if (first != nullptr) {
      const PathStep* again = &path;  // the first place it sits inside itself
      for (const PathStep* step = path.parent; step != first; step = step->parent) {
        if (step->value == value) again = step;
      }
      PyErr_Format(PyExc_ValueError, "%s: this %.100s is %s itself: a container that contains itself cannot be sent",
                   spell(*again).c_str(), Py_TYPE(value)->tp_name, spell(*first).c_str());
      return -1;
    }
    if (path.depth >= shoal::heap::kMaxDepth) {
      PyErr_Format(PyExc_ValueError, "%s: nested deeper than %u containers, more than a value may be",
                   spell(path).c_str(), shoal::heap::kMaxDepth);
      return -1;
    }
    return 0;
  }

  // Read-only after send: seals the Buffer whose block is about to be
  // referenced. A refusal inside the value names where it sits.
  static int seal(ModuleState* state, const SealRequest& request, const PathStep& path) {
    if (seal_buffer(state, request) == 0) return 0;
    if (path.kind != PathStep::Kind::root && PyErr_ExceptionMatches(PyExc_BufferError)) {
      PyObject* cause = PyErr_GetRaisedException();
      PyErr_Format(PyExc_BufferError, "%s: %S", spell(path).c_str(), cause);
      Py_DECREF(cause);
    }
    return -1;
  }

  // What the walk holds of a value at `path` beyond the caller's names:
  // the call's argument at the root; inside, its container's slot and the
  // walk's own reference.
  static Py_ssize_t references_held(const PathStep& path) { return path.kind == PathStep::Kind::root ? 1 : 2; }

  static int changed_size(const char* what, const PathStep& path) {
    PyErr_Format(PyExc_RuntimeError, "%s: the %s changed size while it was being sent", spell(path).c_str(), what);
    return -1;
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
    SealRequest request;
    request.buffer = buffer.self;
    request.buffer_references = references_held(path);
    if (seal(state_, request, path) < 0) return -1;
    shoal::heap::BlobSlice slice;
    if (buffer.owner->session.get() == &session_ && buffer.owner->block->handle() == buffer.blob) {
      // Borrowed, not referenced (three arena lock round trips fewer per
      // buffer sent): the Buffer's owner holds the blob, kept until publish.
      slice = freezer_.borrow(*buffer.owner->block, buffer.offset, buffer.nbytes);
      borrowed_.push_back(buffer.owner);
    } else {
      // Received, or held through another Arena object: the Freezer needs
      // a reference of the channel's own holder on the blob itself.
      // Its offset is measured from the pointers: a Buffer made for a
      // pickle's buffer does not know where its bytes start in the blob.
      const std::optional<std::uint64_t> offset = offset_in_blob(buffer, buffer.data, buffer.nbytes);
      if (!offset) {
        PyErr_Format(PyExc_ValueError, "%s: the buffer's bytes are not inside its block", spell(path).c_str());
        return -1;
      }
      slice = freezer_.reference(session_.holder().retain(buffer.blob), *offset, buffer.nbytes);
    }
    std::vector<std::uint64_t> shape(buffer.shape.begin(), buffer.shape.end());
    std::vector<std::int64_t> strides(buffer.strides.begin(), buffer.strides.end());
    out.set_ndarray({buffer.dtype.typestr, shape, strides}, slice);
    return 0;
  }

  // A Channel crosses as itself: the object takes a reference on the
  // channel block, so it lives while the value is in flight (a pickled
  // ticket would not keep it alive).
  int write_channel(PyObject* value, ValueWriter out, const PathStep& path) {
    shoal::Handle handle;
    if (channel_handle(value, path, &handle) < 0) return -1;
    out.set_channel(handle);
    return 0;
  }

  // A view of a frozen value: of this arena, a FrozenView naming its object
  // (the object being written takes a reference on it); of another, pickled
  // by reference (its __reduce_ex__: an in-flight reference on its block),
  // so that it still arrives as a view of the same memory.
  int write_view(const FrozenViewFields& view, PyObject* value, ValueWriter out, const PathStep& path) {
    if (view.root->owner->session->arena().name() == session_.arena().name()) {
      out.set_view(view.root->owner->block->handle(), view.path);
      return 0;
    }
    return write_pickled(value, out, path);
  }

  // The handle of Channel `value`, which must be open and of this arena.
  int channel_handle(PyObject* value, const PathStep& path, shoal::Handle* handle) {
    const ChannelFields& channel = reinterpret_cast<ChannelObject*>(value)->fields;
    if (!channel.channel || channel.session->arena().name() != session_.arena().name()) {
      PyErr_Format(PyExc_ValueError, "%s: the channel is not one of arena '%s'", spell(path).c_str(),
                   session_.arena().name().c_str());
      return -1;
    }
    return reference_handle(value, handle);  // an end's, or the channel's
  }

  // ------------------------------------------------ arrays (buffer exporters)

  static constexpr int kNotAnArray = 1;  // write_array: pickle it instead

  // An exact numpy.ndarray (a subclass may add state an array would lose:
  // it is pickled). NumPy is looked up once, and only if already imported:
  // an object cannot be an array of a module that was never loaded.
  bool is_numpy_array(PyObject* value) {
    if (!numpy_looked_up_) {
      numpy_looked_up_ = true;
      PyObject* name = PyUnicode_FromString("numpy");
      PyObject* numpy = name != nullptr ? PyImport_GetModule(name) : nullptr;
      Py_XDECREF(name);
      PyObject* type = numpy != nullptr ? PyObject_GetAttrString(numpy, "ndarray") : nullptr;
      Py_XDECREF(numpy);
      if (type != nullptr && PyType_Check(type)) ndarray_type_ = reinterpret_cast<PyTypeObject*>(type);
      else Py_XDECREF(type);
      PyErr_Clear();
    }
    return ndarray_type_ != nullptr && Py_IS_TYPE(value, ndarray_type_);
  }

  // A memoryview of anything but plain bytes. A memoryview of bytes (format
  // "B", one dimension) is written by write_byte_view instead, so that it
  // arrives as a memoryview; an array arrives as a NumPy array (or a
  // shoal.Buffer without NumPy).
  static bool is_formatted_memoryview(PyObject* value) {
    if (!PyMemoryView_Check(value)) return false;
    const Py_buffer* view = PyMemoryView_GET_BUFFER(value);
    const bool plain_bytes = view->ndim == 1 && (view->format == nullptr || std::strcmp(view->format, "B") == 0);
    return !plain_bytes;
  }

  // Writes an exporter of numbers as an ndarray. Returns kNotAnArray (no
  // error set) if its elements are not numbers shoal arrays hold (an object
  // array, a struct): the caller pickles it then.
  int write_array(PyObject* value, ValueWriter out, const PathStep& path) {
    Py_buffer view;
    if (PyObject_GetBuffer(value, &view, PyBUF_RECORDS_RO) < 0) {
      PyErr_Clear();
      return kNotAnArray;
    }
    const std::optional<std::string> typestr = typestr_of_format(view.format, view.itemsize);
    int result = kNotAnArray;
    if (typestr && parse_dtype(*typestr)) {
      std::vector<std::uint64_t> shape(view.shape, view.shape + view.ndim);
      std::vector<std::int64_t> strides(shape.size(), 0);
      std::int64_t step = view.itemsize;  // C-contiguous: what the bytes will be
      for (std::size_t i = shape.size(); i-- > 0;) {
        strides[i] = step;
        step *= static_cast<std::int64_t>(shape[i]);
      }
      shoal::heap::BlobSlice slice;
      result = contiguous_bytes(value, view, 'C', &slice, sent_whole(value, path), path);
      if (result == 0) out.set_ndarray({*typestr, shape, strides}, slice);
    }
    PyBuffer_Release(&view);
    return result;
  }

  // How a value written from a buffer taken of it (write_array,
  // write_byte_view) is seen by the seal: sent whole at the root, it may be
  // made read-only; the call holds it, and so does that buffer (one
  // reference, and for a memoryview one export).
  static SealRequest sent_whole(PyObject* value, const PathStep& path) {
    SealRequest request;
    if (path.kind != PathStep::Kind::root) return request;
    request.sent = value;
    request.sent_references = 2;
    request.sent_exports = PyMemoryView_Check(value) ? 1 : 0;
    return request;
  }

  // The bytes of `view` (exported by `exporter`) in a blob slice, in
  // `order` ('C', or 'A' for either C or Fortran order): referenced in
  // place if they lie in a shoal blob and are laid out so (the Buffer
  // sealed first, as `sent` says), else copied once (a layout that is
  // neither goes through a C-contiguous scratch copy). Returns -1 with a
  // Python error set.
  int contiguous_bytes(PyObject* exporter, const Py_buffer& view, char order, shoal::heap::BlobSlice* slice,
                       const SealRequest& sent, const PathStep& path) {
    const auto length = static_cast<std::uint64_t>(view.len);
    if (PyBuffer_IsContiguous(&view, order)) {
      const auto* data = static_cast<const std::byte*>(view.buf);
      const int referenced = reference_shoal_memory(exporter, data, length, slice, sent, path);
      if (referenced != 0) return referenced < 0 ? -1 : 0;
      *slice = copy_bytes({data, length});
      return 0;
    }
    std::vector<std::byte> scratch(length);
    if (PyBuffer_ToContiguous(scratch.data(), &view, view.len, 'C') < 0) return -1;
    *slice = copy_bytes(scratch);
    return 0;
  }

  // A new blob holding `bytes`. An empty range still gets a one-byte blob:
  // every array has one to point into. A large copy runs without the GIL
  // (other threads need not wait for a memcpy, nor for the arena lock): the
  // exporter cannot move or resize its memory while we hold its export.
  shoal::heap::BlobSlice copy_bytes(std::span<const std::byte> bytes) {
    static constexpr std::size_t kCopyWithoutGil = 64 * 1024;
    if (bytes.size() >= kCopyWithoutGil) return without_gil([&] { return freezer_.copy_to_blob(bytes); });
    if (!bytes.empty()) return freezer_.copy_to_blob(bytes);
    const std::byte nothing{0};
    shoal::heap::BlobSlice slice = freezer_.copy_to_blob({&nothing, 1});
    slice.length = 0;
    return slice;
  }

  // 1, with `slice` set, if [data, data + length) lies in the blob of a
  // shoal.Buffer of this arena that `exporter` views: the exporter itself,
  // or found through the bases of memoryviews, NumPy arrays and pickle
  // buffers. The range is checked against the blob: a base chain proves
  // what owns the memory, not that these bytes are in it. The Buffer is
  // sealed first (`sent`: what the seal may make read-only); -1 with
  // BufferError if it cannot be. 0 if the bytes are not shoal memory.
  int reference_shoal_memory(PyObject* exporter, const std::byte* data, std::uint64_t length,
                             shoal::heap::BlobSlice* slice, SealRequest sent, const PathStep& path) {
    const BufferFields* buffer = shoal_buffer_under(exporter);
    if (buffer == nullptr || buffer->owner->session->arena().name() != session_.arena().name()) return 0;
    const std::optional<std::uint64_t> offset = offset_in_blob(*buffer, data, length);
    if (!offset) return 0;
    sent.buffer = buffer->self;
    sent.buffer_references = 0;  // it is reached through exports (or a pointer-keeping array: refused)
    if (seal(state_, sent, path) < 0) return -1;
    *slice = freezer_.reference(session_.holder().retain(buffer->blob), *offset, length);
    return 1;
  }

  // Where [data, data + length) starts in `buffer`'s blob, or nothing if it
  // is not inside. Measured in the mapping the Buffer's pointers belong to
  // (its own session's): each Arena object maps the arena at its own
  // address, so the channel's mapping would give a wrong answer.
  static std::optional<std::uint64_t> offset_in_blob(const BufferFields& buffer, const std::byte* data,
                                                     std::uint64_t length) {
    const std::span<std::byte> block = buffer.owner->session->arena().payload(buffer.blob);
    if (data < block.data() || length > block.size() ||
        static_cast<std::uint64_t>(data - block.data()) > block.size() - length) {
      return std::nullopt;
    }
    return static_cast<std::uint64_t>(data - block.data());
  }

  // The shoal.Buffer whose memory `object` views, or null. Follows at most
  // a few links: views of views of views are rare, and the chain is only
  // a shortcut (without it the bytes are copied, never lost).
  BufferFields* shoal_buffer_under(PyObject* object) {
    for (int link = 0; object != nullptr && link < 16; ++link) {
      if (BufferFields* fields = buffer_fields(state_, object)) return fields;
      if (PyMemoryView_Check(object)) {
        object = PyMemoryView_GET_BUFFER(object)->obj;
      } else if (PyObject_TypeCheck(object, &PyPickleBuffer_Type)) {
        const Py_buffer* view = PyPickleBuffer_GetBuffer(object);
        object = view != nullptr ? view->obj : nullptr;
      } else if (is_numpy_array(object)) {
        // The array's base, borrowed: the array holds it and the array is
        // held by the value being sent.
        PyObject* base = PyObject_GetAttrString(object, "base");
        if (base == nullptr) return PyErr_Clear(), nullptr;
        Py_DECREF(base);
        object = base == Py_None ? nullptr : base;
      } else {
        return nullptr;
      }
    }
    return nullptr;
  }

  // ---------------------------------------------------- anything else: pickle

  // shoal._pickling.dumps_for_send: a protocol-5 pickle whose out-of-band
  // buffers and Channels (persistent ids) are written beside the payload by
  // set_pickled, so the object references them all.
  int write_pickled(PyObject* value, ValueWriter out, const PathStep& path) {
    PyObject* buffers = PyList_New(0);
    PyObject* channels = buffers != nullptr ? PyList_New(0) : nullptr;
    PyObject* payload = channels != nullptr ? pickle_for_send(value, buffers, channels) : nullptr;
    int result = -1;
    if (payload == nullptr) {
      if (channels != nullptr) explain_unpicklable(value, path);
    } else {
      std::vector<shoal::heap::BlobSlice> slices(static_cast<std::size_t>(PyList_GET_SIZE(buffers)));
      result = 0;
      for (std::size_t i = 0; i < slices.size() && result == 0; ++i) {
        result = pickle_buffer_bytes(PyList_GET_ITEM(buffers, i), &slices[i], path);
      }
      std::vector<shoal::Handle> handles;
      for (Py_ssize_t i = 0; i < PyList_GET_SIZE(channels) && result == 0; ++i) {
        result = channel_handle(PyList_GET_ITEM(channels, i), path, &handles.emplace_back());
      }
      if (result == 0) {
        const auto* data = reinterpret_cast<const std::byte*>(PyBytes_AS_STRING(payload));
        out.set_pickled({data, static_cast<std::size_t>(PyBytes_GET_SIZE(payload))}, slices, handles);
      }
    }
    Py_XDECREF(payload);
    Py_XDECREF(channels);
    Py_XDECREF(buffers);
    return result;
  }

  // The pickle of `value` (a bytes object); its out-of-band buffers
  // (PickleBuffers) appended to `buffers`, its Channels to `channels`.
  PyObject* pickle_for_send(PyObject* value, PyObject* buffers, PyObject* channels) {
    PyObject* module = PyImport_ImportModule("shoal._pickling");
    PyObject* append = module != nullptr ? PyObject_GetAttrString(buffers, "append") : nullptr;
    PyObject* payload =
        append != nullptr ? PyObject_CallMethod(module, "dumps_for_send", "OOO", value, append, channels) : nullptr;
    if (payload != nullptr && !PyBytes_Check(payload)) {
      Py_CLEAR(payload);
      PyErr_SetString(PyExc_TypeError, "shoal._pickling.dumps_for_send returned something other than bytes");
    }
    Py_XDECREF(append);
    Py_XDECREF(module);
    return payload;
  }

  // A memoryview of bytes is not picklable, but a pickle whose whole value
  // is its first out-of-band buffer is: the receiver's unpickler hands back
  // the buffer it is given, a read-only memoryview of the arena. These are
  // the bytes pickle.dumps(PickleBuffer(view), protocol=5,
  // buffer_callback=...) writes (PROTO 5, NEXT_BUFFER, STOP), less the
  // READONLY_BUFFER opcode: what the receiver is given is read-only already.
  int write_byte_view(PyObject* value, ValueWriter out, const PathStep& path) {
    static constexpr std::byte kFirstBuffer[] = {std::byte{0x80}, std::byte{0x05}, std::byte{0x97}, std::byte{'.'}};
    Py_buffer view;
    if (PyObject_GetBuffer(value, &view, PyBUF_RECORDS_RO) < 0) return -1;
    shoal::heap::BlobSlice slice;
    const int result = contiguous_bytes(value, view, 'C', &slice, sent_whole(value, path), path);
    PyBuffer_Release(&view);
    if (result == 0) out.set_pickled(kFirstBuffer, std::span(&slice, 1));
    return result;
  }

  // One out-of-band buffer's bytes, as the pickle lays them out (NumPy
  // hands over C- or Fortran-contiguous arrays).
  int pickle_buffer_bytes(PyObject* buffer, shoal::heap::BlobSlice* slice, const PathStep& path) {
    Py_buffer view;
    if (PyObject_GetBuffer(buffer, &view, PyBUF_RECORDS_RO) < 0) return -1;
    const int result = contiguous_bytes(buffer, view, 'A', slice, SealRequest{}, path);
    PyBuffer_Release(&view);
    return result;
  }

  // Replaces the pending pickling error with a TypeError naming the path:
  // "value['a'][2]: cannot send 'generator'" when the value itself is what
  // pickle refused, else the reason pickle gave ("...: cannot send 'Point':
  // it cannot be pickled (Can't pickle local object ...)"), chained.
  void explain_unpicklable(PyObject* value, const PathStep& path) {
    PyObject* cause = PyErr_GetRaisedException();
    const char* type_name = Py_TYPE(value)->tp_name;
    const std::string refused = std::string("cannot pickle '") + type_name + "' object";
    PyObject* reason = cause != nullptr ? PyObject_Str(cause) : nullptr;
    const char* reason_text = reason != nullptr ? PyUnicode_AsUTF8(reason) : nullptr;
    if (reason_text == nullptr) PyErr_Clear();
    if (reason_text != nullptr && refused == reason_text) {
      PyErr_Format(PyExc_TypeError, "%s: cannot send '%.100s'", spell(path).c_str(), type_name);
    } else {
      PyErr_Format(PyExc_TypeError, "%s: cannot send '%.100s': it cannot be pickled (%.300s)", spell(path).c_str(),
                   type_name, reason_text != nullptr ? reason_text : "unknown reason");
    }
    Py_XDECREF(reason);
    if (cause != nullptr) {
      PyObject* error = PyErr_GetRaisedException();
      PyException_SetCause(error, cause);  // steals cause
      PyErr_SetRaisedException(error);
    }
  }

  ModuleState* state_;
  ArenaSession& session_;
  shoal::heap::Freezer& freezer_;
  std::vector<std::shared_ptr<BlockOwner>>& borrowed_;
  bool numpy_looked_up_ = false;
  PyTypeObject* ndarray_type_ = nullptr;  // a reference, while this walk lasts

 public:
  ~ValueFreezer() { Py_XDECREF(ndarray_type_); }
};

}  // namespace

OwnedBlock freeze_value(ModuleState* state, ArenaSession& session, PyObject* value, bool checksum,
                        shoal::heap::Freezer::Indexing indexing) {
  // `borrowed` is declared first, so it goes last: a borrowed blob's owner
  // may be the last now, and goes as owners do (block_owner.hpp). An
  // unpublished Freezer frees what it made when it goes: as an Owned.
  std::vector<std::shared_ptr<BlockOwner>> borrowed;
  Owned<shoal::heap::Freezer> freezer;
  OwnedBlock object;
  try {
    freezer.emplace(session.holder(), indexing);
    ValueFreezer walker(state, session, *freezer, borrowed);
    PathStep root;
    root.value = value;
    if (walker.write(value, freezer->root(), root) == 0) {
      // The top-level object records the Python line that sent it (its
      // copied blobs stay unknown: the object names them).
      const std::uint32_t site = calling_site(state, session);
      object.emplace(without_gil([&] { return freezer->publish(site, checksum); }));
    }
  } catch (...) {
    raise_python_error(state);
  }
  return object;
}

}  // namespace shoal_py
