"""shoal-broker, the standalone broker daemon, driven from Python.

The daemon creates the arena, reaps dead holders every --interval ms, and on
SIGTERM or SIGINT unlinks the segment and exits 0. It must be installed on
PATH (pip install . puts it in the environment's bin directory).
"""

import os
import pathlib
import select
import shutil
import signal
import subprocess
import sys
import time

import pytest

import shoal

SHM = pathlib.Path("/dev/shm")
# The environment's bin directory first: pytest may run without the venv
# activated, through its python.
SEARCH_PATH = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
BROKER = shutil.which("shoal-broker", path=SEARCH_PATH)

pytestmark = pytest.mark.skipif(
    BROKER is None,
    reason="shoal-broker is not installed next to this Python or on PATH: run `pip install .` first",
)


def segment_path(name):
    return SHM / f"shoal.{name}"


def read_line(stream, timeout):
    ready, _, _ = select.select([stream], [], [], timeout)
    if not ready:
        pytest.fail(f"no output from shoal-broker within {timeout} s")
    return stream.readline()


@pytest.fixture
def daemons():
    """start(name, size="64MiB", *extra_args) -> a running shoal-broker that
    has printed its "serving" line. Any left running are killed afterwards."""
    started = []

    def start(name, size="64MiB", *extra_args):
        daemon = subprocess.Popen(
            [BROKER, "--name", name, "--size", size, *extra_args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(daemon)
        line = read_line(daemon.stdout, timeout=10)
        assert "serving" in line, f"unexpected first line {line!r}, stderr: {daemon.stderr.read()!r}"
        assert f"'{name}'" in line
        return daemon

    yield start
    for daemon in started:
        if daemon.poll() is None:
            daemon.kill()
        daemon.wait()
        daemon.stdout.close()
        daemon.stderr.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serves_the_arena_until_signalled_then_unlinks_it(daemons, arena_name, signum):
    daemon = daemons(arena_name)
    path = segment_path(arena_name)
    assert path.exists()
    assert path.stat().st_mode & 0o777 == 0o600

    with shoal.Arena.attach(arena_name) as arena:
        assert arena.size == 64 * 1024 * 1024
        block = arena._allocate(4096)
        arena._release(block)
        assert arena.check() == []

    daemon.send_signal(signum)
    assert daemon.wait(timeout=10) == 0
    assert not path.exists()
    farewell = daemon.stdout.read()
    assert signal.Signals(signum).name in farewell


def test_a_second_daemon_for_the_same_name_fails_naming_the_arena(daemons, arena_name):
    first = daemons(arena_name)
    second = subprocess.run(
        [BROKER, "--name", arena_name, "--size", "64MiB"], capture_output=True, text=True, timeout=30
    )
    assert second.returncode == 1
    assert f"arena '{arena_name}'" in second.stderr
    assert "already exists" in second.stderr
    assert first.poll() is None  # the first one keeps serving
    assert segment_path(arena_name).exists()


def test_the_daemon_reaps_a_killed_holder_within_two_seconds(daemons, arena_name, holder_process):
    daemons(arena_name)
    with shoal.Arena.attach(arena_name) as arena:
        baseline = arena.stats()
        child = holder_process(arena_name, blocks=6, nbytes=200_000)
        assert arena.used >= baseline["used"] + 6 * 200_000

        child.send_signal(signal.SIGKILL)
        child.wait()
        # Only watch: this process must not reap it itself (no arena.reap()).
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            stats = arena.stats()
            if stats["reaped_holders"] == baseline["reaped_holders"] + 1:
                break
            time.sleep(0.02)
        else:
            pytest.fail(f"the daemon did not reap the killed holder within 2 s: {arena.stats()}")
        assert stats["used"] == baseline["used"]
        assert stats["holders"] == baseline["holders"]
        assert arena.check() == []


def test_reap_from_an_attached_process_releases_a_dead_holder(daemons, arena_name, holder_process):
    # The daemon sweeps only once an hour here, so the reaping is ours.
    daemons(arena_name, "64MiB", "--interval", "3600000")
    with shoal.Arena.attach(arena_name) as arena:
        baseline = arena.stats()
        child = holder_process(arena_name, blocks=3, nbytes=50_000)
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert arena.stats()["used"] > baseline["used"]  # nobody has reaped yet
        assert arena.reap() == 1
        after = arena.stats()
        assert after["used"] == baseline["used"]
        assert after["reaped_holders"] == baseline["reaped_holders"] + 1
        assert arena.reap() == 0
        assert arena.check() == []
