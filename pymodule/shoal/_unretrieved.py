"""Reporting exceptions nobody retrieved, as a failing thread's are.

A Task or an executor's Future whose call raised keeps the exception for
``result()``; if nobody ever asks, it would vanish silently (a pipeline
stage failing without a word). ``threading`` prints a thread's uncaught
exception through ``threading.excepthook``; here the same hook is called,
once, when the Task or Future goes away without its exception having been
asked for (asyncio's "exception was never retrieved").
"""

import threading
from concurrent.futures import Future


def report(exc, thread=None):
    """Passes `exc` to threading.excepthook, as an uncaught thread exception."""
    try:
        threading.excepthook(threading.ExceptHookArgs((type(exc), exc, exc.__traceback__, thread)))
    except Exception:  # noqa: BLE001 - called from finalizers, which must not raise
        pass


class ReportingFuture(Future):
    """A Future that reports an exception nobody retrieved when it goes."""

    _retrieved = False

    def result(self, timeout=None):
        try:
            return super().result(timeout)
        finally:
            if self.done():
                self._retrieved = True

    def exception(self, timeout=None):
        exc = super().exception(timeout)
        self._retrieved = True
        return exc

    def __del__(self):
        if self._retrieved or not self.done() or self.cancelled():
            return
        exc = self._exception
        if exc is not None:
            self._retrieved = True
            report(exc)


def reporting(future):
    """`future` (a concurrent.futures.Future of ours), made to report an
    unretrieved exception. Returns it."""
    future.__class__ = ReportingFuture
    return future
