"""ProcessPoolExecutor: concurrent.futures' process pool, with arrays shared, not copied.

Where NumPy (or any extension that refuses subinterpreters) does the work,
it runs in processes. This is the stdlib's ``ProcessPoolExecutor`` (same
signature, same semantics, same ``BrokenProcessPool`` when a worker dies)
whose workers attach to the caller's default arena, and whose arguments and
results travel by reference::

    import numpy as np, shoal

    data = shoal.empty((8, 2**24), "float64")       # 1 GiB in the arena
    np.asarray(data)[:] = np.random.default_rng().random((8, 2**24))
    with shoal.ProcessPoolExecutor(max_workers=2) as pool:
        sums = list(pool.map(np.sum, np.asarray(data)))   # rows cross as handles

What crosses how:

* a ``shoal.Buffer``, a NumPy array viewing one (any slice or view), a
  ``shoal.Channel``, or any value holding them: as a handle (no byte of the
  array is copied or pickled); the worker gets read-only NumPy arrays;
* another NumPy array of a dtype a Buffer holds, of at least
  ``COPY_THRESHOLD`` bytes: copied once into the arena, then as a handle
  (smaller ones are cheaper pickled);
* everything else: pickled, as the stdlib pool does.

Results come back the same way: an array a worker returns is copied once
into the arena (or passed by handle if it is arena memory already) and the
caller gets a read-only view of it.

Every handle is an in-flight reference held by the arena (see
``shoal._pickling``), issued when the pool feeds the call to a worker (as
the stdlib pickles its calls then); the pool releases each as soon as it has
been received, and those of a task when its future completes, so a task
that fails or a worker that dies leaves nothing behind (the dead worker's
own references are reclaimed by the arena's broker). Arrays reach workers
read-only, as results come back: a pickled or sent buffer is published, its
bytes final.

Workers start with ``forkserver`` by default (``spawn`` also works;
``fork`` is refused: once subinterpreters or threads exist a forked child
can crash inside CPython).
"""

import collections
import copyreg
import functools
import io
import itertools
import multiprocessing
import pickle
import sys
from concurrent.futures import process as _process
from multiprocessing import reduction

from shoal import _ordered_map, _pickling, _shoal, _unretrieved

__all__ = ["ProcessPoolExecutor", "COPY_THRESHOLD"]

# NumPy arrays from this size up are copied into the arena rather than
# pickled: below it a pickle costs less than an arena block and a ticket.
COPY_THRESHOLD = 64 * 1024


# ------------------------------------------------------------ packing ----


def _copy_into_arena(array):
    """A Buffer of the default arena holding a copy of ``array``, or None
    when a Buffer cannot hold its dtype or shape, or the arena has no room
    (the array is pickled then, as the stdlib pool would)."""
    try:
        copy = _shoal.empty(array.shape, array.dtype.str)
    except (TypeError, ValueError, MemoryError):
        return None
    numpy = sys.modules["numpy"]
    numpy.copyto(numpy.asarray(copy), array, casting="no")
    return copy


def _reduce_array(array):
    """How the pool pickles a NumPy array: arena memory by reference, a large
    array of a dtype a Buffer holds copied into the arena first, anything
    else as NumPy pickles it."""
    if array.nbytes >= COPY_THRESHOLD and _pickling.plain_dtype(array.dtype) and (
        _pickling.arena_buffer_of(array) is None
    ):
        copy = _copy_into_arena(array)
        if copy is not None:
            return _pickling.reduce_buffer(copy, 5)  # the ticket keeps the copy alive once `copy` goes
    return _pickling.reduce_ndarray(array)  # by reference if arena memory, else NumPy's own


# The pool's reducers by exact type, looked up by the pickler in C: a
# reducer_override would be a Python call for every tuple and list pickled.
_POOL_REDUCERS = {}


