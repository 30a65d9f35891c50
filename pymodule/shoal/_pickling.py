"""Pickling shoal values: by reference between processes of one host, and
inside values sent through channels.

**By reference.** A ``shoal.Buffer``, a NumPy array viewing one, and a
``shoal.Channel`` pickle as a *reference*: the arena's name and identity and
a ticket for an in-flight reference that the arena itself holds on the
block for a bounded time (``pickle_lifetime``, 60 s by default;
``SHOAL_PICKLE_LIFETIME`` sets the process default). The sender may drop
everything right after pickling; any process of the same host that
unpickles the bytes in time, any number of times, gets a read-only view of
the same memory (a NumPy array where NumPy is imported, else a
memoryview; a Channel as itself). When the lifetime ends the arena drops
the reference (its broker checks every round): nothing leaks, whatever
becomes of the pickle. A pickled Buffer is read-only from then on, and
pickling one while a writable view of it is alive (a NumPy array, a
memoryview, a ctypes object made from it) raises ``BufferError``: release
the view first. Unpickling later raises ``shoal.PickleExpired``; on
another host, or after the arena was replaced under the same name,
``shoal.ForeignHandle`` (``ArenaNotFound`` once it is gone). So
``multiprocessing.Pool.map(f, buffers)``, ``concurrent.futures``'s process
pool and ``multiprocessing.Queue`` move no array bytes. To copy instead:
``bytes(buf)``, ``numpy.array(buf)``.

NumPy arrays are reached through ``copyreg``: once NumPy is imported (before
or after shoal), ``numpy.ndarray`` has a reducer here that pickles arrays
viewing arena memory by reference and hands every other array to NumPy's
own reduction: object and non-contiguous arrays exactly as NumPy pickles
them; contiguous ones as NumPy pickles them at the pickler's protocol
(out-of-band buffers included) wrapped in ``numpy.asarray(...)``, which
returns the array it is given (a dispatch-table reducer is not told the
protocol; the object it returns is). Such pickles load without shoal.

**Inside sent values** (``Channel.send`` of an object with no native
encoding): a protocol-5 pickle whose buffers go out of band into the
arena, by reference when they already live there; Buffers and NumPy arrays
take that path rather than tickets, channels become persistent ids.
"""

import contextlib
import copyreg
import importlib.util
import io
import os
import pickle
import sys
import threading
import warnings

from shoal import _shoal

DEFAULT_LIFETIME = 60.0


def _lifetime_from_environment():
    text = os.environ.get("SHOAL_PICKLE_LIFETIME", "")
    if not text:
        return DEFAULT_LIFETIME
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 86400:
        warnings.warn(
            f"SHOAL_PICKLE_LIFETIME={text!r} is not a number of seconds above 0 and at most 86400: "
            f"using {DEFAULT_LIFETIME:g} s",
            RuntimeWarning,
            stacklevel=2,
        )
        return DEFAULT_LIFETIME
    return seconds


_default_lifetime = _lifetime_from_environment()
_local = threading.local()  # .lifetime (pickle_lifetime's override), .tickets (a collector)
thread_state = _local


def get_pickle_lifetime():
    """Seconds a pickle made now keeps its value alive in flight."""
    return getattr(_local, "lifetime", None) or _default_lifetime


def set_pickle_lifetime(seconds):
    """Sets the process's default lifetime of pickled shoal values (seconds,
    above 0, at most a day); returns the previous one."""
    global _default_lifetime
    seconds = _checked_lifetime(seconds)
    previous, _default_lifetime = _default_lifetime, seconds
    return previous


@contextlib.contextmanager
def pickle_lifetime(seconds):
    """``with shoal.pickle_lifetime(600): pickle.dumps(buf)``: pickles made in
    this block, on this thread, keep their values alive ``seconds``."""
    seconds = _checked_lifetime(seconds)
    previous = getattr(_local, "lifetime", None)
    _local.lifetime = seconds
    try:
        yield seconds
    finally:
        _local.lifetime = previous


def _checked_lifetime(seconds):
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"a pickle lifetime is a number of seconds, not {type(seconds).__name__}")
    if not 0 < seconds <= 86400:
        raise ValueError(f"a pickle lifetime must be above 0 and at most 86400 s, got {seconds!r}")
    return float(seconds)


@contextlib.contextmanager
def collecting_tickets():
    """Collects the references of every by-reference pickle made on this
    thread meanwhile, so that their maker can release them early
    (``release``) once it knows they were used. Such pickles get in-flight
    entries of their own (plain pickles of one block share one)."""
    previous = getattr(_local, "tickets", None)
    tickets = _local.tickets = []
    try:
        yield tickets
    finally:
        _local.tickets = previous


def release(refs):
    """Ends the in-flight references ``refs`` now (those still held)."""
    for ref in refs:
        try:
            _shoal._cancel_ticket(ref)
        except _shoal.ShoalError:
            pass  # the arena is gone or replaced: nothing of ours is held there


