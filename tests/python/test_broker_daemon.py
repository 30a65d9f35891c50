"""shoal-broker, the standalone broker daemon, driven from Python.

The daemon creates the arena, reaps dead holders every --interval ms, and on
SIGTERM or SIGINT unlinks the segment and exits 0. It must be installed on
PATH (pip install . puts it in the environment's bin directory).
"""

import json
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
        block = arena.empty(4096, "uint8")
        del block
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


# ------------------------------------------------- a broker that dies or stops

CLI = shutil.which("shoal", path=SEARCH_PATH)

# A child that attaches (and so stands by to take reaping over, broker.hpp),
# optionally holds `nbytes` in one buffer, says "ready", and closes its
# arena and exits cleanly once its stdin closes.
_ATTACHED_CHILD = """
import sys
import shoal
arena = shoal.Arena.attach(sys.argv[1])
held = arena.empty(int(sys.argv[2]), "uint8") if int(sys.argv[2]) else None
print("ready", flush=True)
sys.stdin.read()
arena.close()
print("closed", flush=True)
"""


@pytest.fixture
def attached():
    """attach(name, nbytes=0) -> a Python child attached to arena `name`,
    holding `nbytes`; it leaves cleanly when leave(child) closes its stdin."""
    children = []

    def attach(name, nbytes=0):
        child = subprocess.Popen(
            [sys.executable, "-c", _ATTACHED_CHILD, name, str(nbytes)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        children.append(child)
        line = read_line(child.stdout, timeout=30)
        if line.strip() != "ready":
            child.kill()
            pytest.fail(f"attached child failed: {line!r} {child.stderr.read()}")
        return child

    yield attach
    for child in children:
        if child.poll() is None:
            child.kill()
        child.wait()
        for stream in (child.stdin, child.stdout, child.stderr):
            stream.close()


def leave(child):
    child.stdin.close()
    assert child.wait(timeout=30) == 0, child.stderr.read()


def cli_json(*args):
    if CLI is None:
        pytest.skip("the shoal CLI is not installed next to this Python or on PATH")
    result = subprocess.run([CLI, *args, "--json"], capture_output=True, text=True, timeout=60)
    return json.loads(result.stdout)


def listed(name):
    return next(a for a in cli_json("ls")["arenas"] if a["name"] == name)


def wait_until(predicate, what, timeout=30.0):
    # A generous bound: this checks that it happens, not how fast.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"{what}: not within {timeout} s")


def test_when_the_broker_is_killed_an_attached_process_takes_reaping_over(daemons, arena_name, attached):
    broker = daemons(arena_name)
    standby = attached(arena_name)
    doomed = attached(arena_name, nbytes=2 * 1024 * 1024)
    broker.kill()
    broker.wait()
    doomed.kill()
    doomed.wait()
    # Only the CLI watches here (read-only): this test process attaches nothing.
    wait_until(lambda: cli_json("holders", arena_name)["holders"] and
               all(h["alive"] for h in cli_json("holders", arena_name)["holders"]),
               "the dead holder's 2 MiB reaped by the standby")
    assert [h["pid"] for h in cli_json("holders", arena_name)["holders"]] == [standby.pid]
    entry = listed(arena_name)
    assert entry["reaper"] == {"pid": standby.pid, "alive": True}
    assert entry["used_bytes"] < 1024 * 1024
    leave(standby)


def test_sigterm_with_live_holders_keeps_the_name_until_the_last_leaves(daemons, arena_name, attached):
    broker = daemons(arena_name)
    holders = [attached(arena_name) for _ in range(2)]
    broker.send_signal(signal.SIGTERM)
    assert "live holders" in read_line(broker.stdout, timeout=30)
    assert segment_path(arena_name).exists()
    assert listed(arena_name)["state"] == "closing"
    with pytest.raises(shoal.ArenaExists):
        shoal.Arena(name=arena_name, size="16MiB")  # one name never names two arenas
    with pytest.raises(shoal.ArenaNotFound, match="being destroyed"):
        shoal.Arena.attach(arena_name)
    leave(holders[0])
    assert segment_path(arena_name).exists()
    leave(holders[1])  # the last holder unlinks it
    assert not segment_path(arena_name).exists()
    assert broker.wait(timeout=30) == 0
    assert "unlinked" in broker.stdout.read()


def test_sigterm_grace_ends_the_broker_and_leaves_the_arena_closing(daemons, arena_name, attached):
    broker = daemons(arena_name, "64MiB", "--grace", "0.2")
    holder = attached(arena_name)
    broker.send_signal(signal.SIGTERM)
    assert broker.wait(timeout=30) == 0
    assert "closing" in broker.stdout.read()
    assert segment_path(arena_name).exists()
    entry = listed(arena_name)
    assert entry["state"] == "closing"
    assert entry["holders"] == {"alive": 1, "dead": 0}
    second = subprocess.run([BROKER, "--name", arena_name, "--size", "64MiB"], capture_output=True, text=True,
                            timeout=30)
    assert second.returncode == 1 and "already exists" in second.stderr
    leave(holder)
    assert not segment_path(arena_name).exists()


def test_sigterm_waits_for_a_last_holder_that_dies_instead_of_leaving(daemons, arena_name, attached):
    broker = daemons(arena_name, "64MiB", "--interval", "3600000")  # its own rounds: hourly
    holder = attached(arena_name, nbytes=4096)
    broker.send_signal(signal.SIGTERM)
    assert "live holders" in read_line(broker.stdout, timeout=30)
    holder.kill()
    holder.wait()
    assert broker.wait(timeout=30) == 0  # reaped while waiting: the arena is gone
    assert not segment_path(arena_name).exists()
