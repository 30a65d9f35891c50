"""Executor.map as CPython 3.14 defines it, for both shoal executors on 3.12+.

3.14 added ``buffersize`` to ``concurrent.futures.Executor.map``: with it,
at most ``buffersize`` calls are submitted ahead of the results consumed
(the first ``buffersize`` at once, then one more each time a result is
asked for, before waiting for it), so an endless or huge input does not
become an endless list of futures. 3.12 and 3.13 lack it, so both
executors share this one implementation instead of ``super().map``.

The iterator holds its executor weakly, as 3.14's does: a pool dropped
without ``shutdown()`` can still be collected while a map of it is half
read (it then submits nothing more).
"""

import collections
import itertools
import time
import weakref


def check_arguments(chunksize, buffersize):
    """The errors 3.14's map raises for its arguments."""
    if chunksize < 1:
        raise ValueError("chunksize must be >= 1.")
    if buffersize is not None:
        if not isinstance(buffersize, int):
            raise TypeError("buffersize must be an integer or None")
        if buffersize < 1:
            raise ValueError("buffersize must be None or > 0")


def chunked(calls, size):
    """The argument tuples of ``calls`` grouped ``size`` at a time (map's chunksize)."""
    iterator = iter(calls)
    while chunk := tuple(itertools.islice(iterator, size)):
        yield chunk


def ordered_results(executor, submit_one, calls, timeout, buffersize, flatten):
    """The results of ``submit_one(executor, args)`` for each ``args`` in
    ``calls``, in order; every call submitted now unless ``buffersize`` says
    how far ahead to go. With ``flatten``, each result is a list (a chunk)
    whose items are yielded one by one."""
    end_time = None if timeout is None else timeout + time.monotonic()
    calls = iter(calls)
    first = calls if buffersize is None else itertools.islice(calls, buffersize)
    futures = collections.deque(submit_one(executor, args) for args in first)
    executor_ref = weakref.ref(executor)
    del executor

    def results():
        try:
            while futures:
                if buffersize is not None and (executor := executor_ref()) is not None:
                    for args in itertools.islice(calls, 1):  # one more in, before waiting for the next out
                        futures.append(submit_one(executor, args))
                    del executor
                left = None if end_time is None else end_time - time.monotonic()
                result = _result_or_cancel(futures.popleft(), left)
                if flatten:
                    yield from result
                else:
                    yield result
        finally:
            for future in futures:
                future.cancel()

    return results()


def _result_or_cancel(future, timeout=None):
    try:
        try:
            return future.result(timeout)
        finally:
            future.cancel()
    finally:
        del future  # break the reference cycle through the traceback
