"""Subinterpreters: run Python in parallel in one process, data through the arena.

The proposal's ``subinterpreters`` module, on CPython 3.13 and 3.12::

    from shoal import interpreters

    def work(buf):                     # a module-level function
        return sum(memoryview(buf).cast("B"))

    task = interpreters.run(work, shoal.empty(1 << 20, "uint8"))   # started at once
    print(task.result())

    with interpreters.create() as interp:                          # its own GIL
        interp.prepare_main(data=big_buffer)                       # no copy
        interp.exec("total = sum(memoryview(data).cast('B'))")
        print(interp.call(work, big_buffer))

Where a name exists in CPython 3.14's ``concurrent.interpreters`` (PEP 734)
it means the same here: ``create``, ``list_all``, ``get_current``,
``get_main``, ``Interpreter`` with ``id``, ``is_running``, ``close``,
``prepare_main``, ``exec``, ``call``, ``call_in_thread``, and the errors
``InterpreterError``, ``InterpreterNotFoundError``, ``ExecutionFailed``.

How things cross. Functions travel by reference, as pickle does it: a
module-level function of an importable module, or of the caller's
``__main__`` script (loaded in the interpreter as ``__mp_main__`` on first
need, the way multiprocessing's spawn does it, so keep its top-level code
under ``if __name__ == "__main__":``); or as source strings. Lambdas and
nested functions are refused with a TypeError that says so. Arguments,
results and ``prepare_main`` values are sent through the process's default
arena (``shoal.default_arena()``) like a channel send: buffers are not
copied, they arrive as read-only views of the same memory; channels arrive
as the same channel.

Errors. An exception raised in the other interpreter is raised again by
``Task.result()`` and ``Interpreter.call()`` as itself (same type and
arguments, rebuilt by pickle), with ``__cause__`` set to an
``ExecutionFailed`` carrying the remote type, message and formatted
traceback; when it cannot be rebuilt here (not picklable, class not
importable) the ``ExecutionFailed`` is raised itself. ``exec()`` raises
``ExecutionFailed``, as in PEP 734.

An isolated interpreter (the default) has its own GIL and runs truly in
parallel; only extension modules that support it import there (NumPy does
not yet: arrays arrive as ``shoal.Buffer``, which has the buffer protocol
and ``__array_interface__``). ``create(isolated=False)`` makes a legacy
interpreter that shares the main GIL and can import NumPy.
"""

import atexit
import itertools
import os
import sys
import threading
import time
import types
import weakref

from shoal import _shoal

__all__ = [
    "ExecutionFailed",
    "Interpreter",
    "InterpreterError",
    "InterpreterNotFoundError",
    "Task",
    "create",
    "get_current",
    "get_main",
    "list_all",
    "run",
    "running",
]


class InterpreterError(Exception):
    """An interpreter could not do what was asked (closed, running, not ours)."""


class InterpreterNotFoundError(InterpreterError):
    """The interpreter does not exist (any more)."""


class ExecutionFailed(InterpreterError):
    """An exception was raised in another interpreter.

    ``excinfo`` describes it: ``excinfo.type`` (with ``__name__``,
    ``__qualname__`` and ``__module__``), ``excinfo.msg`` and
    ``excinfo.formatted`` (the traceback as the other interpreter printed it).
    """

    def __init__(self, excinfo):
        self.excinfo = excinfo
        super().__init__(f"{excinfo.type.__qualname__}: {excinfo.msg}")

    def __str__(self):
        name = self.excinfo.type.__qualname__
        head = f"{name}: {self.excinfo.msg}" if self.excinfo.msg else name
        if not self.excinfo.formatted:
            return head
        return f"{head}\n\nUncaught in the interpreter:\n\n{self.excinfo.formatted.rstrip()}"


def _excinfo(module, qualname, message, formatted):
    name = qualname.rpartition(".")[2]
    kind = types.SimpleNamespace(__name__=name, __qualname__=qualname, __module__=module)
    return types.SimpleNamespace(type=kind, msg=message, formatted=formatted)


# ------------------------------------------------------------ requests ----

# Objects of classes defined in a script arrive from other interpreters as
# "__mp_main__.Name" (see _interp_runner): here that is our own __main__,
# as multiprocessing arranges it too.
if "__main__" in sys.modules:
    sys.modules.setdefault("__mp_main__", sys.modules["__main__"])


def _caller_main_file():
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not isinstance(path, str) or not os.path.exists(path):
        return None
    return os.path.abspath(path)


def _check_target(target, what="target"):
    """TypeError, saying how to fix it, unless ``target`` can be sent by reference."""
    if isinstance(target, str):
        return
    if not callable(target):
        raise TypeError(f"{what} must be a function or a source string, not {type(target).__name__!r}")
    qualname = getattr(target, "__qualname__", "")
    if isinstance(target, types.FunctionType) and ("<lambda>" in qualname or "<locals>" in qualname):
        kind = "a lambda" if "<lambda>" in qualname else "a function defined inside another function"
        raise TypeError(
            f"{what} {qualname!r} is {kind}: another interpreter cannot import it. "
            "Functions are shared by reference (module and name): define it at the top level of a "
            "module or of your script, or pass its source code as a string."
        )
    if getattr(target, "__module__", None) == "__main__" and _caller_main_file() is None:
        raise TypeError(
            f"{what} {qualname!r} lives in an interactive __main__ that other interpreters cannot "
            "import: define it in a module (a .py file), or pass its source code as a string."
        )


