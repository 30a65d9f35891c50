// buffer_seal.hpp — read-only after send: a Buffer is sealed when a send,
// a freeze or a pickle by reference takes its block, and no write through
// anything the sender holds may reach a receiver after that.
//
// The core freezes the block as it is published, and every export made
// after that is read-only (buffer_type.cpp). What the freeze cannot stop is
// a view handed out before: a NumPy array, a memoryview, a ctypes object
// still writable over the same bytes. So the Buffer counts its writable
// exports (bf_getbuffer/bf_releasebuffer: a counter, not a scan), and
// seal_buffer() runs where a block is about to be published:
//
//  * no writable export alive: sealed at once (the fast path: a few loads);
//  * one alive, held by the very value being sent at the top level (an
//    exact numpy.ndarray or a memoryview) and by nothing else: that value
//    is made read-only, then sealed;
//  * anything else: BufferError saying how to fix it, nothing sealed.
//
// "Held by nothing else" is proved, not assumed. A memoryview's export is
// shared by every memoryview cast or sliced from it (they share its managed
// buffer: its reference count) and by whatever took a buffer from it (its
// export count). A NumPy view of an array (a[::2], memoryview(a), ctypes
// from_buffer(a)) takes no export of its own but keeps a reference to the
// array; so the array sent must be referenced by nothing but local names
// of the calling frames (counted: the innermost 16 of this thread) and the
// call itself, and each array between it and the memoryview that holds the
// export by its child alone. A reference from anywhere else (a list, an
// attribute, another thread) cannot be told from a view: refused.
// Counting the call's own reference assumes CPython 3.12 or 3.13 (the
// argument is a strong reference on the caller's stack); elsewhere arrays
// are refused rather than made read-only on a guess.
//
// One more kind of view holds no export at all: np.frombuffer(buf) and
// np.ndarray(buffer=buf) ask for a writable buffer, keep its pointer,
// release the export at once and keep a reference to the Buffer instead.
// A Buffer once asked for a writable export (PyBUF_WRITABLE) is therefore
// sealed only if the Buffer itself is referenced by nothing but the
// caller's names, the call, and the live exports; otherwise BufferError.
//
// Out of reach, by nature: raw addresses (__array_interface__'s data
// pointer, ctypes.from_address) and a base memoryview released under a live
// array (a.base.release()).
#pragma once

#include <Python.h>

#include "buffer_type.hpp"
#include "module_state.hpp"

namespace shoal_py {

struct SealRequest {
  PyObject* buffer = nullptr;  // the shoal.Buffer whose block is being published
  // The value being sent at the top level, when it views `buffer` (an exact
  // numpy.ndarray or a memoryview): it may be made read-only. Else null.
  PyObject* sent = nullptr;
  // References to `sent` held by the call (its argument) and by shoal's own
  // code on the way here; exports of `sent` that shoal's code holds.
  Py_ssize_t sent_references = 0;
  Py_ssize_t sent_exports = 0;
  // References to `buffer` held by the call and by shoal's code (a
  // container being walked, the walk's own), or -1 if they cannot be
  // counted (pickling runs through frames of its own).
  Py_ssize_t buffer_references = -1;
  const char* verb = "send";  // "send", "pickle": for the message
};

// Seals the Buffer (see above): returns 0 once nothing the sender holds can
// write its bytes any more, or -1 with BufferError set (nothing changed).
// Cheap when nothing needs proving: a Buffer received, sealed already, or
// with no writable export and no consumer that ever asked for one.
int seal_buffer(ModuleState* state, const SealRequest& request);

}  // namespace shoal_py
