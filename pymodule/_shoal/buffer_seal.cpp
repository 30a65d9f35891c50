// buffer_seal.cpp — see buffer_seal.hpp.
#include "buffer_seal.hpp"

#include <cstring>
#include <vector>

#include "numpy_arrays.hpp"

namespace shoal_py {
namespace {

// The call's argument is a strong reference on the caller's stack on
// CPython 3.12 and 3.13 (3.14 borrows it where it can): only there can a
// reference count prove that nothing but the caller's names holds a value.
constexpr bool kCountableCalls = PY_VERSION_HEX >= 0x030C0000 && PY_VERSION_HEX < 0x030E0000;

// Frames looked at, innermost first: a send a few helpers deep is common,
// and a reference further out is merely not accounted for (a refusal).
constexpr int kFramesLooked = 16;

// Local names of `frame` bound to `object`. Optimized frames (functions):
// each plain local holds a reference; a cell holds one for every frame
// that shares it, so it is counted in the frame that made it (its
// co_cellvars) and never through closures' free variables. Other frames
// (a module, a class body): their namespace's values, each dict once, in
// `seen` (exec() may run a frame in its caller's namespace).
Py_ssize_t names_in_frame(PyFrameObject* frame, PyObject* object, std::vector<PyObject*>* seen) {
  PyCodeObject* code = PyFrame_GetCode(frame);
  Py_ssize_t count = 0;
  if ((code->co_flags & CO_OPTIMIZED) != 0) {
    PyObject* plain = PyCode_GetVarnames(code);
    PyObject* cells = plain != nullptr ? PyCode_GetCellvars(code) : nullptr;
    const auto count_name = [&](PyObject* name) {
      PyObject* value = PyFrame_GetVar(frame, name);  // NameError if unbound
      if (value == nullptr) return PyErr_Clear();
      count += value == object ? 1 : 0;
      Py_DECREF(value);
    };
    for (Py_ssize_t i = 0; cells != nullptr && i < PyTuple_GET_SIZE(plain); ++i) {
      const int is_cell = PySequence_Contains(cells, PyTuple_GET_ITEM(plain, i));  // an argument a closure uses
      if (is_cell == 0) count_name(PyTuple_GET_ITEM(plain, i));
    }
    for (Py_ssize_t i = 0; cells != nullptr && i < PyTuple_GET_SIZE(cells); ++i) count_name(PyTuple_GET_ITEM(cells, i));
    Py_XDECREF(plain);
    Py_XDECREF(cells);
  } else {
    PyObject* locals = PyFrame_GetLocals(frame);
    bool counted = locals == nullptr;
    for (PyObject* dict : *seen) counted = counted || dict == locals;
    PyObject* values = counted ? nullptr : PyMapping_Values(locals);
    if (values != nullptr) {
      seen->push_back(locals);  // compared only, while the frames (and so their namespaces) live
      for (Py_ssize_t i = 0; i < PyList_GET_SIZE(values); ++i) count += PyList_GET_ITEM(values, i) == object ? 1 : 0;
      Py_DECREF(values);
    }
    Py_XDECREF(locals);
  }
  Py_DECREF(code);
  PyErr_Clear();  // a lookup that failed counts nothing: a refusal, never a wrong yes
  return count;
}

// How many local names of this thread's calling Python frames are bound to
// `object`. Read after the reference count: on 3.12 a frame's locals dict,
// filled by the lookups, holds references of its own.
Py_ssize_t names_in_callers(PyObject* object) {
  std::vector<PyObject*> seen;
  Py_ssize_t count = 0;
  PyFrameObject* frame = reinterpret_cast<PyFrameObject*>(Py_XNewRef(PyEval_GetFrame()));
  for (int depth = 0; frame != nullptr && depth < kFramesLooked; ++depth) {
    count += names_in_frame(frame, object, &seen);
    PyFrameObject* back = PyFrame_GetBack(frame);
    Py_DECREF(frame);
    frame = back;
  }
  Py_XDECREF(frame);
  return count;
}

// True if `object` has no references but `accounted` and its callers' names.
bool held_only_by_caller(PyObject* object, Py_ssize_t accounted) {
  const Py_ssize_t count = Py_REFCNT(object);
  return count <= accounted || count <= accounted + names_in_callers(object);
}

// True if memoryview `view` is the only user of its export of `buffer`: no
// other live memoryview shares its managed buffer (casts, slices,
// memoryview(m), np.asarray(m) share it; the count CPython keeps of them,
// which a release() lowers at once), and nothing holds a buffer of it but
// the `our_exports` that shoal's code took.
bool sole_memoryview_of(PyObject* view, PyObject* buffer, Py_ssize_t our_exports) {
  auto* fields = reinterpret_cast<PyMemoryViewObject*>(view);
  return PyMemoryView_GET_BUFFER(view)->obj == buffer && fields->mbuf->exports == 1 && fields->exports == our_exports;
}

// What must be made read-only for `sent` to be the only writer of the
// Buffer: the arrays from `sent` down its bases (each held by its child
// only), then the memoryview at the end, which holds the export; or no
// memoryview, for an array that keeps the Buffer itself as its base and a
// pointer without an export (np.frombuffer, np.ndarray(buffer=...)).
struct Claim {
  std::vector<PyObject*> arrays;  // references
  PyObject* view = nullptr;       // a reference
  Claim() = default;
  Claim(const Claim&) = delete;
  Claim& operator=(const Claim&) = delete;
  ~Claim() {
    for (PyObject* array : arrays) Py_DECREF(array);
    Py_XDECREF(view);
  }
};

// Proves that nothing but `request.sent` can write through what it holds:
// the Buffer's one export (`through_export`), or a pointer taken without
// one. True with `claim` filled, false (no error set) if not proved.
bool prove_sole_holder(ModuleState* state, const SealRequest& request, bool through_export, Claim* claim) {
  PyObject* sent = request.sent;
  if (PyMemoryView_Check(sent)) {
    if (!through_export) return false;
    // Anything holding the memoryview writes through it, or through a buffer
    // taken from it: both read-only once it is. Its reference count is free.
    if (!sole_memoryview_of(sent, request.buffer, request.sent_exports)) return false;
    claim->view = Py_NewRef(sent);
    return true;
  }
  if (!kCountableCalls) return false;
  PyObject* numpy = imported_numpy(state);
  PyObject* ndarray = numpy != nullptr ? PyObject_GetAttrString(numpy, "ndarray") : nullptr;
  Py_XDECREF(numpy);
  if (ndarray == nullptr) return PyErr_Clear(), false;
  const auto is_array = [&](PyObject* object) { return Py_TYPE(object) == reinterpret_cast<PyTypeObject*>(ndarray); };
  bool proved = false;
  // Views of the array sent (a[::2], memoryview(a), ctypes from_buffer(a))
  // hold references to it, not exports: its count must be the caller's.
  if (is_array(sent) && held_only_by_caller(sent, request.sent_references)) {
    claim->arrays.push_back(Py_NewRef(sent));
    PyObject* base = PyObject_GetAttrString(sent, "base");
    // Each array between it and the memoryview: held by its child (and, now, us) only.
    for (int link = 0; base != nullptr && link < 32 && is_array(base) && Py_REFCNT(base) == 2; ++link) {
      claim->arrays.push_back(base);
      base = PyObject_GetAttrString(base, "base");
    }
    if (through_export && base != nullptr && PyMemoryView_Check(base) && Py_REFCNT(base) == 2 &&
        sole_memoryview_of(base, request.buffer, 0)) {
      claim->view = base;
      proved = true;
    } else {
      // The Buffer's own count is checked by the caller (this array's base
      // is one of its references).
      proved = !through_export && base == request.buffer;
      Py_XDECREF(base);
    }
  }
  Py_DECREF(ndarray);
  PyErr_Clear();  // a failed `.base`: not proved
  return proved;
}

// Makes what `claim` names read-only. Returns -1 with an error set.
int apply(const Claim& claim) {
  for (PyObject* array : claim.arrays) {
    PyObject* flags = PyObject_GetAttrString(array, "flags");
    const int result = flags != nullptr ? PyObject_SetAttrString(flags, "writeable", Py_False) : -1;
    Py_XDECREF(flags);
    if (result < 0) return -1;
  }
  // A memoryview has no flag to clear; its view says read-only from now on,
  // to its own writes and to every buffer asked of it.
  if (claim.view != nullptr) PyMemoryView_GET_BUFFER(claim.view)->readonly = 1;
  return 0;
}

int refuse_views(const SealRequest& request, Py_ssize_t views, bool sent_was_checked) {
  if (sent_was_checked) {
    PyErr_Format(PyExc_BufferError,
                 "cannot %s this array read-only: something else can still write its memory (a view made from "
                 "it, such as a[::2], memoryview(a) or a ctypes object; another view of the shoal.Buffer; or a "
                 "reference to it beyond this function's names). Release those (del them / memoryview.release()), "
                 "then %s it again",
                 request.verb, request.verb);
    return -1;
  }
  const bool sending = std::strcmp(request.verb, "send") == 0;
  PyErr_Format(PyExc_BufferError,
               "cannot %s a shoal.Buffer while %zd writable view%s of it %s alive (a NumPy array, memoryview or "
               "ctypes object made from it): a write through %s after the %s would reach the receiver. Release "
               "the view (del it / memoryview.release())%s; or, once the views are gone, call buf.seal(): views "
               "made after are read-only",
               request.verb, views, views == 1 ? "" : "s", views == 1 ? "is" : "are", views == 1 ? "it" : "one",
               request.verb,
               sending ? "; or send the NumPy array itself, on its own, which send then makes read-only" : "");
  return -1;
}

int refuse_pointers(const SealRequest& request) {
  PyErr_Format(PyExc_BufferError,
               "cannot %s a shoal.Buffer that may still be written: it handed out writable memory "
               "(np.frombuffer, np.ndarray(buffer=...), readinto) and is referenced beyond this call and the "
               "caller's names, so an array keeping that pointer may be alive. Drop such arrays and other "
               "references to the Buffer, or view it with np.asarray(buf), whose views send can account for",
               request.verb);
  return -1;
}

}  // namespace

int seal_buffer(ModuleState* state, const SealRequest& request) {
  BufferFields& fields = *buffer_fields(state, request.buffer);
  if (fields.received || fields.sealed) return 0;
  Claim claim;
  const Py_ssize_t views = fields.writable_exports;
  if (views > 0) {
    if (views > 1 || request.sent == nullptr) return refuse_views(request, views, false);
    if (!prove_sole_holder(state, request, true, &claim)) return refuse_views(request, views, true);
  }
  // Each live export holds a reference to the Buffer, and so does the array
  // sent if it keeps a pointer to it; any other beyond the call's and the
  // callers' names may be an array keeping a pointer.
  if (fields.writer_asked) {
    Py_ssize_t accounted = request.buffer_references + views;
    if (views == 0 && request.sent != nullptr && prove_sole_holder(state, request, false, &claim)) ++accounted;
    if (!kCountableCalls || request.buffer_references < 0 || !held_only_by_caller(request.buffer, accounted)) {
      return refuse_pointers(request);
    }
  }
  if (!claim.arrays.empty() || claim.view != nullptr) {
    if (apply(claim) < 0) return -1;
  }
  fields.sealed = true;
  return 0;
}

}  // namespace shoal_py
