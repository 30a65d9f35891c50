"""Task: a function run in an interpreter on a thread of its own, and
run() and running() of shoal.interpreters."""

import itertools
import threading
import time

from shoal import _interp_lifecycle, _unretrieved
from shoal._interp_calls import _check_target, _outcome_value, _positional_arguments, _request, _send
from shoal._interpreter import Interpreter, create

_task_numbers = itertools.count(1)


class Task(threading.Thread):
    """A CSP process: ``target`` run in an interpreter, on a thread of its own.

    A ``threading.Thread`` (``start``, ``join``, ``is_alive``, ``name``,
    ``ident``, ``daemon``), plus ``result``, ``exception`` and ``done``.
    ``target`` is a module-level function (called with ``args`` and
    ``kwargs``) or a source string (executed in the interpreter's
    ``__main__``). With ``interpreter=None`` the task runs in a fresh
    isolated interpreter, closed when the task ends.

    Ending. A Task is never a daemon: at shutdown the process waits for it,
    as for any non-daemon thread (the first Ctrl-C ends only the main
    thread). A wait in shoal inside it (send, recv, select) ends when its
    channel is closed or poisoned by anyone, or when the process exits: a
    second Ctrl-C while shutdown waits for Tasks, or interpreter shutdown,
    make every such wait raise ``shoal.ProcessExiting`` (a ``SystemExit``,
    which ``except Exception`` does not stop), so the task ends and its
    interpreter is closed. Code that never waits in shoal cannot be
    interrupted; after a second Ctrl-C the process exits 5 s later without
    finalising that interpreter.
    """

    def __init__(self, target=None, args=(), kwargs=None, name=None, interpreter=None, *, daemon=None, closes=()):
        if target is not None:
            _check_target(target)
        if interpreter is not None and not isinstance(interpreter, Interpreter):
            raise TypeError(f"interpreter must be a shoal.interpreters.Interpreter, not {type(interpreter).__name__!r}")
        if isinstance(target, str) and (args or kwargs):
            raise TypeError("a source string takes no arguments")
        if daemon:
            raise ValueError(
                "a Task cannot be a daemon thread: its interpreter must be closed before the process exits"
            )
        # Not inherited from a daemon creator either: always joined at exit.
        super().__init__(name=name or f"Task-{next(_task_numbers)}", daemon=False)
        self._closes = tuple(closes)
        from shoal import Channel

        for channel in self._closes:
            if not isinstance(channel, Channel):
                raise TypeError(f"closes takes shoal.Channel objects, not {type(channel).__name__!r}")
        self._retrieved = False  # result() or exception() was asked for the outcome
        self._task_target = target
        self._task_args = _positional_arguments(args)
        self._task_kwargs = dict(kwargs or {})
        self._interpreter = interpreter
        self._outcome = None  # (True, value) or (False, exception), once done
        self._task_started = False
        # Set when run() has returned, the interpreter closed: the Task's own
        # word on its end. CPython 3.12's Thread.join, interrupted by Ctrl-C,
        # marks the thread it waited for as stopped although it still runs
        # (its _wait_for_tstate_lock releases that thread's lock), and then
        # neither join() nor shutdown would wait for it: its interpreter
        # would still be open when the process finalises (a fatal error).
        self._ended = threading.Event()

    @property
    def interpreter(self):
        """The Interpreter it runs in (None before start() when it makes its own)."""
        return self._interpreter

    def start(self):
        self._task_started = True
        _interp_lifecycle._live_tasks.add(self)
        super().start()

    def run(self):
        try:
            self._outcome = (True, self._run_target())
        except BaseException as exc:  # noqa: BLE001 - kept for result()
            self._outcome = (False, exc)
        finally:
            # As threading.Thread does: the arguments go with the call, so a
            # channel end passed in (Channel.sender()) is closed when the
            # task ends, normally or not, and its stream ends.
            self._task_args = self._task_kwargs = None
            self._close_channels()
            self._ended.set()

    def _close_channels(self):
        from shoal import ShoalError

        for channel in self._closes:
            try:
                channel.close()
            except ShoalError:
                pass  # its arena is gone: nobody is left to tell

    def __del__(self):
        # Reported as threading reports a thread's uncaught exception, once,
        # when nobody asked for it (asyncio's "exception was never retrieved").
        outcome = getattr(self, "_outcome", None)
        if outcome is None or outcome[0] or self._retrieved:
            return
        self._retrieved = True
        _unretrieved.report(outcome[1], self)

    def join(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        super().join(timeout)  # the stdlib's checks, and the wait itself
        if super().is_alive() or self._ended.is_set():
            return
        # Only after 3.12's interrupted join (see __init__): wait for our own end.
        self._ended.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def is_alive(self):
        return super().is_alive() or (self._started.is_set() and not self._ended.is_set())

    def _run_target(self):
        if self._task_target is None:
            return None
        interp = self._interpreter
        owns = interp is None
        if owns:
            interp = create(isolated=True)
            self._interpreter = interp
        try:
            info = (self.name, interp.id)
            return _outcome_value(_send(interp.id, _request(self._task_target, self._task_args, self._task_kwargs, info)))
        finally:
            if owns:
                try:
                    interp.close()
                except BaseException:  # noqa: BLE001 - the outcome matters more; closed at exit instead
                    pass

    def done(self):
        """True once the task has finished (returned or raised)."""
        return self._outcome is not None

    def result(self, timeout=None):
        """The target's return value, waiting up to ``timeout`` seconds.

        Raises what the target raised (see the module's doc), TimeoutError if
        it is still running after ``timeout``.
        """
        self._wait(timeout)
        self._retrieved = True
        ok, value = self._outcome
        if ok:
            return value
        raise value

    def exception(self, timeout=None):
        """What the target raised, or None; waits like result()."""
        self._wait(timeout)
        self._retrieved = True
        ok, value = self._outcome
        return None if ok else value

    def _wait(self, timeout):
        if not self._task_started:
            raise RuntimeError(f"{self.name} has not been started")
        self.join(timeout)
        if self._outcome is None:
            raise TimeoutError(f"{self.name} is still running after {timeout} s")


class _CurrentTask(Task):
    """What running() returns inside a task: the task, seen from where it runs."""

    def __init__(self, name, interp_id):
        super().__init__(name=name, interpreter=Interpreter(interp_id))
        self._task_started = True

    @property
    def ident(self):
        return threading.get_ident()

    def is_alive(self):
        return True

    def start(self):
        raise RuntimeError(f"{self.name} is already running")

    def join(self, timeout=None):
        raise RuntimeError(f"{self.name} cannot join itself")

    def result(self, timeout=None):
        raise RuntimeError(f"{self.name} cannot wait for its own result")

    def exception(self, timeout=None):
        raise RuntimeError(f"{self.name} cannot wait for its own result")


def running():
    """The Task running this code, or None outside a task."""
    from shoal import _interp_runner

    info = _interp_runner.current_task_info()
    if info is None:
        return None
    return _CurrentTask(*info)


def run(func_or_source, /, *args, **kwargs):
    """Runs a function (or source string) in a fresh isolated interpreter: a started Task.

    The interpreter is closed when the task ends. ``task.result()`` waits for
    the return value.
    """
    task = Task(target=func_or_source, args=args, kwargs=kwargs)
    task.start()
    return task