class _HandlePickler(pickle.Pickler):
    """Pickles arena memory by reference, and copies large NumPy arrays into
    the arena first; otherwise as multiprocessing's pickler does (its extra
    reducers too: sockets and connections pass as in the stdlib pool)."""

    # ForkingPickler copies its table into every instance; a live view
    # costs nothing per call and still sees reducers registered later.
    dispatch_table = collections.ChainMap(_POOL_REDUCERS, reduction.ForkingPickler._extra_reducers, copyreg.dispatch_table)


# Values of these types hold no arrays: a call or result made of them only
# is left to the stdlib's pickling, with no payload of ours inside.
_PLAIN = frozenset({int, float, complex, bool, str, bytes, type(None)})


def _plain(values):
    # In C from end to end (no Python frame per value): map calls cost a
    # few microseconds per hundred items otherwise, on the caller's GIL.
    return _PLAIN.issuperset(map(type, values))


def _pack(value):
    """``value`` pickled by _HandlePickler, and the in-flight references the
    pickle holds (its own entries: whoever unpickles it releases them)."""
    if not _POOL_REDUCERS and "numpy" in sys.modules:
        _POOL_REDUCERS[sys.modules["numpy"].ndarray] = _reduce_array
    file = io.BytesIO()
    local = _pickling.thread_state  # what collecting_tickets() does, without its generator
    previous = getattr(local, "tickets", None)
    refs = local.tickets = []
    try:
        _HandlePickler(file, pickle.HIGHEST_PROTOCOL).dump(value)
    except BaseException:
        _pickling.release(refs)
        raise
    finally:
        local.tickets = previous
    return file.getvalue(), tuple(refs)


def _unpack(payload, refs):
    try:
        return pickle.loads(payload)
    finally:
        _pickling.release(refs)  # our own references now hold what we took


class _Call:
    """A submitted call. The pool pickles it when it feeds the call to a
    worker (the stdlib pickles its call items then, a few ahead of the
    workers), so its arena references are issued only then, and it travels
    as a _Payload: bytes the worker unpickles inside the task, where a
    failure (an expired pickle, a missing module) lands on the task's
    future instead of killing the worker. ``refs`` collects what was issued,
    for the caller to release when the future completes."""

    __slots__ = ("fn", "args", "kwargs", "refs", "future")

    def __init__(self, fn, args, kwargs):
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.refs = self.future = None

    def __reduce__(self):
        if _plain(self.args) and _plain(self.kwargs.values()):
            return _PlainCall, (self.fn, self.args, self.kwargs)
        payload, refs = _pack((self.fn, self.args, self.kwargs))
        if refs:
            # Released when the task ends (received by then, or never: a
            # worker that died, a cancelled task). This runs on the pool's
            # feeder thread, perhaps before submit() has the future: each
            # side publishes, then looks at the other's, so one of them
            # registers the release (both may: a second release is a no-op).
            self.refs = refs
            if self.future is not None:
                self.future.add_done_callback(functools.partial(_release_when_done, refs))
        return _Payload, (payload, refs)


class _PlainCall:
    """A call whose arguments are plain values, pickled as the stdlib does."""

    __slots__ = ("fn", "args", "kwargs")

    def __init__(self, fn, args, kwargs):
        self.fn, self.args, self.kwargs = fn, args, kwargs


class _Payload:
    """A pickled call or result, still bytes."""

    __slots__ = ("payload", "refs")

    def __init__(self, payload, refs):
        self.payload, self.refs = payload, refs


class _Result(_Payload):
    """A worker's result. The caller's pool unpickles it as it arrives (in
    its manager thread), taking its references over at once."""

    __slots__ = ()

    def __reduce__(self):
        return _unpack, (self.payload, self.refs)


# ------------------------------------------------------------ workers ----


def _start_worker(arena, initializer, initargs):
    """A worker's initializer: the caller's arena becomes this process's
    default, then the user's initializer runs (its failure breaks the pool,
    as in the stdlib)."""
    _shoal._use_default_arena(arena)
    _shoal.default_arena()  # one session for everything this worker receives
    if initializer is not None:
        initializer(*initargs)


