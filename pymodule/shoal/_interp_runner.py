"""What runs inside a target interpreter when shoal.interpreters calls it.

``shoal._shoal._interp_call`` switches the calling thread into the target
interpreter, thaws the request (sent through the arena, so buffers arrive
as views of the same memory) and calls :func:`execute` here. ``execute``
never raises: it returns an *outcome* tuple, which the C layer freezes and
hands back to the caller:

    ("ok", value)
    ("err", pickled_exception_or_None, type_module, type_qualname, message, formatted_traceback)

Requests are tuples whose first item says what to do:

    ("setup", sys_path, main_file)      once, before anything else
    ("call", func, args, kwargs, task)  func(*args, **kwargs); func may be (module, qualname);
                                        task = (name, interpreter id) or None
    ("exec", source, task)              exec(source) in __main__
    ("bind", names)                     __main__.__dict__.update(names)

This module imports nothing heavy: it is imported in every new interpreter.
"""

import pickle
import re
import sys
import threading
import traceback

# CPython 3.12's C pickler corrupts memory in isolated subinterpreters (the
# process aborts at exit): there, the pure-Python one (see value_freeze.cpp).
_dumps = pickle._dumps if sys.version_info < (3, 13) else pickle.dumps

# The Task running on each thread of this interpreter, for
# shoal.interpreters.running(). A plain dict keyed by thread ident: a
# thread runs at most one task of this interpreter at a time.
_current_tasks = {}

# Where the caller's __main__ script lives; see _main_module_getattr.
_main_file = None
_main_module = None
_loading_thread = None  # the thread loading the script, whose own lookups must not recurse
_main_lock = threading.RLock()


def execute(request):
    try:
        kind = request[0]
        if kind == "call":
            _, func, args, kwargs, task = request
            if type(func) is tuple:
                func = _resolve(*func)
            with _running_as(task):
                return ("ok", func(*args, **kwargs))
        if kind == "exec":
            _, source, task = request
            with _running_as(task):
                _exec_in_main(source)
            return ("ok", None)
        if kind == "bind":
            sys.modules["__main__"].__dict__.update(request[1])
            return ("ok", None)
        if kind == "setup":
            _setup(request[1], request[2])
            return ("ok", None)
        raise ValueError(f"shoal: unknown interpreter request {kind!r}")
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the caller
        return failed_outcome(_explained_refusal(exc) or exc)


# What CPython says when an extension refuses a subinterpreter: a
# single-phase module in any subinterpreter, or a multi-phase one without
# Py_MOD_PER_INTERPRETER_GIL_SUPPORTED in an isolated one.
_REFUSALS = (
    re.compile(r"module (?P<module>[\w.]+) does not support loading in subinterpreters"),
    re.compile(r"cannot load module more than once per process"),
)


def _explained_refusal(exc):
    """An ImportError that says first what went wrong, when ``exc`` is (or
    was caused by) an extension refusing this subinterpreter; else None.
    NumPy, for one, wraps the refusal in a long "bad install" message whose
    last line alone tells the cause."""
    if not isinstance(exc, ImportError) or getattr(exc, "shoal_explained", False):
        return None
    found = _refusal(exc)
    if found is None:
        return None
    package, message = found
    error = ImportError(message, name=package)
    error.shoal_explained = True
    error.__cause__ = exc
    return error


def _refusal(exc):
    """(package, message) when ``exc`` or its causes is an extension refusing
    this subinterpreter, else None."""
    seen = set()
    cause = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        text = str(cause)
        for pattern in _REFUSALS:
            found = pattern.search(text)
            if found:
                extension = found.groupdict().get("module") or getattr(cause, "name", None)
                package = (getattr(exc, "name", None) or extension or "").split(".")[0] or None
                if package is None:
                    first = "An extension module refuses to load in a subinterpreter, a limit of that module itself"
                    out = "the import of that module"
                else:
                    first = (f"{package} cannot be imported in a subinterpreter: its extension module "
                             f"{extension or package} refuses to load in one, a limit of {package} itself")
                    out = f"the import of {package}"
                return package, (
                    f"{first}, not of shoal ({found.group(0)}). Run this work in processes instead "
                    f"(shoal.ProcessPoolExecutor), or keep {out} out of the code this interpreter runs (the worker "
                    f"module's top level and the function)."
                )
        cause = cause.__cause__ or cause.__context__
    return None


