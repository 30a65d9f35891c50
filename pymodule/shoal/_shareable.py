"""is_shareable(): whether a value crosses interpreters without pickle.

As in CPython 3.14's ``concurrent.interpreters.is_shareable``: True for a
value whose data another interpreter receives without pickle running
(anything else still crosses a call, a channel or ``prepare_main``, as a
pickle, as in 3.14). The answer follows what the freezer writes natively
(pymodule/_shoal/value_freeze.cpp, ``ValueFreezer::write``): exact
built-in scalars and containers of them, shoal's Buffer, Channel and
frozen views, memoryviews, and NumPy arrays of the dtypes shoal arrays
hold. Subclasses of the built-ins are pickled there, so they are not
shareable here either. Nothing is allocated: the value is only looked at.
"""

import itertools
import sys

from shoal import _shoal
from shoal._frozen import FrozenDict, FrozenList, FrozenSet, FrozenTuple

_SCALARS = frozenset({type(None), bool, int, float, str, bytes, memoryview})
_SEQUENCES = frozenset({tuple, list, set, frozenset})
_SHOAL_TYPES = (_shoal.Buffer, _shoal.Channel, FrozenDict, FrozenList, FrozenSet, FrozenTuple)


# How deep containers may nest: the frozen heap's limit (kMaxDepth in
# include/shoal/heap_format.hpp); deeper, the freezer refuses the value.
_MAX_DEPTH = 1000

_LEAVE = object()  # on the walk's stack: the container below it is done


def is_shareable(obj):
    """True if ``obj`` crosses to another interpreter without being pickled.

    A container is shareable when everything in it is; one that contains
    itself is not (the freezer refuses it).
    """
    pending = [obj]
    inside = []  # ids of the containers on the path to the value looked at
    while pending:
        value = pending.pop()
        if value is _LEAVE:
            inside.pop()
            continue
        kind = type(value)
        if kind in _SCALARS:
            continue
        if kind in _SEQUENCES or kind is dict:
            if id(value) in inside or len(inside) >= _MAX_DEPTH:
                return False
            inside.append(id(value))
            pending.append(_LEAVE)
            pending.extend(itertools.chain.from_iterable(value.items()) if kind is dict else value)
            continue
        if isinstance(value, _SHOAL_TYPES) or _is_array_shoal_holds(value):
            continue
        return False
    return True


# The element types a shoal array holds (pymodule/_shoal/dtype.cpp), as
# NumPy's type strings without their byte order.
_ARRAY_TYPES = frozenset({"b1", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8", "c8", "c16"})


def _is_array_shoal_holds(value):
    # NumPy is looked at only if already imported: an object cannot be an
    # array of a module that was never loaded.
    numpy = sys.modules.get("numpy")
    if numpy is None or type(value) is not numpy.ndarray:
        return False
    return value.dtype.fields is None and value.dtype.str[1:] in _ARRAY_TYPES
