// numpy_arrays.cpp — see numpy_arrays.hpp.
#include "numpy_arrays.hpp"

#include <atomic>
#include <cstdint>

#ifdef SHOAL_HAVE_NUMPY
// NumPy's C-API is a table of function pointers that _import_array() fills
// in; this file is the only one that uses it, so the table is ours alone.
#define NPY_NO_DEPRECATED_API NPY_1_25_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL shoal_numpy_api
#include <numpy/arrayobject.h>
#endif

namespace shoal_py {
namespace {

enum class CapiState { not_tried, ready, unavailable, switched_off };

// One state for the process, like NumPy's C-API table itself. Today only
// the main interpreter can import NumPy (NumPy 2 refuses a second load in
// a process, legacy subinterpreters included), so this runs under the main
// GIL; the atomic keeps it sound should that change.
std::atomic<CapiState> capi_state{CapiState::not_tried};

#ifdef SHOAL_HAVE_NUMPY

// True if the C-API can be used; false with no error set if not (then
// numpy.asarray), false with an error set if importing it failed for
// another reason than NumPy refusing us (a KeyboardInterrupt, say).
bool capi_ready() {
  CapiState state = capi_state.load(std::memory_order_acquire);
  if (state != CapiState::not_tried) return state == CapiState::ready;
  CapiState result = CapiState::ready;
  if (_import_array() < 0) {
    // A NumPy older than the API this build targets refuses with an
    // ImportError or RuntimeError: fall back to numpy.asarray for good,
    // rather than fail every receive.
    if (!PyErr_ExceptionMatches(PyExc_ImportError) && !PyErr_ExceptionMatches(PyExc_RuntimeError) &&
        !PyErr_ExceptionMatches(PyExc_AttributeError)) {
      return false;
    }
    PyErr_Clear();
    result = CapiState::unavailable;
  }
  // Only from not_tried: _numpy_capi(False) meanwhile wins.
  capi_state.compare_exchange_strong(state, result, std::memory_order_acq_rel);
  return capi_state.load(std::memory_order_acquire) == CapiState::ready;
}

// The element types shoal buffers hold, by kind and size, as NumPy numbers
// them. 8-byte integers are long long, as the buffer format "q"/"Q" says
// and numpy.asarray makes them: both paths give the same dtype.char
// (NPY_INT64 would be long, 'l', on LP64).
struct TypeNumber {
  char kind;
  std::uint64_t itemsize;
  int type;
};
constexpr TypeNumber kTypeNumbers[] = {
    {'b', 1, NPY_BOOL},      {'i', 1, NPY_INT8},       {'u', 1, NPY_UINT8},      {'i', 2, NPY_INT16},
    {'u', 2, NPY_UINT16},    {'i', 4, NPY_INT32},      {'u', 4, NPY_UINT32},     {'f', 4, NPY_FLOAT32},
    {'i', 8, NPY_LONGLONG},  {'u', 8, NPY_ULONGLONG},  {'f', 8, NPY_FLOAT64},    {'c', 8, NPY_COMPLEX64},
    {'c', 16, NPY_COMPLEX128},
};

// NumPy's type number for a native-order DType, or -1 (then numpy.asarray,
// which handles every order, makes the array).
int type_number(const DType& dtype) {
  const std::string& t = dtype.typestr;  // "<f8", "|u1", ">i4", ...
  if (t.size() < 3) return -1;
  const char order = t[0];
  const bool native = order == '|' || order == (NPY_BYTE_ORDER == NPY_LITTLE_ENDIAN ? '<' : '>');
  if (!native) return -1;
  for (const TypeNumber& entry : kTypeNumbers) {
    if (entry.kind == t[1] && entry.itemsize == dtype.itemsize) return entry.type;
  }
  return -1;
}

// NumPy 1.x arrays have at most 32 dimensions, 2.x 64: the lesser holds
// for whichever NumPy is running.
constexpr std::size_t kMaxDims = 32;

#endif  // SHOAL_HAVE_NUMPY

}  // namespace

// numpy, if this interpreter has already imported it (new reference), else
// null. Not imported here: NumPy cannot load in isolated subinterpreters,
// and a receive should not pay for a first import. Once found, kept in the
// module state: a dictionary lookup per receive until then (while
// PyImport_GetModule, which also asks whether the module is still
// initialising, runs only when the name is there).
PyObject* imported_numpy(ModuleState* state) {
  if (state->numpy_module != nullptr) return Py_NewRef(state->numpy_module);
  PyObject* listed = PyDict_GetItemWithError(PyImport_GetModuleDict(), state->numpy_name);  // borrowed
  if (listed == nullptr) {
    PyErr_Clear();
    return nullptr;
  }
  PyObject* numpy = PyImport_GetModule(state->numpy_name);  // null while NumPy is still being imported
  if (numpy == nullptr || !PyModule_Check(numpy)) {
    // sys.modules["numpy"] = None says "no NumPy here": not kept, so
    // restoring the module is seen.
    Py_XDECREF(numpy);
    PyErr_Clear();
    return nullptr;
  }
  state->numpy_module = Py_NewRef(numpy);
  return numpy;
}

PyObject* numpy_array_over(PyObject* buffer, const BufferFields& fields) {
#ifdef SHOAL_HAVE_NUMPY
  if (!capi_ready()) return nullptr;
  const int type = type_number(fields.dtype);
  const std::size_t ndim = fields.shape.size();
  // No data would make NumPy allocate memory of its own, writeable: never.
  if (type < 0 || ndim > kMaxDims || fields.data == nullptr) return nullptr;
  npy_intp dims[kMaxDims];
  npy_intp strides[kMaxDims];
  for (std::size_t i = 0; i < ndim; ++i) {
    dims[i] = fields.shape[i];
    strides[i] = fields.strides[i];
  }
  PyArray_Descr* descr = PyArray_DescrFromType(type);
  if (descr == nullptr) return nullptr;
  // Flags 0 with our data: not writeable and not owning it. The descr
  // reference is stolen, even on failure.
  PyObject* array = PyArray_NewFromDescr(&PyArray_Type, descr, static_cast<int>(ndim), dims, strides,
                                         static_cast<void*>(fields.data), 0, nullptr);
  if (array == nullptr) return nullptr;
  // The base keeps the Buffer, hence the block, alive; stolen even on failure.
  Py_INCREF(buffer);
  if (PyArray_SetBaseObject(reinterpret_cast<PyArrayObject*>(array), buffer) < 0) {
    Py_DECREF(array);
    return nullptr;
  }
  return array;
#else
  (void)buffer;
  (void)fields;
  return nullptr;
#endif
}

BufferFields* buffer_viewed_whole(ModuleState* state, PyObject* value) {
#ifdef SHOAL_HAVE_NUMPY
  // Cheap refusals first: most values sent are not buffer exporters, and
  // NumPy's types exist only where NumPy was imported.
  if (Py_TYPE(value)->tp_as_buffer == nullptr) return nullptr;
  PyObject* numpy = imported_numpy(state);
  if (numpy == nullptr) return nullptr;
  Py_DECREF(numpy);  // kept alive by the module state
  if (!capi_ready()) return nullptr;  // an error set (a KeyboardInterrupt, say) stays set
  if (!PyArray_CheckExact(value)) return nullptr;
  auto* array = reinterpret_cast<PyArrayObject*>(value);
  PyObject* base = PyArray_BASE(array);
  if (base != nullptr && PyMemoryView_Check(base)) base = PyMemoryView_GET_BUFFER(base)->obj;
  BufferFields* fields = base != nullptr ? buffer_fields(state, base) : nullptr;
  if (fields == nullptr) return nullptr;
  // The same bytes, seen the same way: where the data starts, the shape,
  // the strides (C-contiguous, as a Buffer's are) and the element type.
  const int ndim = PyArray_NDIM(array);
  if (PyArray_DATA(array) != static_cast<void*>(fields->data) || static_cast<std::size_t>(ndim) != fields->shape.size()) {
    return nullptr;
  }
  for (int i = 0; i < ndim; ++i) {
    if (PyArray_DIMS(array)[i] != fields->shape[i] || PyArray_STRIDES(array)[i] != fields->strides[i]) return nullptr;
  }
  // Type numbers say nothing of byte order: np.frombuffer(buffer, ">i4")
  // over a "<i4" Buffer has the same one, so a swapped array is refused.
  const int type = type_number(fields->dtype);
  if (type < 0 || !PyArray_ISNOTSWAPPED(array) || !PyArray_EquivTypenums(PyArray_DESCR(array)->type_num, type)) {
    return nullptr;
  }
  return fields;
#else
  (void)state;
  (void)value;
  return nullptr;
#endif
}

PyObject* numpy_capi_function(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs > 1) {
    PyErr_SetString(PyExc_TypeError, "_numpy_capi(enabled=None) takes at most 1 argument");
    return nullptr;
  }
  if (nargs == 1 && args[0] != Py_None) {
    const int enable = PyObject_IsTrue(args[0]);
    if (enable < 0) return nullptr;
    capi_state.store(enable ? CapiState::not_tried : CapiState::switched_off, std::memory_order_release);
  }
#ifdef SHOAL_HAVE_NUMPY
  bool in_use = capi_state.load(std::memory_order_acquire) == CapiState::ready;
  if (capi_state.load(std::memory_order_acquire) == CapiState::not_tried) {
    // Tried only where NumPy is imported already: a failed import in an
    // isolated interpreter would count for the whole process.
    PyObject* name = PyUnicode_FromString("numpy");
    if (name == nullptr) return nullptr;
    PyObject* numpy = PyImport_GetModule(name);
    Py_DECREF(name);
    if (numpy == nullptr && PyErr_Occurred()) return nullptr;
    if (numpy != nullptr) in_use = capi_ready();
    Py_XDECREF(numpy);
    if (!in_use && PyErr_Occurred()) return nullptr;
  }
#else
  const bool in_use = false;
#endif
  return PyBool_FromLong(in_use);
}

}  // namespace shoal_py
