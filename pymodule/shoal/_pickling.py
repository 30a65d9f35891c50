"""Pickling a shoal.Buffer (its __reduce_ex__), so that Buffers inside any
picklable object can be sent: with protocol 5 the bytes go out of band as a
PickleBuffer, which a channel send places by reference (the Buffer's own
block, no copy); an ordinary pickle.dumps copies them in band.

What arrives is a read-only view of those bytes with the Buffer's dtype and
shape: a NumPy array where NumPy is imported, else a memoryview cast to the
Buffer's format and shape (a flat byte view where memoryview cannot express
the format).
"""

import pickle
import sys


def reduce_buffer(buffer, protocol):
    view = memoryview(buffer)
    meta = (buffer.dtype, view.format, tuple(buffer.shape))
    if protocol >= 5:
        return rebuild_buffer, (pickle.PickleBuffer(buffer), *meta)
    return rebuild_buffer, (view.tobytes(), *meta)


def rebuild_buffer(data, dtype, fmt, shape):
    view = memoryview(data)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        return numpy.frombuffer(view, dtype=dtype).reshape(shape)
    flat = view.cast("B")
    try:
        return flat.cast(fmt, list(shape)) if len(shape) != 1 else flat.cast(fmt)
    except (TypeError, ValueError):
        return flat
