"""SubinterpreterExecutor: a concurrent.futures executor over isolated interpreters.

A drop-in for ``ThreadPoolExecutor`` or ``ProcessPoolExecutor`` where the
work is module-level functions::

    from shoal import SubinterpreterExecutor

    with SubinterpreterExecutor(max_workers=2) as pool:
        totals = list(pool.map(checksum, chunks))      # in parallel: one GIL each

Each worker is a thread of this interpreter that owns one interpreter of
its own (isolated by default), made when the worker starts and reused for
every task it runs; the thread switches into it for each call (see
``shoal.interpreters``). Arguments and results cross through the default
arena, so a ``shoal.Buffer`` (or a slice of one) costs no copy.

Semantics are ``concurrent.futures``': ``submit`` returns a Future;
the constructor takes ``InterpreterPoolExecutor``'s arguments in its order
(``max_workers, thread_name_prefix, initializer, initargs``), then the
keyword ``isolated``; ``map`` keeps input order and takes ``timeout``,
``chunksize`` (chunks are run as one call each, which amortises the
per-call cost of small items) and 3.14's ``buffersize``;
``shutdown(wait=True, cancel_futures=False)``. An exception in a
task is set on its future as itself, ``__cause__`` an ``ExecutionFailed``
with the remote traceback, and the worker stays usable. An initializer that
raises breaks the pool as ThreadPoolExecutor's does: pending and later
submissions fail with ``concurrent.futures.BrokenExecutor`` (its subclass
``BrokenThreadPool``). Closing the executor closes its interpreters, which
releases every block they held.
"""

import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from shoal import _ordered_map, _unretrieved, interpreters

__all__ = ["SubinterpreterExecutor"]


def _default_workers():
    count = getattr(os, "process_cpu_count", os.cpu_count)()
    return count or 1


def _run_chunk(fn, chunk):
    """Runs in a worker interpreter: one call for many items (map's chunksize)."""
    return [fn(*args) for args in chunk]


class _Workers:
    """Each worker thread's interpreter. Kept apart from the executor: the
    worker threads hold this (their initializer), and holding the executor
    itself would keep it from being collected, which is how
    ThreadPoolExecutor's workers learn to exit when it is dropped without
    shutdown()."""

    def __init__(self, isolated, initializer, initargs):
        self.isolated = isolated
        self.initializer = initializer
        self.initargs = initargs
        self.state = threading.local()
        self.interpreters = []
        self.lock = threading.Lock()

    # Runs on each new worker thread before its first task. An exception
    # here breaks the pool (ThreadPoolExecutor's rule for initializers).
    def start(self):
        interp = interpreters.create(isolated=self.isolated)
        with self.lock:
            self.interpreters.append(interp)
        self.state.interpreter = interp
        if self.initializer is not None:
            interp.call(self.initializer, *self.initargs)

    def call(self, fn, args, kwargs):
        # A worker thread lives as long as its interpreter: it keeps its
        # thread state there between tasks.
        return self.state.interpreter._call(fn, args, kwargs, True)

    def close_all(self):
        with self.lock:
            closing, self.interpreters = self.interpreters, []
        for interp in closing:
            interp.close()


class SubinterpreterExecutor(ThreadPoolExecutor):
    """Runs calls in a pool of subinterpreters, one per worker thread."""

    def __init__(self, max_workers=None, thread_name_prefix="", initializer=None, initargs=(), *, isolated=True):
        if max_workers is None:
            max_workers = _default_workers()
        if initializer is not None:
            interpreters._check_target(initializer, "initializer")
        self._workers = _Workers(bool(isolated), initializer, tuple(initargs))
        super().__init__(
            max_workers=max_workers,
            thread_name_prefix=thread_name_prefix or "SubinterpreterExecutor",
            initializer=self._workers.start,
        )
        interpreters._live_executors.add(self)  # shut down before the interpreter exits

    def submit(self, fn, /, *args, **kwargs):
        interpreters._check_target(fn, "fn")
        if isinstance(fn, str):
            raise TypeError("submit() takes a function; run source strings with shoal.interpreters")
        return _unretrieved.reporting(super().submit(self._workers.call, fn, args, kwargs))

    def map(self, fn, *iterables, timeout=None, chunksize=1, buffersize=None):
        """As ``concurrent.futures.Executor.map`` (3.14): results in input
        order; ``chunksize`` items per call; with ``buffersize``, at most that
        many calls are submitted ahead of the results consumed."""
        _ordered_map.check_arguments(chunksize, buffersize)
        interpreters._check_target(fn, "fn")
        calls = zip(*iterables)
        if chunksize == 1:
            submit_one = functools.partial(_submit_call, fn)
        else:
            calls = _ordered_map.chunked(calls, chunksize)
            submit_one = functools.partial(_submit_chunk, fn)
        return _ordered_map.ordered_results(self, submit_one, calls, timeout, buffersize, flatten=chunksize > 1)

    def shutdown(self, wait=True, *, cancel_futures=False):
        super().shutdown(wait=wait, cancel_futures=cancel_futures)
        if wait:
            self._close_interpreters()
        else:
            # The workers finish what they started; their interpreters are
            # closed once they have, off the caller's thread.
            threading.Thread(target=self._close_when_idle, name=f"{self._thread_name_prefix}-closer").start()

    def _close_when_idle(self):
        super().shutdown(wait=True)
        self._close_interpreters()

    def _close_interpreters(self):
        self._workers.close_all()


def _submit_call(fn, executor, args):
    return executor.submit(fn, *args)


def _submit_chunk(fn, executor, chunk):
    return executor.submit(_run_chunk, fn, chunk)
