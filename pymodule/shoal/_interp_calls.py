"""How a call crosses into another interpreter (shoal.interpreters).

A request names what to run: a function by reference (module and name)
or a source string, with its arguments; it is frozen into the default
arena, run there by shoal._interp_runner, and its outcome comes back the
same way (``_send``). ``_check_target`` refuses, with a TypeError saying
how to fix it, what another interpreter could not import.
"""

import os
import sys
import types

from shoal import _shoal
from shoal._interp_errors import ExecutionFailed, InterpreterNotFoundError, _excinfo

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
