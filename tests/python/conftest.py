"""Shared fixtures of the Python tests: unique arena names, cleanup of
/dev/shm, and child processes that hold blocks until they are killed.

Run the tests against the installed package, from a directory outside the
source tree:  cd /tmp && python -m pytest /work/main/tests/python -q
"""

import itertools
import os
import pathlib
import re
import select
import signal
import subprocess
import sys
import textwrap

import pytest

SHM = pathlib.Path("/dev/shm")
# Every arena a test makes is named test-<pid>-<n>, so leftovers can be told
# from other people's arenas and from those of a test run still going.
PREFIX = "test-"
_OURS = re.compile(r"shoal\.test-(\d+)-\d+")  # and not, say, the C++ tests' arenas
_counter = itertools.count(1)


def segment_path(name):
    """The file behind arena `name`."""
    return SHM / f"shoal.{name}"


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_leftovers(only_pid=None):
    """Unlinks test arenas of dead test runs (or, with only_pid, of that run)."""
    for path in SHM.glob(f"shoal.{PREFIX}*"):
        match = _OURS.fullmatch(path.name)
        if match is None:
            continue
        pid = int(match.group(1))
        if (only_pid is None and not _pid_alive(pid)) or pid == only_pid:
            path.unlink(missing_ok=True)


@pytest.fixture(scope="session", autouse=True)
def clean_shm():
    _remove_leftovers()
    yield
    _remove_leftovers(only_pid=os.getpid())


@pytest.fixture
def channel(arena):
    """A channel of 8 in the test module's own `arena` fixture."""
    import shoal

    return shoal.Channel(8, arena=arena)


@pytest.fixture
def arena_name():
    """A fresh arena name; its segment is removed after the test if still there."""
    name = f"{PREFIX}{os.getpid()}-{next(_counter)}"
    yield name
    segment_path(name).unlink(missing_ok=True)


def read_line(stream, timeout):
    """One line from a child's pipe, or fail the test after `timeout` seconds."""
    ready, _, _ = select.select([stream], [], [], timeout)
    if not ready:
        pytest.fail(f"no output from the child process within {timeout} s")
    return stream.readline()


# A child that attaches, allocates `blocks` blocks of `nbytes`, reports how
# many bytes it added, and then waits to be killed.
_HOLDER_CHILD = textwrap.dedent(
    """
    import sys, time
    import shoal
    name, blocks, nbytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    arena = shoal.Arena.attach(name)
    held = [arena.empty(nbytes, "uint8") for _ in range(blocks)]
    print("ready", len(held), flush=True)
    time.sleep(600)
    """
)


@pytest.fixture
def holder_process():
    """Starts a Python child that attaches to an arena and holds blocks.

    Returns start(name, blocks=4, nbytes=100_000) -> Popen, after the child
    reported that it holds its blocks. Children still running at the end of
    the test are killed.
    """
    children = []

    def start(name, blocks=4, nbytes=100_000):
        child = subprocess.Popen(
            [sys.executable, "-c", _HOLDER_CHILD, name, str(blocks), str(nbytes)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        children.append(child)
        line = read_line(child.stdout, timeout=30)
        if line.split() != ["ready", str(blocks)]:
            child.kill()
            pytest.fail(f"holder child failed: {line!r} {child.stderr.read()}")
        return child

    yield start
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        child.stderr.close()


class IsolatedInterpreter:
    """An isolated subinterpreter running source code, for the tests of what
    crosses into interpreters shoal did not make: CPython's own
    `_interpreters` on 3.13; on 3.12, whose low-level module differs,
    shoal.interpreters (the public API, made through the C-API)."""

    def __init__(self):
        if sys.version_info >= (3, 13):
            import _interpreters

            self._lowlevel = _interpreters
            self._interp = _interpreters.create("isolated")
        else:
            from shoal import interpreters

            self._lowlevel = None
            self._interp = interpreters.create(isolated=True)

    def exec(self, code):
        """Runs `code`; None, or the failure's traceback as text."""
        if self._lowlevel is not None:
            failure = self._lowlevel.exec(self._interp, code)
            return None if failure is None else failure.errdisplay
        from shoal.interpreters import ExecutionFailed

        try:
            self._interp.exec(code)
        except ExecutionFailed as failure:
            return str(failure)
        return None

    def close(self):
        if self._lowlevel is not None:
            self._lowlevel.destroy(self._interp)
        else:
            self._interp.close()
