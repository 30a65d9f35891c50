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
it means the same here: ``create``, ``list_all`` (every interpreter of
the process), ``get_current``, ``get_main``, ``is_shareable``,
``Interpreter`` with ``id``, ``whence``, ``is_running``, ``close``,
``prepare_main``, ``exec``, ``call``, ``call_in_thread``, and the errors
``InterpreterError``, ``InterpreterNotFoundError``, ``ExecutionFailed``. As
in 3.14, an interpreter made by ``create()`` is closed when the last
reference to it goes (a Task running in it holds one), so a loop that
forgets ``close()`` does not pile interpreters up.

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

# The implementation lives in private modules, one concept each:
# _interp_errors (the errors), _interp_calls (how a call crosses),
# _interpreter (Interpreter, create), _interp_lifecycle (the thread that
# creates and closes interpreters, the end of the process), _interp_task
# (Task), _shareable (is_shareable). This module is their public face.
from shoal._interp_calls import _check_target
from shoal._interp_errors import ExecutionFailed, InterpreterError, InterpreterNotFoundError
from shoal._interp_lifecycle import _end_at_exit, _live_executors, _live_tasks
from shoal._interp_task import Task, run, running
from shoal._interpreter import Interpreter, create, get_current, get_main, list_all
from shoal._shareable import is_shareable

__all__ = [
    "ExecutionFailed",
    "Interpreter",
    "InterpreterError",
    "InterpreterNotFoundError",
    "Task",
    "create",
    "get_current",
    "get_main",
    "is_shareable",
    "list_all",
    "run",
    "running",
]

# Named for where users find them: in reprs, tracebacks and pickles (an
# Interpreter pickles as shoal.interpreters.Interpreter).
for _public in (ExecutionFailed, Interpreter, InterpreterError, InterpreterNotFoundError, Task):
    _public.__module__ = __name__
del _public
