"""The end of the process while threads and Tasks wait in shoal.

What a program sees (docs/architecture.md, "The end of the process"):

* The main thread ends, or the first Ctrl-C ends it: as in the stdlib,
  shutdown waits for non-daemon threads and for Tasks (a Task is never a
  daemon: its interpreter must be closed before the process ends).
* A second Ctrl-C while shutdown waits for Tasks: every shoal call that is
  waiting, in any thread or Task of this process, raises
  ``shoal.ProcessExiting``; the Tasks end, their interpreters are closed,
  the process exits.
* At interpreter shutdown proper (the atexit hook below, once non-daemon
  threads are done): the same for whatever still waits, daemon threads
  included. ``ProcessExiting`` is a ``SystemExit``: such a thread ends
  quietly. Then no thread but this one takes a GIL back through shoal again
  (they park until the process is gone), so CPython's finalisation never
  ends a thread inside shoal's C++ frames.
"""

import atexit
import sys
import threading

from shoal import _shoal


def quiet_process_exiting():
    """Makes threading's excepthook as silent about ProcessExiting as it is
    about SystemExit: it compares the type exactly, so a subclass ending a
    thread would print "Exception in thread ..." at exit. Wraps whatever
    hook is installed when the exit begins; idempotent."""
    hook = threading.excepthook
    if getattr(hook, "_shoal_quiet", False):
        return

    def excepthook(args, /):
        if args.exc_type is not None and issubclass(args.exc_type, _shoal.ProcessExiting):
            return
        hook(args)

    excepthook._shoal_quiet = True
    threading.excepthook = excepthook


def end_blocked_calls():
    """shoal's atexit hook, in the main interpreter (see the module's doc)."""
    quiet_process_exiting()
    _shoal._begin_exit()
    try:
        interpreters = sys.modules.get("shoal.interpreters")
        if interpreters is not None:
            interpreters._end_at_exit()
    finally:
        _shoal._close_gil_gate()


def install():
    # Registered when shoal is imported: atexit runs hooks last-in first-out,
    # so hooks the program registers afterwards still find shoal working.
    atexit.register(end_blocked_calls)