# (module, qualname) -> function, for functions sent by reference.
_resolved = {}


def _resolve(module_name, qualname):
    """The function ``module_name.qualname``, as pickle would find it."""
    key = (module_name, qualname)
    func = _resolved.get(key)
    if func is not None:
        return func
    if module_name == "__main__":
        owner = sys.modules["__main__"]  # resolved anew each time: exec() may redefine it
    else:
        import importlib

        owner = importlib.import_module(module_name)
    func = owner
    for part in qualname.split("."):
        func = getattr(func, part)
    if module_name != "__main__":
        _resolved[key] = func
    return func


def failed_outcome(exc):
    """The outcome describing ``exc``: pickled when it can be, always as text."""
    try:
        pickled = _dumps(exc, protocol=5)
    except Exception:  # noqa: BLE001 - an unpicklable exception still reports as text
        pickled = None
    kind = type(exc)
    formatted = "".join(traceback.format_exception(exc))
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001
        message = f"<unprintable {kind.__name__}>"
    return ("err", pickled, kind.__module__, kind.__qualname__, message, formatted)


def _exec_in_main(source):
    main = sys.modules["__main__"]
    code = compile(source, "<shoal.interpreters>", "exec")
    exec(code, main.__dict__)


class _running_as:
    """Records the Task this thread runs, for running(), while inside."""

    def __init__(self, task):
        self.task = task

    def __enter__(self):
        if self.task is not None:
            _current_tasks[threading.get_ident()] = self.task

    def __exit__(self, *exc_info):
        if self.task is not None:
            _current_tasks.pop(threading.get_ident(), None)
        return False


def current_task_info():
    """(name, interpreter id) of the task running on this thread, or None."""
    return _current_tasks.get(threading.get_ident())


def _setup(sys_path, main_file):
    """Makes this interpreter import what its creator can.

    ``sys.path`` is the caller's, so that module-level functions pickled by
    name (``mymodule.work``) resolve here. Functions of the caller's
    ``__main__`` script resolve too, the way multiprocessing's spawn does
    it: the script is loaded on first need as module ``__mp_main__`` (its
    ``if __name__ == "__main__":`` block does not run), and this
    interpreter's own ``__main__`` looks up names it lacks there. The
    interpreter's ``__main__`` stays its own namespace, for exec() and
    prepare_main().
    """
    global _main_file
    sys.path[:] = list(sys_path)
    _main_file = main_file
    if main_file is not None:
        sys.modules["__main__"].__dict__.setdefault("__getattr__", _main_module_getattr)


def _main_module_getattr(name):
    # Dunder lookups (__file__, __path__, ...) are about this __main__
    # itself; and while the script loads, its own lookups must not load it
    # again.
    if (name.startswith("__") and name.endswith("__")) or _loading_thread == threading.get_ident():
        raise AttributeError(f"module '__main__' has no attribute {name!r}")
    try:
        with _main_lock:  # one thread loads it; the others wait for it
            module = _load_caller_main()
    except ImportError as exc:
        refusal = _refusal(exc)
        if refusal is not None:
            error = ImportError(
                f"{refusal[1]} Here your script {_main_file} imports it at its top level, and this interpreter "
                f"loads the script (as __mp_main__) to find {name!r}: move the function to a module of its own.",
                name=refusal[0],
            )
            error.shoal_explained = True
            raise error from exc
        raise ImportError(
            f"shoal.interpreters: to find {name!r} this interpreter loads your script {_main_file} "
            f"(as __mp_main__, without its `if __name__ == '__main__':` block), and that failed: {exc}. "
            "An isolated interpreter cannot import extensions such as NumPy: keep such imports out of the "
            "script's top level, or move the function to a module of its own."
        ) from exc
    try:
        return getattr(module, name)
    except AttributeError:
        raise AttributeError(f"module '__main__' has no attribute {name!r}") from None


def _load_caller_main():
    global _main_module, _loading_thread
    if _main_module is None:
        import runpy
        import types

        module = types.ModuleType("__mp_main__")
        module.__file__ = _main_file
        sys.modules["__mp_main__"] = module
        _loading_thread = threading.get_ident()
        try:
            namespace = runpy.run_path(_main_file, run_name="__mp_main__")
        except BaseException:
            del sys.modules["__mp_main__"]
            raise
        finally:
            _loading_thread = None
        module.__dict__.update(namespace)
        _main_module = module
    return _main_module
