"""shoal.dask with a real distributed cluster: two worker processes pass an
array from a task on one to a task on the other.

On one host the array crosses as a handle (the bytes distributed counts on
the comm are a few hundred); without shoal, or between "hosts" (workers in
mount namespaces of their own, each with its own /dev/shm, so neither can
open the other's arena), it crosses as frames, with the same results. A
worker SIGKILLed mid-transfer leaves nothing in the arena.
"""

import os
import pathlib
import shutil
import subprocess
import sys
import time

import pytest

numpy = pytest.importorskip("numpy")
distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed (scripts/setup.sh installs it)")

import shoal  # noqa: E402
import shoal.dask  # noqa: E402
from shoal import _shoal  # noqa: E402

import dask_work  # noqa: E402 (the workers import it too)
from conftest import PREFIX, _counter  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
N = 1 << 17  # float64s: 1 MiB, small enough for a fast test, far above any header
LIFETIME = "3"  # seconds: the workers' pickle lifetime, so the kill test's entry ends soon


def _worker_env():
    # PYTHONPATH: for the namespaced workers, started as commands (a
    # LocalCluster's get this process's sys.path from multiprocessing).
    path = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    return {"SHOAL_PICKLE_LIFETIME": LIFETIME, "PYTHONPATH": path}


@pytest.fixture(scope="module")
def arena():
    with shoal.Arena("256MiB", name=f"{PREFIX}{os.getpid()}-{next(_counter)}") as arena:
        yield arena


@pytest.fixture(scope="module")
def client(arena):
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None, env=_worker_env()
    )
    client = distributed.Client(cluster)
    shoal.dask.enable(client, arena=arena)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _two_workers(client):
    return sorted(client.scheduler_info()["workers"])


def _pass(client, make, keys):
    """make(N) on the first worker, describe() of its result on the second:
    (what the second saw, bytes the first wrote for the result)."""
    a, b = _two_workers(client)
    made = client.submit(make, N, 7, key=keys[0], workers=[a], pure=False)
    seen = client.submit(dask_work.describe, made, key=keys[1], workers=[b], pure=False).result(timeout=60)
    sent = client.run(dask_work.bytes_sent, [made.key], workers=[a])[a]
    del made
    return seen, sent


def test_workers_share_the_clients_arena(client, arena):
    names = client.run(dask_work.default_arena_name)
    assert set(names.values()) == {arena.name}


def test_arena_memory_crosses_as_a_handle(client):
    seen, sent = _pass(client, dask_work.make_in_arena, ("arena-made", "arena-seen"))
    plain, plain_sent = _pass(client, dask_work.make_plain, ("plain-made", "plain-seen"))
    assert seen["sum"] == plain["sum"] and seen["digest"] == plain["digest"]  # same values
    assert sent < 4096, f"{sent} bytes crossed the comm for a handle"
    assert plain_sent >= N * 8, f"only {plain_sent} bytes crossed for an ordinary array"
    assert seen["in_arena"] and not seen["writeable"]  # the same memory, read-only
    assert not plain["in_arena"]


def test_arrays_enabled_copies_plain_arrays_into_the_arena(client, arena):
    shoal.dask.enable(client, arrays=True, arena=arena)
    try:
        seen, sent = _pass(client, dask_work.make_plain, ("enabled-made", "enabled-seen"))
    finally:
        shoal.dask.enable(client, arrays=False, arena=arena)
    assert sent < 4096, f"{sent} bytes crossed the comm for a handle"
    assert seen["in_arena"] and not seen["writeable"]


