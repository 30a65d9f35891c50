// buffer_type.cpp — shoal.Buffer: an array of numbers living in an arena.
//
// Entry points: empty_buffer (arena.empty and shoal.empty make a writable
// Buffer over a new blob block), new_buffer_object (value_thaw.cpp makes
// read-only ones for what arrives through a channel), and the buffer
// protocol (buffer_getbuffer), through which memoryview and NumPy see the
// memory in place.
//
// Writable until sealed: a send, freeze or pickle seals the Buffer as it
// publishes its block (buffer_seal.hpp), the core flags the block frozen,
// and its bytes are final from then on. Every export after that is
// read-only, and a request for a writable one raises BufferError. Views
// handed out before are what the seal must account for: the protocol below
// counts the writable exports alive (a counter, so that a send with none
// pays two loads), and remembers whether anyone asked for one.
#include "buffer_type.hpp"

#include <algorithm>
#include <limits>
#include <new>
#include <string>
#include <utility>

#include "arena_type.hpp"
#include "buffer_seal.hpp"
#include "call_site.hpp"
#include "errors.hpp"
#include "fast_args.hpp"
#include "gil.hpp"
#include "shoal/array_blob.hpp"
#include "shoal/heap_format.hpp"
#include "shoal/layout.hpp"

namespace shoal_py {
namespace {

BufferObject* as_buffer(PyObject* object) { return reinterpret_cast<BufferObject*>(object); }

// ------------------------------------------------------ shape and dtype ----

// Shape from an int or a sequence of ints, each >= 0. Returns -1 with an error set.
int parse_shape(PyObject* object, std::vector<Py_ssize_t>* shape) {
  PyObject* items = PyLong_Check(object) ? PyTuple_Pack(1, object)
                                         : PySequence_Tuple(object);
  if (items == nullptr) {
    PyErr_Format(PyExc_TypeError, "shape must be an int or a sequence of ints, not %.100s",
                 Py_TYPE(object)->tp_name);
    return -1;
  }
  for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(items); ++i) {
    const Py_ssize_t dim = PyNumber_AsSsize_t(PyTuple_GET_ITEM(items, i), PyExc_OverflowError);
    if (dim == -1 && PyErr_Occurred()) {
      Py_DECREF(items);
      return -1;
    }
    if (dim < 0) {
      Py_DECREF(items);
      PyErr_Format(PyExc_ValueError, "shape dimensions must be >= 0, got %zd", dim);
      return -1;
    }
    shape->push_back(dim);
  }
  Py_DECREF(items);
  return 0;
}

// ----------------------------------------------------------- dtypes ----
//
// Wherever shoal takes a dtype it takes what numpy.dtype() takes: a str
// ("float64", "<f8", "f8", "half"), a type (numpy.float32, float) or a
// numpy.dtype. NumPy is never imported for it: the spellings shoal parses
// itself (dtype.hpp) and Python's own number types need no NumPy, and an
// object that only NumPy understands (numpy.float32, "double") can only
// exist once NumPy is imported, so it is asked then.

// The plain name of a dtype given as one of Python's number types, as
// numpy.dtype() reads them (int is int64 on the 64-bit Linux shoal runs on).
const char* builtin_type_name(PyObject* object) {
  if (object == reinterpret_cast<PyObject*>(&PyFloat_Type)) return "float64";
  if (object == reinterpret_cast<PyObject*>(&PyLong_Type)) return "int64";
  if (object == reinterpret_cast<PyObject*>(&PyBool_Type)) return "bool";
  if (object == reinterpret_cast<PyObject*>(&PyComplex_Type)) return "complex128";
  return nullptr;
}

// numpy.dtype(object).str when NumPy is imported already; nullptr with no
// error set when it is not, with numpy.dtype's error set when it refuses.
PyObject* numpy_type_string(PyObject* object) {
  PyObject* name = PyUnicode_FromString("numpy");
  if (name == nullptr) return nullptr;
  PyObject* numpy = PyImport_GetModule(name);
  Py_DECREF(name);
  if (numpy == Py_None) Py_CLEAR(numpy);  // sys.modules["numpy"] = None: its import is blocked
  if (numpy == nullptr) return nullptr;
  PyObject* dtype_name = PyUnicode_FromString("dtype");
  PyObject* dtype = dtype_name != nullptr ? PyObject_CallMethodOneArg(numpy, dtype_name, object) : nullptr;
  Py_XDECREF(dtype_name);
  Py_DECREF(numpy);
  if (dtype == nullptr) return nullptr;
  PyObject* text = PyObject_GetAttrString(dtype, "str");
  Py_DECREF(dtype);
  return text;
}

// The type string to parse for `object`: a new reference, or nullptr with
// an error set.
PyObject* dtype_text(PyObject* object) {
  if (PyUnicode_Check(object)) return Py_NewRef(object);
  if (const char* builtin = builtin_type_name(object)) return PyUnicode_FromString(builtin);
  PyObject* text = numpy_type_string(object);
  if (text != nullptr || PyErr_Occurred()) return text;
  // No NumPy here: a dtype-like object that says its NumPy type string.
  text = PyObject_GetAttrString(object, "str");
  if (text != nullptr && PyUnicode_Check(text)) return text;
  Py_XDECREF(text);
  PyErr_Clear();
  PyErr_Format(PyExc_TypeError,
               "dtype must be what numpy.dtype() accepts: a str like 'float64' or '<f8', a type like float or "
               "numpy.float32, or a numpy.dtype; not %.100s",
               Py_TYPE(object)->tp_name);
  return nullptr;
}

// Raises the ValueError for a dtype shoal buffers cannot hold, saying what
// happens to arrays of it instead.
void refuse_dtype(PyObject* text) {
  Py_ssize_t length = 0;
  const char* utf8 = PyUnicode_AsUTF8AndSize(text, &length);
  const bool structured = utf8 != nullptr && length > 1 && utf8[1] == 'V';
  PyErr_Clear();
  PyErr_Format(PyExc_ValueError,
               "unsupported dtype %R: shoal buffers hold bool, int8..int64, uint8..uint64, float16, float32, "
               "float64, complex64 and complex128%s",
               text,
               structured ? " (not structured dtypes: NumPy arrays of those are sent and pickled as NumPy pickles "
                            "them, their bytes out of band)"
                          : " (NumPy arrays of other dtypes are sent and pickled as NumPy pickles them)");
}

// A dtype from anything numpy.dtype() accepts. Returns -1 with an error set.
int parse_dtype_object(PyObject* object, DType* dtype) {
  std::optional<DType> parsed;
  PyObject* text = dtype_text(object);
  if (text == nullptr) return -1;
  Py_ssize_t length = 0;
  const char* utf8 = PyUnicode_AsUTF8AndSize(text, &length);
  if (utf8 == nullptr) {
    Py_DECREF(text);
    return -1;
  }
  parsed = parse_dtype(std::string_view(utf8, static_cast<std::size_t>(length)));
  if (!parsed && PyUnicode_Check(object)) {
    // A spelling only NumPy knows ("double", "d", "half"), if NumPy is here.
    PyObject* numpy_text = numpy_type_string(object);
    if (numpy_text == nullptr && PyErr_Occurred()) {
      Py_DECREF(text);
      return -1;
    }
    if (numpy_text != nullptr) {
      Py_SETREF(text, numpy_text);
      utf8 = PyUnicode_AsUTF8AndSize(text, &length);
      if (utf8 == nullptr) {
        Py_DECREF(text);
        return -1;
      }
      parsed = parse_dtype(std::string_view(utf8, static_cast<std::size_t>(length)));
    }
  }
  if (!parsed) {
    refuse_dtype(text);
    Py_DECREF(text);
    return -1;
  }
  Py_DECREF(text);
  *dtype = std::move(*parsed);
  return 0;
}

// -------------------------------------------------------- the protocol ----

// Marks, in Py_buffer::internal, an export counted as writable.
char counted_export;

int buffer_getbuffer(PyObject* object, Py_buffer* view, int flags) {
  BufferFields& f = as_buffer(object)->fields;
  const bool readonly = buffer_is_readonly(f);
  if ((flags & PyBUF_WRITABLE) == PyBUF_WRITABLE && readonly) {
    PyErr_SetString(PyExc_BufferError,
                    "shoal.Buffer is read-only: it was sent or received, and its bytes are final");
    view->obj = nullptr;
    return -1;
  }
  view->obj = Py_NewRef(object);
  view->buf = f.data;
  view->len = static_cast<Py_ssize_t>(f.nbytes);
  view->readonly = readonly ? 1 : 0;
  view->itemsize = static_cast<Py_ssize_t>(f.dtype.itemsize);
  view->format = (flags & PyBUF_FORMAT) ? const_cast<char*>(f.dtype.format.c_str()) : nullptr;
  if ((flags & PyBUF_ND) == PyBUF_ND) {
    view->ndim = static_cast<int>(f.shape.size());
    view->shape = f.shape.data();
  } else {  // the consumer reads the memory as plain bytes of `len`
    view->ndim = 1;
    view->shape = nullptr;
  }
  view->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? f.strides.data() : nullptr;
  view->suboffsets = nullptr;
  view->internal = nullptr;
  if (!readonly) {
    ++f.writable_exports;
    view->internal = &counted_export;
    if ((flags & PyBUF_WRITABLE) == PyBUF_WRITABLE) f.writer_asked = true;
  }
  return 0;
}

void buffer_releasebuffer(PyObject* object, Py_buffer* view) {
  if (view->internal == &counted_export) --as_buffer(object)->fields.writable_exports;
}

// ----------------------------------------------------------- properties ----

PyObject* tuple_of(const std::vector<Py_ssize_t>& values) {
  PyObject* tuple = PyTuple_New(static_cast<Py_ssize_t>(values.size()));
  if (tuple == nullptr) return nullptr;
  for (std::size_t i = 0; i < values.size(); ++i) {
    PyObject* item = PyLong_FromSsize_t(values[i]);
    if (item == nullptr) {
      Py_DECREF(tuple);
      return nullptr;
    }
    PyTuple_SET_ITEM(tuple, static_cast<Py_ssize_t>(i), item);
  }
  return tuple;
}

PyObject* buffer_get_shape(PyObject* object, void*) { return tuple_of(as_buffer(object)->fields.shape); }

PyObject* buffer_get_dtype(PyObject* object, void*) {
  return PyUnicode_FromString(as_buffer(object)->fields.dtype.typestr.c_str());
}

PyObject* buffer_get_nbytes(PyObject* object, void*) {
  return PyLong_FromUnsignedLongLong(as_buffer(object)->fields.nbytes);
}

PyObject* buffer_get_readonly(PyObject* object, void*) {
  return PyBool_FromLong(buffer_is_readonly(as_buffer(object)->fields));
}

// NumPy's array interface, version 3; read anew each time, so `readonly`
// is current.
PyObject* buffer_get_array_interface(PyObject* object, void*) {
  BufferFields& f = as_buffer(object)->fields;
  PyObject* shape = tuple_of(f.shape);
  if (shape == nullptr) return nullptr;
  return Py_BuildValue("{s:i,s:s,s:N,s:(NO),s:O}",                                //
                       "version", 3,                                              //
                       "typestr", f.dtype.typestr.c_str(),                        //
                       "shape", shape,                                            //
                       "data", PyLong_FromVoidPtr(f.data),                        //
                       buffer_is_readonly(f) ? Py_True : Py_False,                //
                       "strides", Py_None);                                       // C-contiguous
}

PyObject* buffer_repr(PyObject* object) {
  BufferFields& f = as_buffer(object)->fields;
  PyObject* shape = tuple_of(f.shape);
  if (shape == nullptr) return nullptr;
  PyObject* repr = PyUnicode_FromFormat("<shoal.Buffer shape=%R dtype='%s'%s>", shape, f.dtype.typestr.c_str(),
                                        buffer_is_readonly(f) ? " readonly" : "");
  Py_DECREF(shape);
  return repr;
}

// ------------------------------------------------------------ life cycle ----

int buffer_traverse(PyObject* object, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(object));  // see arena_traverse
  return 0;
}

