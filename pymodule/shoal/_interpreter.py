"""Interpreter objects of shoal.interpreters: one per interpreter id, and
create(), list_all(), get_current(), get_main().

``_owned`` holds the ids of the interpreters made here by create() and not
closed yet. As in CPython 3.14, such an interpreter is closed when the last
reference to its Interpreter object goes (a Task running in it holds one);
those still open at the end of the process are closed then (here, and by
the lifecycle thread's shutdown hook).
"""

import atexit
import os
import sys
import threading
import weakref

from shoal import _interp_lifecycle, _shoal
from shoal._interp_calls import _caller_main_file, _check_target, _outcome_value, _request, _send
from shoal._interp_errors import ExecutionFailed, InterpreterError, InterpreterNotFoundError, _excinfo

_ids = weakref.WeakValueDictionary()  # id -> Interpreter: one object per id, while referenced
# Re-entrant: an Interpreter's __del__ (which takes it) may run in any code
# that allocates, including code that holds it.
_ids_lock = threading.RLock()
_owned = set()  # ids of the interpreters made by create() here and not closed yet

# Interpreter.whence's values: CPython 3.14's strings for its WHENCE_* codes
# (Include/internal/pycore_interp.h), which 3.13's _interpreters reports.
_WHENCE = {
    0: "unknown",
    1: "runtime init",
    2: "legacy C-API",
    3: "C-API",
    4: "cross-interpreter C-API",
    5: "_interpreters module",
}


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

    def __del__(self):
        # The last reference to an interpreter create() made here: close it,
        # as 3.14 does. One still running (a call from another interpreter)
        # stays in _owned and is closed at exit.
        try:
            if self._id in _owned and not self._closed and _ids.get(self._id) in (None, self):
                self.close()
        except Exception:  # noqa: BLE001 - a finaliser cannot raise; closed at exit instead
            pass

    @property
    def id(self):
        return self._id

    @property
    def whence(self):
        """Where the interpreter was made, in CPython 3.14's words: "runtime
        init" for the main interpreter, "C-API" for one shoal made (through
        ``Py_NewInterpreterFromConfig``), "_interpreters module" for one of
        the stdlib's own; "unknown" when the runtime cannot tell (3.12 keeps
        no record of it for interpreters shoal did not make)."""
        return _whence_of(self._id)

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
        status = _interp_lifecycle._lifecycle.run(_shoal._interp_destroy, self._id)
        if status == "running":
            raise InterpreterError(f"interpreter {self._id} is running; close it once its tasks have finished")
        if status == "current":
            raise InterpreterError(f"interpreter {self._id} cannot close itself")
        if status == "unknown" and self._id == _shoal._interp_main():
            raise InterpreterError("the main interpreter cannot be closed")
        self._closed = True
        _owned.discard(self._id)
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
        from shoal._interp_task import Task  # which needs Interpreter

        task = Task(target=func, args=args, kwargs=kwargs, interpreter=self)
        task.start()
        return task

    def _check_usable(self):
        # Cheap on purpose (it guards every call): an interpreter closed
        # elsewhere, or one shoal did not make, is reported by _send.
        if self._closed:
            raise InterpreterNotFoundError(f"interpreter {self._id} has been closed")


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
    interp_id = _interp_lifecycle._lifecycle.run(_create_ready, bool(isolated), list(sys.path), _caller_main_file())
    interp = Interpreter(interp_id)
    interp._closed = False
    _owned.add(interp_id)
    return interp


def list_all():
    """Every interpreter of the process: the main one first, then by id."""
    main = _shoal._interp_main()
    ids = set(_runtime_interpreters()) | set(_shoal._interp_list()) | {_shoal._interp_current()}
    return [Interpreter(i) for i in [main] + sorted(ids - {main})]


def _runtime_interpreters():
    """id -> whence code (None where the runtime keeps none) of every
    interpreter the runtime lists: CPython's own interpreter module walks
    its list under the runtime's lock, which the public C-API cannot."""
    try:
        import _interpreters  # 3.13: (id, whence) pairs
    except ImportError:
        pass
    else:
        return dict(_interpreters.list_all())
    try:
        import _xxsubinterpreters  # 3.12: InterpreterID objects
    except ImportError:
        return {}
    return {int(i): None for i in _xxsubinterpreters.list_all()}


def _whence_of(interp_id):
    try:
        import _interpreters  # 3.13 records it
    except ImportError:
        pass
    else:
        try:
            return _WHENCE.get(_interpreters.whence(interp_id), "unknown")
        except Exception:  # noqa: BLE001 - gone meanwhile, or never known
            pass
    if interp_id == _shoal._interp_main():
        return _WHENCE[1]
    if interp_id in _shoal._interp_list():
        return _WHENCE[3]
    return _WHENCE[0]


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
    for interp_id in list(_owned):
        try:
            Interpreter(interp_id).close()
        except BaseException:  # noqa: BLE001 - close the others all the same
            pass


def _forget_after_fork():
    # In a fork() child CPython has deleted every subinterpreter and no
    # thread but the forking one exists: forget them all.
    _shoal._interp_forget_all()
    _interp_lifecycle._forget_after_fork()
    for interp in list(_ids.values()):
        interp._closed = True
    _ids.clear()
    _owned.clear()


os.register_at_fork(after_in_child=_forget_after_fork)