def _outcome_value(outcome):
    """The value of an outcome from _interp_runner, or the exception to raise."""
    if outcome[0] == "ok":
        return outcome[1]
    _, pickled, module, qualname, message, formatted = outcome
    failure = ExecutionFailed(_excinfo(module, qualname, message, formatted))
    if pickled is None:
        raise failure
    import pickle

    try:
        original = pickle.loads(pickled)
    except Exception:  # noqa: BLE001 - not rebuildable here: the failure speaks for it
        raise failure from None
    if not isinstance(original, BaseException):
        raise failure
    raise original from failure


def _send(interp_id, request, keep_thread_state=False):
    """Runs ``request`` in interpreter ``interp_id`` on this thread; its outcome.

    With ``keep_thread_state`` the thread's state in that interpreter is kept
    for its next calls (faster; kept until the interpreter closes, so only
    for long-lived threads: the main thread, executor workers).
    """
    ok, outcome = _shoal._interp_call(interp_id, request, keep_thread_state)
    if ok is None:
        raise InterpreterNotFoundError(f"interpreter {interp_id} is closed or was not made by shoal")
    if not ok:
        # The interpreter could not even run the request (shoal failed to
        # import there, say): report it as the remote failure it is.
        type_name, message, formatted = outcome
        raise ExecutionFailed(_excinfo("builtins", type_name, message, formatted))
    return outcome


# --------------------------------------------------------- Interpreter ----

_ids = {}  # id -> Interpreter: one object per interpreter in this interpreter
_ids_lock = threading.Lock()
_owned = {}  # id -> Interpreter made by create() here and not closed yet


class Interpreter:
    """One interpreter of this process, named by its id."""

    def __new__(cls, id):  # noqa: A002 - PEP 734's name
        if not isinstance(id, int) or isinstance(id, bool):
            raise TypeError(f"an interpreter id is an int, not {type(id).__name__!r}")
        with _ids_lock:
            existing = _ids.get(id)
            if existing is not None:
                return existing
            self = super().__new__(cls)
            self._id = id
            self._closed = False
            _ids[id] = self
            return self

    @property
    def id(self):
        return self._id

    @property
    def isolated(self):
        """True if it has its own GIL (made by ``create(isolated=True)``)."""
        return bool(_shoal._interp_is_isolated(self._id))

    def __repr__(self):
        return f"{type(self).__name__}({self._id})"

    def __reduce__(self):
        return (Interpreter, (self._id,))

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def is_running(self):
        """True while code runs in it (a task, exec or call)."""
        return bool(_shoal._interp_is_running(self._id))

    def close(self):
        """Finalises and destroys the interpreter, releasing every block it held.

        Refused (InterpreterError) while code runs in it; closing it twice is
        harmless.
        """
        if self._closed:
            return
        status = _lifecycle.run(_shoal._interp_destroy, self._id)
        if status == "running":
            raise InterpreterError(f"interpreter {self._id} is running; close it once its tasks have finished")
        if status == "current":
            raise InterpreterError(f"interpreter {self._id} cannot close itself")
        if status == "unknown" and self._id == _shoal._interp_main():
            raise InterpreterError("the main interpreter cannot be closed")
        self._closed = True
        _owned.pop(self._id, None)
        with _ids_lock:
            if _ids.get(self._id) is self:
                del _ids[self._id]

    def prepare_main(self, ns=None, /, **kwargs):
        """Binds names in the interpreter's ``__main__``, sent through the arena."""
        names = dict(ns or {})
        names.update(kwargs)
        for name in names:
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f"prepare_main: {name!r} is not a valid name")
        self._check_usable()
        _outcome_value(_send(self._id, ("bind", names)))

    def exec(self, code, /):
        """Runs source code in the interpreter's ``__main__`` and returns when done.

        Raises ExecutionFailed if it raises.
        """
        if not isinstance(code, str):
            raise TypeError(f"exec() takes source code as a str, not {type(code).__name__!r}")
        self._check_usable()
        outcome = _send(self._id, ("exec", code, None))
        if outcome[0] != "ok":
            _, _, module, qualname, message, formatted = outcome
            raise ExecutionFailed(_excinfo(module, qualname, message, formatted))

    def call(self, callable, /, *args, **kwargs):  # noqa: A002 - PEP 734's name
        """Runs ``callable(*args, **kwargs)`` there, on this thread; its result."""
        _check_target(callable, "callable")
        return self._call(callable, args, kwargs, threading.current_thread() is threading.main_thread())

    def _call(self, func, args, kwargs, keep_thread_state):
        self._check_usable()
        return _outcome_value(_send(self._id, _request(func, args, kwargs, None), keep_thread_state))

    def call_in_thread(self, callable, /, *args, **kwargs):  # noqa: A002
        """Like call(), on a new thread: the started Task (a threading.Thread)."""
        return self.run(callable, *args, **kwargs)

    def run(self, func, /, *args, **kwargs):
        """Creates and starts a Task running ``func(*args, **kwargs)`` here."""
        task = Task(target=func, args=args, kwargs=kwargs, interpreter=self)
        task.start()
        return task

    def _check_usable(self):
        # Cheap on purpose (it guards every call): an interpreter closed
        # elsewhere, or one shoal did not make, is reported by _send.
        if self._closed:
            raise InterpreterNotFoundError(f"interpreter {self._id} has been closed")


