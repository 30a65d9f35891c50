// buffer_type.hpp — the Python type shoal.Buffer: an N-dimensional array of
// numbers in an arena block.
#pragma once

#include <Python.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "arena_session.hpp"
#include "block_owner.hpp"
#include "dtype.hpp"
#include "module_state.hpp"
#include "shoal/handle.hpp"

namespace shoal_py {

// The C++ part of a Buffer object (built with placement new, destroyed in
// the dealloc, like ArenaFields).
struct BufferFields {
  // Keeps the memory alive: the blob itself (a buffer made by empty()), or
  // the frozen object that holds it (a buffer received from a channel).
  std::shared_ptr<BlockOwner> owner;
  shoal::Handle blob;                // the blob block holding the data
  std::uint64_t offset = 0;          // of element [0, ...] in the blob's payload
  std::byte* data = nullptr;         // in this process's mapping
  std::uint64_t nbytes = 0;
  DType dtype;
  std::vector<Py_ssize_t> shape;
  std::vector<Py_ssize_t> strides;   // C-contiguous, in bytes
  bool received = false;             // read-only for ever: it came from a channel
  // Read-only after send (buffer_seal.hpp): exports handed out writable
  // and not released yet; whether a consumer ever asked for a writable one
  // (PyBUF_WRITABLE: some keep the pointer past the export); sealed once a
  // send, freeze or pickle took the Buffer, so every export after is
  // read-only even before the core flags the block frozen.
  Py_ssize_t writable_exports = 0;
  bool writer_asked = false;
  bool sealed = false;
  PyObject* self = nullptr;          // the Buffer these fields belong to (borrowed)
};

struct BufferObject {
  PyObject_HEAD
  BufferFields fields;
};

PyTypeObject* create_buffer_type(PyObject* module);

// True once no writable view may be exported any more: the buffer was
// received or sealed (buffer_seal.hpp), or its block was frozen (sent, or
// made part of an object).
bool buffer_is_readonly(const BufferFields& fields);

// C-contiguous strides for `shape` of `itemsize`-byte items; the total size
// in *nbytes. Returns -1 with OverflowError set if it does not fit.
int c_strides(const std::vector<Py_ssize_t>& shape, std::uint64_t itemsize, std::vector<Py_ssize_t>* strides,
              std::uint64_t* nbytes);

// A new Buffer object owning `fields`. Returns null with an error set.
PyObject* new_buffer_object(ModuleState* state, BufferFields fields);

// arena.empty(shape, dtype): a new writable Buffer of `session`'s arena.
PyObject* empty_buffer(ModuleState* state, std::shared_ptr<ArenaSession> session, PyObject* shape,
                       PyObject* dtype);

// The fields of `object` if it is a Buffer, else null (no error set).
BufferFields* buffer_fields(ModuleState* state, PyObject* object);

// The module function shoal.empty(shape, dtype="float64", arena=None).
PyObject* empty_function(PyObject* module, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames);

}  // namespace shoal_py
