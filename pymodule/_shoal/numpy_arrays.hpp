// numpy_arrays.hpp — NumPy arrays over received buffers, made through
// NumPy's C-API.
//
// A receiver that has imported NumPy gets an ndarray rather than a
// shoal.Buffer. numpy.asarray(buffer) makes one, but through NumPy's whole
// discovery of what the object is (array? scalar? sequence? the buffer
// protocol, a memoryview, its format string parsed). Asking NumPy's C-API
// for exactly the array we mean skips all of that: a send+recv of a 1 KiB
// buffer 1.92 -> 1.55 us with warm caches, and a receive right after the
// producer wrote 1 GiB (cold caches and TLB) 92 -> 81 us, on this
// project's virtual machine.
//
// The C-API is there only when this build found NumPy's headers (the
// building Python's numpy.get_include(), pymodule/meson.build: `pip install
// --no-build-isolation .` into an environment with NumPy, as
// scripts/setup.sh does) and the running NumPy
// accepts them; otherwise numpy_array_over() says so and the caller falls
// back to numpy.asarray. Either way the array is read-only and its base
// keeps the buffer's block alive.
#pragma once

#include <Python.h>

#include "buffer_type.hpp"
#include "module_state.hpp"

namespace shoal_py {

// A read-only ndarray over `fields` (those of the shoal.Buffer `buffer`),
// whose base is `buffer`. Returns a new reference; or null with no error
// set where the C-API cannot make it (not in this build, refused by the
// running NumPy, switched off, or a dtype it does not map: a non-native
// byte order): the caller then uses numpy.asarray; or null with an error set
// if NumPy failed. Call only where NumPy is imported in this interpreter:
// the first call imports its C-API.
PyObject* numpy_array_over(PyObject* buffer, const BufferFields& fields);

// numpy, if this interpreter has already imported it (new reference), else
// null with no error set. Never imports it: NumPy cannot load in isolated
// subinterpreters, and a receive should not pay for a first import.
PyObject* imported_numpy(ModuleState* state);

// The fields of the shoal.Buffer that `value`, an exact numpy.ndarray, views
// whole: its base (or its base memoryview's object) is that Buffer, and it
// starts at the Buffer's data with the Buffer's shape, strides and element
// type. That is what numpy.asarray(buffer) and a received array are, and
// such an array can be sent as the Buffer it views. Null otherwise, with no
// error set (also where this build or process has no NumPy C-API), or with
// an error set if importing NumPy's C-API was interrupted.
BufferFields* buffer_viewed_whole(ModuleState* state, PyObject* value);

// _shoal._numpy_capi(enabled=None): whether received arrays are made
// through NumPy's C-API; enabled=False switches it off for this process
// (the tests compare both ways), True back on where the build has it.
PyObject* numpy_capi_function(PyObject* module, PyObject* const* args, Py_ssize_t nargs);

}  // namespace shoal_py
