// fast_args.hpp — the arguments of a METH_FASTCALL | METH_KEYWORDS function.
//
// CPython's public C-API parses keyword arguments only from a tuple and a
// dict (PyArg_ParseTupleAndKeywords), which the interpreter then builds for
// every call: of 576 ns for `send(x, timeout=1.0)` + `recv(timeout=1.0)`,
// about 300 went to that (measured). Its vectorcall parser is private. This
// one binds positional and keyword arguments to named parameters, with the
// messages CPython gives for the same mistakes. Used by the calls made in
// loops: Channel.send and recv, Arena.empty and shoal.empty.
#pragma once

#include <Python.h>

#include <span>

namespace shoal_py {

// Binds args[0, nargs) and the keyword arguments named in `kwnames` (their
// values follow the positional ones) to `names`, in order: out[i] is the
// argument for names[i] (borrowed), or null if not given. The first
// `required` names must be given. Returns -1 with TypeError set.
int bind_arguments(const char* function, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames,
                   std::span<const char* const> names, std::size_t required, std::span<PyObject*> out);

}  // namespace shoal_py