def _positional_arguments(args):
    """Task's `args` as a tuple. A Channel is refused: it is iterable, so
    tuple() would receive from it until it closes (Task(f, ch) meant to pass
    one argument blocks for ever)."""
    if isinstance(args, _shoal.Channel):
        raise TypeError("args must be a tuple of arguments, not a shoal.Channel (did you mean args=(channel,)?)")
    return tuple(args)


def _request(target, args, kwargs, task_info):
    if isinstance(target, str):
        if args or kwargs:
            raise TypeError("a source string takes no arguments")
        return ("exec", target, task_info)
    return ("call", _reference(target), tuple(args), dict(kwargs), task_info)


def _is_plain_function(func):
    if isinstance(func, types.FunctionType):
        return True
    # A builtin function of a module (len, math.sqrt), not a bound method.
    if isinstance(func, types.BuiltinFunctionType):
        owner = getattr(func, "__self__", None)
        return owner is None or isinstance(owner, types.ModuleType)
    return False


def _reference(func):
    """How ``func`` travels: (module, qualname) when that names it, else itself.

    A plain function is what pickle would send by reference anyway; sending
    the two strings natively skips a pickle round trip on every call (the
    other interpreter resolves and caches them). Anything else (a bound
    method, a callable object, a functools.partial) is pickled.
    """
    if _is_plain_function(func):
        module = getattr(func, "__module__", None)
        qualname = getattr(func, "__qualname__", "")
        if isinstance(module, str) and qualname and "<" not in qualname:
            return (module, qualname)
    return func


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
        _close_owned_interpreters()
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
    _close_owned_interpreters()
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


def _forget_after_fork():
    # In a fork() child CPython has deleted every subinterpreter and no
    # thread but the forking one exists: forget them all.
    global _lifecycle
    _shoal._interp_forget_all()
    _lifecycle._stopped = True
    _lifecycle = _LifecycleThread()
    for interp in list(_ids.values()):
        interp._closed = True
    _ids.clear()
    _owned.clear()
    _live_tasks.clear()
    _live_executors.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


def _create_ready(isolated, sys_path, main_file):
    interp_id = _shoal._interp_create(isolated)
    try:
        # Setup runs in the creating thread state (kept for this thread), so
        # that is where the interpreter first imports threading.
        _outcome_value(_send(interp_id, ("setup", sys_path, main_file), True))
    except BaseException:
        _shoal._interp_destroy(interp_id)
        raise
    return interp_id


def create(isolated=True):
    """A new interpreter: its own GIL if ``isolated`` (parallel), else the main GIL."""
    interp_id = _lifecycle.run(_create_ready, bool(isolated), list(sys.path), _caller_main_file())
    interp = Interpreter(interp_id)
    interp._closed = False
    _owned[interp_id] = interp
    return interp


def list_all():
    """The main interpreter, then every open interpreter made by shoal."""
    ids = [_shoal._interp_main()] + [i for i in _shoal._interp_list()]
    current = _shoal._interp_current()
    if current not in ids:
        ids.append(current)
    return [Interpreter(i) for i in ids]


def get_current():
    """The interpreter running this code."""
    return Interpreter(_shoal._interp_current())


def get_main():
    """The main interpreter."""
    return Interpreter(_shoal._interp_main())


@atexit.register
def _close_owned_interpreters():
    # Also run by the lifecycle thread's shutdown hook; here as the last
    # resort for interpreters made after it: left open, they would be
    # finalised by CPython after this module is gone.
    for interp in list(_owned.values()):
        try:
            interp.close()
        except BaseException:  # noqa: BLE001 - close the others all the same
            pass


# ---------------------------------------------------------------- Task ----

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

    def __init__(self, target=None, args=(), kwargs=None, name=None, interpreter=None, *, daemon=None):
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
        _live_tasks.add(self)
        super().start()

    def run(self):
        try:
            self._outcome = (True, self._run_target())
        except BaseException as exc:  # noqa: BLE001 - kept for result()
            self._outcome = (False, exc)
        finally:
            self._ended.set()

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
        ok, value = self._outcome
        if ok:
            return value
        raise value

    def exception(self, timeout=None):
        """What the target raised, or None; waits like result()."""
        self._wait(timeout)
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
