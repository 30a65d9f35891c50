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
``shoal._pickling``); the pool releases each as soon as it has been
received, and those of a task when its future completes, so a task that
fails or a worker that dies leaves nothing behind (the dead worker's own
references are reclaimed by the arena's broker).

Workers start with ``forkserver`` by default (``spawn`` also works;
``fork`` is refused: once subinterpreters or threads exist a forked child
can crash inside CPython).
"""

import collections
import concurrent.futures
import functools
import io
import itertools
import multiprocessing
import pickle
import sys
import time
from concurrent.futures import process as _process

from shoal import _pickling, _shoal

__all__ = ["ProcessPoolExecutor", "COPY_THRESHOLD"]

# NumPy arrays from this size up are copied into the arena rather than
# pickled: below it a pickle costs less than an arena block and a ticket.
COPY_THRESHOLD = 64 * 1024


# ------------------------------------------------------------ packing ----


def _copy_into_arena(array):
    """A Buffer of the default arena holding a copy of ``array``, or None
    when a Buffer cannot hold its dtype or shape."""
    try:
        copy = _shoal.empty(array.shape, array.dtype.str)
    except (TypeError, ValueError):
        return None
    numpy = sys.modules["numpy"]
    numpy.copyto(numpy.asarray(copy), array, casting="no")
    return copy


class _HandlePickler(pickle.Pickler):
    """Pickles arena memory by reference, and copies large NumPy arrays into
    the arena first."""

    def reducer_override(self, obj):
        kind = type(obj)
        if kind.__name__ != "ndarray" or kind.__module__ != "numpy" or not _pickling.plain_dtype(obj.dtype):
            return NotImplemented
        buffer = _pickling.arena_buffer_of(obj)
        if buffer is not None:
            return _pickling.reduce_arena_array(obj, buffer)
        if obj.nbytes < COPY_THRESHOLD:
            return NotImplemented
        copy = _copy_into_arena(obj)
        if copy is None:
            return NotImplemented
        return _pickling.reduce_buffer(copy, 5)  # the ticket keeps the copy alive once `copy` goes


class _Packed:
    """A value pickled by _HandlePickler, and the in-flight references its
    pickle holds: whoever unpickles it releases them (it is unpickled once)."""

    __slots__ = ("payload", "refs")

    def __init__(self, payload, refs):
        self.payload = payload
        self.refs = refs

    def __reduce__(self):
        return _unpack, (self.payload, tuple(self.refs))


def _pack(value):
    file = io.BytesIO()
    with _pickling.collecting_tickets() as refs:
        try:
            _HandlePickler(file, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
        except BaseException:
            _pickling.release(refs)
            raise
    return _Packed(file.getvalue(), refs)


def _unpack(payload, refs):
    try:
        return pickle.loads(payload)
    finally:
        _pickling.release(refs)  # our own references now hold what we took


# ------------------------------------------------------------ workers ----


def _start_worker(arena, initializer, initargs):
    """A worker's initializer: the caller's arena becomes this process's
    default, then the user's initializer runs (its failure breaks the pool,
    as in the stdlib)."""
    _shoal._use_default_arena(arena)
    if initializer is not None:
        initializer(*initargs)


def _call(call):
    fn, args, kwargs = call
    return _pack(fn(*args, **kwargs))


def _run_chunk(fn, chunk):
    """One call for many items (map's chunksize)."""
    return [fn(*args) for args in chunk]


def _result_or_cancel(future, timeout=None):
    try:
        try:
            return future.result(timeout)
        finally:
            future.cancel()
    finally:
        del future  # break the reference cycle through the traceback


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
        try:
            packed = _pack((fn, args, kwargs))
        except Exception as error:
            # As the stdlib pool reports an argument it cannot pickle: on the future.
            with self._shutdown_lock:
                if self._broken:
                    raise _process.BrokenProcessPool(self._broken) from None
                if self._shutdown_thread:
                    raise RuntimeError("cannot schedule new futures after shutdown") from None
            future = concurrent.futures.Future()
            future.set_exception(error)
            return future
        try:
            future = super().submit(_call, packed)
        except BaseException:
            _pickling.release(packed.refs)
            raise
        if packed.refs:
            # Received by then, or never: a worker that died, a cancelled task.
            future.add_done_callback(functools.partial(_release_when_done, packed.refs))
        return future

    def map(self, fn, *iterables, timeout=None, chunksize=1, buffersize=None):
        """As ``concurrent.futures.Executor.map`` (3.14): results in input
        order; ``chunksize`` items per call; with ``buffersize``, at most that
        many calls are submitted ahead of the results consumed."""
        if chunksize < 1:
            raise ValueError("chunksize must be >= 1.")
        if buffersize is not None:
            if not isinstance(buffersize, int):
                raise TypeError("buffersize must be an integer or None")
            if buffersize < 1:
                raise ValueError("buffersize must be None or > 0")
        end_time = None if timeout is None else timeout + time.monotonic()
        calls = zip(*iterables)
        if chunksize > 1:
            items = calls
            calls = itertools.takewhile(bool, (tuple(itertools.islice(items, chunksize)) for _ in itertools.count()))
            calls = ((chunk,) for chunk in calls)
            target = functools.partial(_run_chunk, fn)
        else:
            target = fn
        first = calls if buffersize is None else itertools.islice(calls, buffersize)
        futures = collections.deque(self.submit(target, *args) for args in first)

        def results():
            try:
                while futures:
                    left = None if end_time is None else end_time - time.monotonic()
                    result = _result_or_cancel(futures.popleft(), left)
                    if buffersize is not None:
                        for args in itertools.islice(calls, 1):
                            futures.append(self.submit(target, *args))
                    if chunksize > 1:
                        yield from result
                    else:
                        yield result
            finally:
                for future in futures:
                    future.cancel()

        return results()


def _release_when_done(refs, future):
    _pickling.release(refs)


# The result a worker returns is a _Packed: the caller's side unpickles it
# (in the pool's manager thread), which releases its references.
