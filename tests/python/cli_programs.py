"""The CLI tests' programs: where to find the `shoal` CLI, `shoal-broker`
and the test fixture `arena_fixture` (pytest fixtures; test modules import
them by name), reading their output with a timeout, and stopping them."""

import json
import os
import pathlib
import queue
import shutil
import signal
import subprocess
import threading
import time
import uuid

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent.parent
RUN_TIMEOUT = 30  # seconds for one CLI run: a hang is a failure, not a stuck suite
NOBODY = 65534  # uid and gid of nobody/nogroup, for the permission tests


def unique_name(prefix):
    """An arena name no other test uses."""
    return f"cli-test-{prefix}-{uuid.uuid4().hex[:8]}"


def block_bytes(payload):
    """Whole block bytes for a payload: header plus payload rounded up to 64 (at least 64)."""
    return 64 + max(64, (payload + 63) // 64 * 64)


def _executable(path):
    return path if path and os.path.isfile(path) and os.access(path, os.X_OK) else None


@pytest.fixture(scope="session")
def cli_path():
    path = _executable(os.environ.get("SHOAL_CLI")) or shutil.which("shoal")
    if path is None:
        pytest.skip("the shoal CLI is neither named by $SHOAL_CLI (e.g. SHOAL_CLI=build/tools/shoal) nor on PATH")
    return path


@pytest.fixture(scope="session")
def broker_path(cli_path):
    sibling = pathlib.Path(cli_path).resolve().parent.parent / "broker" / "shoal-broker"
    path = _executable(os.environ.get("SHOAL_BROKER")) or _executable(str(sibling)) or shutil.which("shoal-broker")
    if path is None:
        pytest.skip("shoal-broker is neither named by $SHOAL_BROKER, nor in the CLI's build dir, nor on PATH")
    return path


@pytest.fixture(scope="session")
def fixture_path(cli_path):
    candidates = [
        os.environ.get("SHOAL_ARENA_FIXTURE"),
        str(pathlib.Path(cli_path).resolve().parent / "arena_fixture"),  # the CLI's build dir
        str(REPO / "build" / "tools" / "arena_fixture"),  # when the CLI is an installed one
    ]
    for candidate in candidates:
        if _executable(candidate):
            return candidate
    pytest.skip("the test fixture arena_fixture was not found (build with -Dtests=true, or set $SHOAL_ARENA_FIXTURE)")


class LineReader:
    """Reads a child's stdout on a thread, so that waiting for a line can time out."""

    def __init__(self, proc):
        self.proc = proc
        self.lines = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)  # end of output

    def next(self, timeout=10.0):
        """The next line; fails after `timeout` seconds or at end of output."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.proc.args[0]} printed nothing within {timeout} s") from None
        if line is None:
            raise AssertionError(f"{self.proc.args[0]} exited with {self.proc.wait()}")
        return line

    def wait_for(self, prefix, timeout=10.0):
        """The next line starting with `prefix`; fails after `timeout` seconds or at end of output."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"{self.proc.args[0]} printed no {prefix!r} line within {timeout} s") from None
            if line is None:
                raise AssertionError(f"{self.proc.args[0]} exited with {self.proc.wait()} before printing {prefix!r}")
            if line.startswith(prefix):
                return line


def stop_process(proc, sig=signal.SIGTERM, grace=5.0):
    """Ends `proc` with `sig`, then SIGKILL after `grace` seconds."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ------------------------------------------------------------ the CLI ----


class Shoal:
    def __init__(self, path):
        self.path = path

    def run(self, *args, expect=None, as_nobody=False):
        command = [self.path, *args]
        if as_nobody:
            command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT)
        assert result.returncode >= 0, f"{args} died of signal {-result.returncode}: {result.stderr}"
        # Under a sanitizer build, a report fails the test whatever the exit status.
        for sign in ("internal error", "runtime error:", "Sanitizer"):
            assert sign not in result.stderr, result.stderr
        if expect is not None:
            assert result.returncode == expect, (
                f"{self.path} {' '.join(args)} exited {result.returncode}, expected {expect}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def json(self, *args, expect=0, as_nobody=False):
        result = self.run(*args, "--json", expect=expect, as_nobody=as_nobody)
        doc = json.loads(result.stdout)
        assert doc["json_version"] == 1
        return doc


@pytest.fixture
def shoal(cli_path):
    return Shoal(cli_path)