def _issue(value):
    tickets = getattr(_local, "tickets", None)
    ref, start = _shoal._issue_ticket(value, get_pickle_lifetime(), tickets is None)
    if tickets is not None:
        tickets.append(ref)
    return ref, start


# ------------------------------------------------- by reference: Buffer ----


def reduce_buffer(buffer, protocol):  # shoal.Buffer.__reduce_ex__
    buffer._seal()  # read-only from now on; BufferError while writable views of it are alive
    ref, start = _issue(buffer)
    view = memoryview(buffer)
    return rebuild_array, (ref, buffer.dtype, tuple(buffer.shape), None, start, view.format, view.itemsize)


def copy_buffer(buffer):  # shoal.Buffer.__copy__ and __deepcopy__
    """A new writable Buffer of the default arena with the same contents (the
    copy module would otherwise take the pickling path: a read-only view of
    the same memory)."""
    copy = _shoal.empty(tuple(buffer.shape), buffer.dtype)
    memoryview(copy).cast("B")[:] = memoryview(buffer).cast("B")
    return copy


def rebuild_array(ref, dtype, shape, strides, start, fmt, itemsize, from_numpy=False):
    """A read-only view of a pickled array: a NumPy array where NumPy is
    imported, or was the pickled array's kind and can be imported; else a
    memoryview of its format and shape (C-contiguous ones only)."""
    flat = _shoal._redeem(ref)  # read-only bytes of the whole block
    numpy = sys.modules.get("numpy")
    if numpy is None and from_numpy:
        try:
            import numpy
        except ImportError:  # an isolated subinterpreter, or no NumPy here
            numpy = None
    if numpy is not None:
        # NumPy checks that shape, strides and offset stay inside `flat`.
        return numpy.ndarray(shape, dtype=numpy.dtype(dtype), buffer=flat, offset=start, strides=strides)
    if strides is not None:
        raise pickle.UnpicklingError("shoal: a strided NumPy array can be unpickled only where NumPy is imported")
    count = 1
    for n in shape:
        count *= n
    data = memoryview(flat)[start : start + count * itemsize]
    if len(data) != count * itemsize:
        raise pickle.UnpicklingError("shoal: a pickled array does not fit the block it names")
    try:
        return data.cast(fmt, list(shape)) if len(shape) != 1 else data.cast(fmt)
    except (TypeError, ValueError):
        return data  # a format memoryview cannot express: its bytes


# ----------------------------------------------- by reference: Channel ----


def reduce_channel(channel, protocol):  # shoal.Channel.__reduce_ex__
    ref, _ = _issue(channel)
    return _shoal._redeem, (ref,)


# ------------------------------------------- by reference: frozen views ----


def reduce_frozen(view, protocol):  # the views' __reduce_ex__ (shoal.freeze)
    ref, _ = _issue(view)
    return _shoal._redeem_frozen, (ref, view._path)


# ------------------------------------------ by reference: NumPy arrays ----


def arena_buffer_of(array):
    """The shoal.Buffer whose memory ``array`` (a numpy.ndarray) views, by its
    chain of bases (arrays, memoryviews), or None."""
    base = array.base
    while base is not None:
        kind = type(base)
        if kind is _shoal.Buffer:
            return base
        if kind is memoryview:
            base = base.obj
        elif hasattr(base, "__array_interface__") and hasattr(base, "base"):  # an ndarray
            base = base.base
        else:
            return None
    return None


def plain_dtype(dtype):
    """True for the dtypes shoal.Buffer holds (numbers and bools, no fields)."""
    return dtype.fields is None and dtype.subdtype is None and dtype.kind in "biufc" and not dtype.hasobject


def reduce_arena_array(array, buffer):
    """The by-reference reduction of ``array``, which views ``buffer``."""
    # An array still writable over an unsealed Buffer holds a writable view
    # of it: refused, as any alive (a pickle cannot prove who else holds the
    # array; a send can, see buffer_seal.hpp).
    buffer._seal()
    ref, base_start = _issue(buffer)
    start = base_start + (array.__array_interface__["data"][0] - buffer.__array_interface__["data"][0])
    strides = None if array.flags.c_contiguous else array.strides
    try:
        fmt = memoryview(array).format
    except (TypeError, ValueError):
        fmt = "B"
    return rebuild_array, (ref, array.dtype.str, array.shape, strides, start, fmt, array.dtype.itemsize, True)


