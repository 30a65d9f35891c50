"""A worker module that imports NumPy at its top level (for
test_refusing_extensions: a subinterpreter cannot load it)."""

import numpy  # noqa: F401