def _call(call):
    if type(call) is _PlainCall:
        result = call.fn(*call.args, **call.kwargs)
    else:
        fn, args, kwargs = _unpack(call.payload, call.refs)
        result = fn(*args, **kwargs)
    if type(result) in _PLAIN:
        return result
    return _Result(*_pack(result))


def _call_plain(fn, /, *args, **kwargs):
    result = fn(*args, **kwargs)
    if type(result) in _PLAIN:
        return result
    return _Result(*_pack(result))


def _run_plain_chunk(fn, chunk):
    """A chunk of plain arguments (map's chunksize), sent as the stdlib
    sends one: its results come back as they are when they are plain too."""
    results = [fn(*args) for args in chunk]
    if _plain(results):
        return results
    return _Result(*_pack(results))


def _run_chunk(fn, chunk):
    """One call for many items (map's chunksize)."""
    return [fn(*args) for args in chunk]


class ProcessPoolExecutor(_process.ProcessPoolExecutor):
    """``concurrent.futures.ProcessPoolExecutor``, sharing arena memory with
    its workers instead of copying it (see the module's documentation)."""

    def __init__(self, max_workers=None, mp_context=None, initializer=None, initargs=(), *, max_tasks_per_child=None):
        if mp_context is None:
            mp_context = multiprocessing.get_context("forkserver")
        elif mp_context.get_start_method(allow_none=False) == "fork":
            raise ValueError(
                "shoal.ProcessPoolExecutor starts workers with 'spawn' or 'forkserver', not 'fork': a process "
                "forked while subinterpreters or threads exist can crash inside CPython"
            )
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        self._arena = _shoal.default_arena()  # the workers attach it: it must outlive them
        super().__init__(
            max_workers,
            mp_context,
            _start_worker,
            (self._arena.name, initializer, tuple(initargs)),
            max_tasks_per_child=max_tasks_per_child,
        )

    def submit(self, fn, /, *args, **kwargs):
        if _plain(args) and _plain(kwargs.values()):
            # Nothing to pass by reference: the stdlib's own path, with the
            # result packed in the worker (_call_plain).
            return _unretrieved.reporting(super().submit(_call_plain, fn, *args, **kwargs))
        call = _Call(fn, args, kwargs)
        call.future = future = _unretrieved.reporting(super().submit(_call, call))
        if call.refs:  # already pickled (see _Call.__reduce__)
            future.add_done_callback(functools.partial(_release_when_done, call.refs))
        return future

    def shutdown(self, wait=True, *, cancel_futures=False):
        super().shutdown(wait=wait, cancel_futures=cancel_futures)
        if wait:
            # Workers end by os._exit, which never detaches them from the
            # arena: what they still held is released here, now that they are
            # joined, rather than at the broker's next round, so the arena is
            # back to what the caller holds when shutdown returns.
            self._arena.reap()

    def map(self, fn, *iterables, timeout=None, chunksize=1, buffersize=None):
        """As ``concurrent.futures.Executor.map`` (3.14): results in input
        order; ``chunksize`` items per call; with ``buffersize``, at most that
        many calls are submitted ahead of the results consumed."""
        _ordered_map.check_arguments(chunksize, buffersize)
        calls = zip(*iterables)
        if chunksize == 1:
            submit_one = functools.partial(_submit_call, fn)
        else:
            calls = _ordered_map.chunked(calls, chunksize)
            submit_one = functools.partial(_submit_chunk, fn)
        return _ordered_map.ordered_results(self, submit_one, calls, timeout, buffersize, flatten=chunksize > 1)

    def _submit_chunk(self, fn, chunk):
        if _plain(itertools.chain.from_iterable(chunk)):
            # Nothing to pass by reference: the stdlib's own path, as submit's.
            return super().submit(_run_plain_chunk, fn, chunk)
        return self.submit(_run_chunk, fn, chunk)


def _submit_call(fn, executor, args):
    return executor.submit(fn, *args)


def _submit_chunk(fn, executor, chunk):
    return executor._submit_chunk(fn, chunk)


def _release_when_done(refs, future):
    _pickling.release(refs)
