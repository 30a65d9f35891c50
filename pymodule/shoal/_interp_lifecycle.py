"""The lifecycle thread of shoal.interpreters, and the end of the process.

One thread of this interpreter creates and closes every interpreter made
here (_LifecycleThread says why). At shutdown it waits for the Tasks and
executors still running, closes the interpreters and stops; a second
Ctrl-C meanwhile ends the waiting the way _end_at_exit describes.
"""

import os
import sys
import threading
import time
import weakref

from shoal import _shoal

class _LifecycleThread:
    """The one thread of this interpreter that creates and closes interpreters.

    An interpreter is ended by the thread state it was created with, on the
    thread that created it: CPython 3.12's threading module, imported there
    by that thread, otherwise waits forever at shutdown for its "main
    thread" (the importing thread) to finish. Creating and closing every
    interpreter on one long-lived thread makes that true whichever thread
    calls create() and close() (an executor's workers exit before their
    interpreters are closed).

    It is not a daemon (isolated interpreters allow none, and a daemon left
    in a legacy interpreter would abort its finalisation): at interpreter
    shutdown, before threads are joined, _at_exit waits for the Tasks and
    executors still running, closes every interpreter made here and stops
    the thread. After that, or in a fork() child, requests run on the
    caller's thread.

    A Ctrl-C while _at_exit waits (the second one: the first ended the main
    thread) means "stop waiting", as it does for threading's own join of
    non-daemon threads. A Task cannot be abandoned like a thread (CPython
    would end its interpreter under it), so every waiting shoal call is
    woken with ProcessExiting instead (shoal._exit); the Tasks end, their
    interpreters are closed, and the KeyboardInterrupt goes on to stop
    threading's shutdown.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._requests = None
        self._ident = None
        self._thread = None
        self._stopped = False

    def run(self, func, *args):
        """func(*args) on the lifecycle thread: its result, or what it raised."""
        if threading.get_ident() == self._ident or not self._start():
            return func(*args)
        done = threading.Event()
        box = []
        self._requests.put((func, args, box, done))
        done.wait()
        ok, value = box[0]
        if ok:
            return value
        raise value

    def _start(self):
        """True once the thread runs; False when it has stopped for good."""
        with self._lock:
            if self._stopped:
                return False
            if self._requests is not None:
                return True
            import queue

            self._requests = queue.SimpleQueue()
            threading._register_atexit(self._at_exit)  # as concurrent.futures does for its workers
            self._thread = threading.Thread(target=self._serve, name="shoal-interpreters", daemon=False)
            self._thread.start()
            self._ident = self._thread.ident
            return True

    def _serve(self):
        while True:
            request = self._requests.get()
            if request is None:
                return
            func, args, box, done = request
            try:
                box.append((True, func(*args)))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                box.append((False, exc))
            done.set()
            del request, func, args, box, done

    def _at_exit(self):
        if self._stopped:
            return
        interrupted = None
        try:
            _wait_for_tasks_and_executors()
        except KeyboardInterrupt as exc:
            interrupted = exc
            from shoal import _exit

            _exit.quiet_process_exiting()
            _shoal._begin_exit()
            _end_at_exit()
        _close_owned_interpreters_here()
        self._stop()
        if interrupted is not None:
            raise interrupted

    def _stop(self):
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            started = self._requests is not None
        if started:
            self._requests.put(None)
            self._thread.join()


_lifecycle = _LifecycleThread()

# How long the end of the process waits, once every shoal wait has been
# woken (ProcessExiting), for Tasks and calls still running in interpreters
# made here: woken ones end within a wait slice, so only code that never
# calls shoal (a loop in pure Python) takes longer.
_EXIT_GRACE = 5.0


def _wait_for_tasks_and_executors():
    for task in list(_live_tasks):
        if task.is_alive():
            task.join()
    for executor in list(_live_executors):
        executor.shutdown(wait=True)


def _end_at_exit():
    """The end of the process, once _shoal._begin_exit() woke every wait.

    Waits up to _EXIT_GRACE for Tasks and calls in our interpreters to end,
    closes the interpreters and stops the lifecycle thread. An interpreter
    still running then cannot be closed, and CPython would end it under its
    thread (a fatal error): the process exits at once instead, saying why.
    Another Ctrl-C cuts the wait short, to the same end.
    """
    deadline = time.monotonic() + _EXIT_GRACE
    try:
        for task in list(_live_tasks):
            task.join(max(0.0, deadline - time.monotonic()))
        while any(_shoal._interp_is_running(i) for i in _shoal._interp_list()) and time.monotonic() < deadline:
            time.sleep(0.01)
    except KeyboardInterrupt:
        pass
    _close_owned_interpreters_here()
    running = [i for i in _shoal._interp_list() if _shoal._interp_is_running(i)]
    if running:
        names = ", ".join(task.name for task in list(_live_tasks) if task.is_alive()) or "none"
        print(
            f"shoal: interpreters {running} still run code that does not wait in shoal "
            f"(Tasks still alive: {names}); exiting without finalising them",
            file=sys.stderr,
        )
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - exiting regardless
                pass
        os._exit(1)
    _lifecycle._stop()


# Started Tasks and open SubinterpreterExecutors, waited for at shutdown.
_live_tasks = weakref.WeakSet()
_live_executors = weakref.WeakSet()


def _close_owned_interpreters_here():
    from shoal._interpreter import _close_owned_interpreters  # imported by then: it made them

    _close_owned_interpreters()


def _forget_after_fork():
    """In a fork() child: no lifecycle thread, no Task nor executor runs here."""
    global _lifecycle
    _lifecycle._stopped = True
    _lifecycle = _LifecycleThread()
    _live_tasks.clear()
    _live_executors.clear()