def test_a_worker_killed_mid_transfer_leaves_nothing(client, arena):
    client.restart()  # what the workers hold now is what they hold after the restart below
    a, b = _two_workers(client)
    pids = client.run(os.getpid)
    baseline = _settled(arena)
    client.run(dask_work.die_on_receive, workers=[b])
    made = client.submit(dask_work.make_in_arena, N, 9, key="kill-made", workers=[a], pure=False)
    seen = client.submit(dask_work.describe, made, key="kill-seen", workers=[b], pure=False)
    _wait_dead(pids[b])
    # The sender issued the handle and the receiver died before redeeming
    # it: the arena holds it in flight, for the pickle's lifetime only, even
    # though its sender lives on.
    assert _shoal._in_flight(arena.name), "no reference in flight after the receiver died"
    client.cancel([made, seen], force=True)
    del made, seen
    assert _settled(arena, in_flight_only=True)[1] == 0, "the in-flight reference outlived its lifetime"
    # Dask keeps the sender's value referenced after a failed transfer (its
    # worker still holds its own block): a restart ends that worker too.
    client.restart()
    assert _settled(arena, like=baseline) == baseline
    assert arena.check() == []


def _wait_dead(pid, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)
    pytest.fail(f"worker {pid} did not die")


def _usage(arena):
    stats = arena.stats()
    return {key: stats[key] for key in ("used", "blocks")}, len(_shoal._in_flight(arena.name))


def _settled(arena, like=None, in_flight_only=False, timeout=30):
    """The arena's usage once no reference is in flight (and, with `like`,
    once it equals `like`), dead holders reaped; as it is after `timeout`
    seconds otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        arena.reap()
        usage = _usage(arena)
        if usage[1] == 0 and (in_flight_only or like is None or usage == like):
            return usage
        if time.monotonic() > deadline:
            return usage
        time.sleep(0.2)


# ------------------------------------------------------- two "hosts" ----


def _namespaced_worker(scheduler):
    """The command of a Dask worker in a mount namespace of its own, with a
    fresh /dev/shm: it cannot open this host's arenas, as on another host."""
    worker = [sys.executable, "-m", "distributed.cli.dask_worker", scheduler, "--nthreads", "1", "--no-nanny",
              "--preload", "shoal.dask", "--no-dashboard"]  # fmt: skip
    mount = 'mount -t tmpfs -o size=256m,mode=1777 tmpfs /dev/shm && exec "$@"'
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    return ["unshare", *user, "--mount", "--propagation", "private", "--", "sh", "-c", mount, "sh", *worker]


def _can_unshare():
    if shutil.which("unshare") is None:
        return "unshare(1) is missing"
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    probe = subprocess.run(
        ["unshare", *user, "--mount", "--propagation", "private", "--", "sh", "-c", "mount -t tmpfs tmpfs /dev/shm"],
        capture_output=True, text=True,
    )  # fmt: skip
    return None if probe.returncode == 0 else f"no mount namespace here: {probe.stderr.strip()}"


def test_two_hosts_fall_back_to_frames_with_the_same_results():
    why = _can_unshare()
    if why is not None:
        pytest.skip(why)
    cluster = distributed.LocalCluster(n_workers=0, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    # Each "host" has 256 MiB of /dev/shm: its workers' own arenas are smaller.
    env = {key: value for key, value in os.environ.items() if key != "SHOAL_ARENA"} | _worker_env()
    env["SHOAL_ARENA_SIZE"] = "64MiB"
    workers = [subprocess.Popen(_namespaced_worker(cluster.scheduler_address), env=env, stderr=subprocess.DEVNULL)
               for _ in range(2)]  # fmt: skip
    try:
        client.wait_for_workers(2, timeout=60)
        seen, sent = _pass(client, dask_work.make_in_arena, ("hosts-made", "hosts-seen"))
        ids = client.run(shoal.dask.host_identity)
        a, b = _two_workers(client)
        assert ids[a]["boot-id"] == ids[b]["boot-id"] and ids[a]["shm"] != ids[b]["shm"]
        plain = dask_work.make_plain(N, 7)
        assert seen["sum"] == float(numpy.sum(plain))
        assert seen["digest"] == dask_work.describe(plain)["digest"]
        assert sent >= N * 8, f"only {sent} bytes crossed between two hosts"
        assert seen["in_arena"] and not seen["writeable"]  # placed in the receiver's own arena
    finally:
        client.close()
        cluster.close()
        for worker in workers:
            worker.kill()
            worker.wait()