void buffer_dealloc(PyObject* object) {
  BufferObject* self = as_buffer(object);
  PyTypeObject* type = Py_TYPE(object);
  PyObject_GC_UnTrack(object);
  self->fields.~BufferFields();  // the block's owner goes as owners do (block_owner.hpp)
  type->tp_free(object);
  Py_DECREF(type);
}

PyGetSetDef buffer_getset[] = {
    {"shape", buffer_get_shape, nullptr, "The dimensions, a tuple of ints.", nullptr},
    {"dtype", buffer_get_dtype, nullptr, "The element type as NumPy's type string, e.g. '<f8'.", nullptr},
    {"nbytes", buffer_get_nbytes, nullptr, "Bytes of data.", nullptr},
    {"readonly", buffer_get_readonly, nullptr, "True once sent or received: its bytes are final.", nullptr},
    {"__array_interface__", buffer_get_array_interface, nullptr, "NumPy's array interface (version 3).",
     nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

// __reduce_ex__: pickling lives in Python (shoal/_pickling.py).
PyObject* buffer_reduce_ex(PyObject* self, PyObject* protocol) {
  PyObject* module = PyImport_ImportModule("shoal._pickling");
  if (module == nullptr) return nullptr;
  PyObject* result = PyObject_CallMethod(module, "reduce_buffer", "OO", self, protocol);
  Py_DECREF(module);
  return result;
}

// __copy__ and __deepcopy__: a new writable Buffer with the same bytes, not
// the pickling path (which would give a read-only view of the same block).
PyObject* buffer_copy(PyObject* self, PyObject*) {
  PyObject* module = PyImport_ImportModule("shoal._pickling");
  if (module == nullptr) return nullptr;
  PyObject* result = PyObject_CallMethod(module, "copy_buffer", "O", self);
  Py_DECREF(module);
  return result;
}

// seal(): read-only for good now, as a send would make it; the call holds
// the Buffer once. _seal(): the same for a pickle by reference, before it
// issues its ticket (shoal/_pickling.py), whose frames hold it uncounted.
PyObject* seal_with(PyObject* self, const char* verb, Py_ssize_t references) {
  SealRequest request;
  request.buffer = self;
  request.buffer_references = references;
  request.verb = verb;
  if (seal_buffer(state_of_type(Py_TYPE(self)), request) < 0) return nullptr;
  Py_RETURN_NONE;
}

PyObject* buffer_seal_method(PyObject* self, PyObject*) { return seal_with(self, "seal", 1); }
PyObject* buffer_seal_for_pickle(PyObject* self, PyObject*) { return seal_with(self, "pickle", -1); }

PyMethodDef buffer_methods[] = {
    {"seal", buffer_seal_method, METH_NOARGS,
     "Makes the Buffer read-only for good, as sending it does: every view made from now on is\n"
     "read-only. Raises BufferError while a writable view of it (a NumPy array, memoryview or ctypes\n"
     "object made from it) is alive. Fill, drop the views, seal, then views of it can go anywhere."},
    {"_seal", buffer_seal_for_pickle, METH_NOARGS, "seal(), as a pickle by reference does it."},
    {"__copy__", buffer_copy, METH_NOARGS, "A new writable Buffer (default arena) with the same contents."},
    {"__deepcopy__", buffer_copy, METH_O, "As __copy__."},
    {"__reduce_ex__", buffer_reduce_ex, METH_O,
     "Pickles the Buffer: with protocol 5 its bytes go out of band (a channel send then\n"
     "references them in place); it arrives as a read-only array view of them."},
    {nullptr, nullptr, 0, nullptr},
};

const char buffer_doc[] =
    "An array of numbers in shared memory; made by arena.empty() or shoal.empty(),\n"
    "or received from a channel. Supports the buffer protocol and __array_interface__:\n"
    "numpy.asarray(buf) views the same memory. Writable until it is sent; read-only after.";

PyType_Slot buffer_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(buffer_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(buffer_traverse)},
    {Py_tp_repr, reinterpret_cast<void*>(buffer_repr)},
    {Py_tp_getset, buffer_getset},
    {Py_tp_methods, buffer_methods},
    {Py_bf_getbuffer, reinterpret_cast<void*>(buffer_getbuffer)},
    {Py_bf_releasebuffer, reinterpret_cast<void*>(buffer_releasebuffer)},
    {Py_tp_doc, const_cast<char*>(buffer_doc)},
    {0, nullptr},
};

// No tp_new: Buffers come from empty() or a channel, never from Buffer(...).
PyType_Spec buffer_spec = {
    .name = "shoal.Buffer",
    .basicsize = sizeof(BufferObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = buffer_slots,
};

}  // namespace

// C-contiguous strides; the total size in *nbytes. Returns -1 with
// OverflowError set if the array is too large to describe.
int c_strides(const std::vector<Py_ssize_t>& shape, std::uint64_t itemsize, std::vector<Py_ssize_t>* strides,
              std::uint64_t* nbytes) {
  constexpr std::uint64_t kLimit = static_cast<std::uint64_t>(std::numeric_limits<Py_ssize_t>::max());
  strides->assign(shape.size(), 0);
  std::uint64_t step = itemsize;
  bool overflow = false;
  for (std::size_t i = shape.size(); i-- > 0;) {
    (*strides)[i] = static_cast<Py_ssize_t>(step);
    const auto dim = static_cast<std::uint64_t>(shape[i]);
    if (dim != 0 && step > kLimit / dim) overflow = true;
    step *= dim;
  }
  if (overflow) {
    PyErr_SetString(PyExc_OverflowError, "array is too large");
    return -1;
  }
  *nbytes = step;
  return 0;
}

PyTypeObject* create_buffer_type(PyObject* module) {
  return reinterpret_cast<PyTypeObject*>(PyType_FromModuleAndSpec(module, &buffer_spec, nullptr));
}

bool buffer_is_readonly(const BufferFields& fields) {
  return fields.received || fields.sealed || fields.owner->block->frozen();
}

PyObject* new_buffer_object(ModuleState* state, BufferFields fields) {
  PyTypeObject* type = state->buffer_type;
  PyObject* object = type->tp_alloc(type, 0);
  if (object == nullptr) return nullptr;
  new (&as_buffer(object)->fields) BufferFields(std::move(fields));
  as_buffer(object)->fields.self = object;
  return object;
}

BufferFields* buffer_fields(ModuleState* state, PyObject* object) {
  if (!PyObject_TypeCheck(object, state->buffer_type)) return nullptr;
  return &as_buffer(object)->fields;
}

PyObject* empty_buffer(ModuleState* state, std::shared_ptr<ArenaSession> session, PyObject* shape_arg,
                       PyObject* dtype_arg) {
  BufferFields fields;
  if (parse_shape(shape_arg, &fields.shape) < 0) return nullptr;
  if (dtype_arg != nullptr && parse_dtype_object(dtype_arg, &fields.dtype) < 0) return nullptr;
  if (dtype_arg == nullptr) fields.dtype = *parse_dtype("float64");
  if (c_strides(fields.shape, fields.dtype.itemsize, &fields.strides, &fields.nbytes) < 0) return nullptr;

  // The blob describes its own array (array_blob.hpp), so that sending the
  // Buffer whole can pass the blob itself; a dtype the frozen format does
  // not know, or more dimensions than NumPy allows, gets a plain blob (it
  // cannot be sent at all).
  std::vector<std::uint64_t> dims(fields.shape.begin(), fields.shape.end());
  const bool self_describing = shoal::heap::dtype_itemsize(fields.dtype.typestr).has_value() &&
                               dims.size() <= shoal::layout::kMaxArrayDims;
  OwnedBlock block;
  const std::uint32_t site = calling_site(state, *session);  // the Python line calling empty(), for `shoal objects`
  try {
    // A zero-size array still gets a (tiny) block: every Buffer has one.
    const std::uint64_t bytes = self_describing ? shoal::heap::array_blob_bytes(static_cast<std::uint32_t>(dims.size()),
                                                                                fields.nbytes)
                                                : std::max<std::uint64_t>(fields.nbytes, 1);
    // A recycled block takes nanoseconds and no lock: releasing the GIL for
    // it would cost more than the allocation.
    block.emplace(session->holder().try_allocate_cached(bytes, shoal::layout::BlockKind::blob, site));
    if (!*block) {
      block.emplace(
          without_gil([&] { return session->holder().allocate(bytes, shoal::layout::BlockKind::blob, site); }));
    }
    if (self_describing) {
      shoal::heap::write_array_header(*block, fields.dtype.typestr, dims);
      fields.offset = shoal::layout::array_blob_data_offset(static_cast<std::uint32_t>(dims.size()));
    }
  } catch (...) {
    return raise_python_error(state);  // `block`, if made, goes as an Owned does
  }
  fields.blob = block->handle();
  fields.data = block->bytes().data() + fields.offset;
  fields.owner = std::make_shared<BlockOwner>(std::move(session), block.take());
  return new_buffer_object(state, std::move(fields));
}

PyObject* empty_function(PyObject* module, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  static constexpr const char* kNames[] = {"shape", "dtype", "arena"};
  PyObject* bound[3];
  if (bind_arguments("empty", args, nargs, kwnames, kNames, 1, bound) < 0) return nullptr;
  PyObject* shape = bound[0];
  PyObject* dtype = bound[1];
  PyObject* arena = bound[2] != nullptr ? bound[2] : Py_None;
  PyObject* owned_arena = nullptr;
  if (arena == Py_None) {
    owned_arena = default_arena_object(state_of_module(module));
    if (owned_arena == nullptr) return nullptr;
    arena = owned_arena;
  }
  // An Arena of ours: straight to it (shoal.empty in a loop is common).
  if (PyObject_TypeCheck(arena, state_of_module(module)->arena_type)) {
    PyObject* result = arena_empty_buffer(arena, shape, dtype);
    Py_XDECREF(owned_arena);
    return result;
  }
  // Anything else with an empty() method: arena.empty does the checking.
  PyObject* method = PyUnicode_FromString("empty");
  if (method == nullptr) {
    Py_XDECREF(owned_arena);
    return nullptr;
  }
  PyObject* result = dtype != nullptr ? PyObject_CallMethodObjArgs(arena, method, shape, dtype, nullptr)
                                      : PyObject_CallMethodObjArgs(arena, method, shape, nullptr);
  Py_DECREF(method);
  Py_XDECREF(owned_arena);
  return result;
}

}  // namespace shoal_py