class _NumpyReduction:
    """Pickles as ``array`` would pickle itself with the pickler's protocol."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __reduce_ex__(self, protocol):
        return self.array.__reduce_ex__(protocol)


def reduce_ndarray(array):  # copyreg's reducer for numpy.ndarray
    buffer = arena_buffer_of(array)
    if buffer is not None and plain_dtype(array.dtype):
        return reduce_arena_array(array, buffer)
    flags = array.flags
    if array.dtype.hasobject or not (flags.c_contiguous or flags.f_contiguous):
        # NumPy reduces these the same way at every protocol: exactly its pickle.
        return array.__reduce__()
    # Contiguous arrays NumPy reduces by protocol (out-of-band buffers from
    # 5 on), which a dispatch-table reducer is not told: return an object
    # that reduces with the pickler's protocol, inside numpy.asarray (which
    # returns the array it is given).
    return _numpy.asarray, (_NumpyReduction(array),)


_numpy = None  # the module, once registered


def _register_numpy(numpy):
    global _numpy
    _numpy = numpy
    copyreg.pickle(numpy.ndarray, reduce_ndarray)


class _NumpyImportWatcher:
    """A meta path finder that registers the reducer right after NumPy is
    first imported: it wraps the loader the other finders give ``numpy``.
    It stays until NumPy has been imported (a library may only probe for
    it with importlib.util.find_spec)."""

    def __init__(self):
        self._busy = threading.local()

    def find_spec(self, name, path=None, target=None):
        if name != "numpy" or getattr(self._busy, "on", False):
            return None
        self._busy.on = True  # the lookup below asks every finder, us too
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._busy.on = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            _register_numpy(module)
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(self)

        spec.loader.exec_module = exec_module
        return spec


def install_numpy_reducer():
    """Pickles of NumPy arrays over arena memory go by reference, now if NumPy
    is imported, else as soon as it is."""
    numpy = sys.modules.get("numpy")
    if numpy is not None and hasattr(numpy, "ndarray"):
        _register_numpy(numpy)
    elif not any(isinstance(f, _NumpyImportWatcher) for f in sys.meta_path):
        sys.meta_path.insert(0, _NumpyImportWatcher())


# ------------------------------------------ pickles inside sent values ----
#
# A value with no native encoding is sent as a protocol-5 pickle: its
# PickleBuffers go out of band (placed in the arena by reference when they
# are arena memory), and every shoal.Channel inside it becomes a persistent
# id, ("shoal.Channel", i), for the i-th channel of the frozen object, which
# holds a reference on each while the value is in flight (a channel pickled
# by ticket would pin an in-flight entry for nothing). Buffers and NumPy
# arrays likewise go out of band, not by ticket: the frozen object owns
# their blocks while in flight.
#
# CPython 3.12's C pickler corrupts memory in an isolated subinterpreter:
# after _pickle.dumps, or _pickle.loads with buffers=, an object of the
# subinterpreter's allocator ends up on the main interpreter's tuple
# freelist and the process aborts at exit ("double free or corruption";
# reproduced with nothing but pickle in the subinterpreter). There the
# pure-Python pickler is used; it is slower and sound. 3.13 is not affected.

_PURE_PYTHON = sys.version_info < (3, 13) and _shoal._interp_current() != _shoal._interp_main()
_BasePickler = pickle._Pickler if _PURE_PYTHON else pickle.Pickler
_BaseUnpickler = pickle._Unpickler if _PURE_PYTHON else pickle.Unpickler
_CHANNEL_ID = "shoal.Channel"


def _reduce_buffer_out_of_band(buffer):
    buffer._seal()  # before the PickleBuffer: its own export is read-only then
    view = memoryview(buffer)
    return rebuild_buffer, (pickle.PickleBuffer(buffer), buffer.dtype, view.format, tuple(buffer.shape))


def rebuild_buffer(data, dtype, fmt, shape):
    """A read-only view of a Buffer's bytes received out of band."""
    view = memoryview(data)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        return numpy.frombuffer(view, dtype=dtype).reshape(shape)
    flat = view.cast("B")
    try:
        return flat.cast(fmt, list(shape)) if len(shape) != 1 else flat.cast(fmt)
    except (TypeError, ValueError):
        return flat


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

    def reducer_override(self, obj):
        kind = type(obj)
        if kind is _shoal.Buffer:
            return _reduce_buffer_out_of_band(obj)
        if kind.__name__ == "ndarray" and kind.__module__ == "numpy":
            return obj.__reduce_ex__(5)  # NumPy's own: its data out of band
        return NotImplemented


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
    """The value of a pickle made by dumps_for_send.

    The pickle was whole when it was sent: a stream that does not parse
    now was altered in the arena, and says so as CorruptObject. A class or
    function the receiver cannot import is the receiver's to fix, and keeps
    its own exception, with a note saying where it came from."""
    try:
        return _ReceiveUnpickler(io.BytesIO(payload), buffers, channels).load()
    except (ImportError, AttributeError) as exc:
        exc.add_note("(while unpickling a value received through shoal: what it names must be importable here)")
        raise
    except _MALFORMED as exc:
        if not _raised_by_the_unpickler(exc):
            raise  # the value's own code (__setstate__, a reducer) raised it
        raise _shoal.CorruptObject(f"a received value's pickle ({len(payload):,} bytes) is malformed: {exc}") from exc


# What the unpickler raises on a stream that does not parse ("unsupported
# pickle protocol" is a ValueError, a truncated stream an EOFError, a bad
# memo index a KeyError).
_MALFORMED = (pickle.UnpicklingError, EOFError, ValueError, KeyError, IndexError, OverflowError)


def _raised_by_the_unpickler(exc):
    """True when no Python code below load() raised `exc`: the C unpickler
    itself did, reading the stream."""
    tb = exc.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code is loads_for_receive.__code__
