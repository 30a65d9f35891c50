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


# ------------------------------------------ pickles inside sent values ----
#
# A value with no native encoding is sent as a protocol-5 pickle: its
# PickleBuffers go out of band (placed in the arena by reference when they
# are arena memory), and every shoal.Channel inside it becomes a persistent
# id, ("shoal.Channel", i), for the i-th channel of the frozen object, which
# holds a reference on each while the value is in flight (a channel pickled
# as a plain ticket would not be kept alive).
#
# CPython 3.12's C pickler corrupts memory in an isolated subinterpreter:
# after _pickle.dumps, or _pickle.loads with buffers=, an object of the
# subinterpreter's allocator ends up on the main interpreter's tuple
# freelist and the process aborts at exit ("double free or corruption";
# reproduced with nothing but pickle in the subinterpreter). There the
# pure-Python pickler is used; it is slower and sound. 3.13 is not affected.

import io  # noqa: E402

from shoal import _shoal  # noqa: E402

_PURE_PYTHON = sys.version_info < (3, 13) and _shoal._interp_current() != _shoal._interp_main()
_BasePickler = pickle._Pickler if _PURE_PYTHON else pickle.Pickler
_BaseUnpickler = pickle._Unpickler if _PURE_PYTHON else pickle.Unpickler
_CHANNEL_ID = "shoal.Channel"


class _SendPickler(_BasePickler):
    def __init__(self, file, buffer_callback, channels):
        super().__init__(file, protocol=5, buffer_callback=buffer_callback)
        self._channels = channels
        self._channel_index = {}

    def persistent_id(self, obj):
        if type(obj) is not _shoal.Channel:
            return None
        index = self._channel_index.get(id(obj))
        if index is None:
            index = self._channel_index[id(obj)] = len(self._channels)
            self._channels.append(obj)
        return (_CHANNEL_ID, index)


class _ReceiveUnpickler(_BaseUnpickler):
    def __init__(self, file, buffers, channels):
        super().__init__(file, buffers=buffers)
        self._channels = channels

    def persistent_load(self, pid):
        if type(pid) is tuple and len(pid) == 2 and pid[0] == _CHANNEL_ID and 0 <= pid[1] < len(self._channels):
            return self._channels[pid[1]]
        raise pickle.UnpicklingError(f"shoal: unknown persistent id {pid!r} in a received pickle")


def dumps_for_send(value, buffer_callback, channels):
    """The pickle of ``value``; its out-of-band buffers go to ``buffer_callback``
    and the Channels inside it are appended to ``channels``."""
    file = io.BytesIO()
    _SendPickler(file, buffer_callback, channels).dump(value)
    return file.getvalue()


def loads_for_receive(payload, buffers, channels):
    """The value of a pickle made by dumps_for_send."""
    return _ReceiveUnpickler(io.BytesIO(payload), buffers, channels).load()
