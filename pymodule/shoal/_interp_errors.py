"""The errors of shoal.interpreters (PEP 734's names), and how a failure
in another interpreter is described here (``excinfo``)."""

import types

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
