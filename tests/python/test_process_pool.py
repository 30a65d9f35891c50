"""shoal.ProcessPoolExecutor: concurrent.futures' process pool whose workers
share the caller's arena (the parts of the stdlib's executor tests that
apply to a process pool, and what crosses without a copy)."""

import concurrent.futures
import gc
import multiprocessing
import signal
import time
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pytest

import pool_work
import shoal
from shoal import _shoal

MiB = 1 << 20


@pytest.fixture(scope="module")
def pool():
    with shoal.ProcessPoolExecutor(max_workers=2) as pool:
        yield pool


def quiet_used():
    """The default arena's use once garbage from earlier tests is gone."""
    gc.collect()
    time.sleep(0.2)
    gc.collect()
    return shoal.default_arena().used


def in_flight():
    """The default arena's in-flight references now, as comparable keys."""
    return {(e["entry"], e["offset"], e["generation"], e["created"]) for e in _shoal._in_flight(shoal.default_arena().name)}


def settled(baseline, timeout=10.0):
    """The default arena's use once it is down to `baseline` (the broker
    reaps dead holders every round), or what it is after `timeout`."""
    arena = shoal.default_arena()
    deadline = time.monotonic() + timeout
    while arena.used > baseline and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.02)
    return arena.used


def test_submit_and_map_like_the_stdlib(pool):
    assert pool.submit(pool_work.add, 2, b=3).result(timeout=60) == 5
    assert list(pool.map(pool_work.add, range(10), range(10))) == [2 * i for i in range(10)]
    assert list(pool.map(pool_work.add, range(10), range(10), chunksize=3)) == [2 * i for i in range(10)]
    assert list(pool.map(pool_work.identity, range(7), chunksize=100)) == list(range(7))
    assert list(pool.map(pool_work.identity, [])) == []


def test_map_buffersize_submits_only_that_far_ahead(pool):
    submitted = []
    original = pool.submit

    def counting(fn, *args):
        submitted.append(args)
        return original(fn, *args)

    pool.submit = counting
    try:
        results = pool.map(pool_work.identity, range(100), buffersize=4)
        assert len(submitted) == 4
        assert next(results) == 0
        assert len(submitted) == 5  # one more in before waiting for the first out, as 3.14 does
        assert list(results) == list(range(1, 100))
    finally:
        del pool.submit
    with pytest.raises(ValueError):
        pool.map(pool_work.identity, range(3), buffersize=0)
    with pytest.raises(TypeError):
        pool.map(pool_work.identity, range(3), buffersize=1.5)
    with pytest.raises(ValueError):
        pool.map(pool_work.identity, range(3), chunksize=0)


def test_exceptions_and_timeouts(pool):
    with pytest.raises(ValueError, match="on purpose"):
        pool.submit(pool_work.fail, "on purpose").result(timeout=60)
    with pytest.raises(TimeoutError):
        list(pool.map(pool_work.sleep, [1.0], timeout=0.1))
    unpicklable = pool.submit(pool_work.identity, lambda: None)  # reported on the future, as the stdlib does
    with pytest.raises(Exception):
        unpicklable.result(timeout=60)
    assert pool.submit(pool_work.add, 1, 1).result(timeout=60) == 2  # still usable


def test_arena_arrays_cross_as_handles_and_arrive_read_only(pool):
    buf = shoal.empty((4, MiB), "float64")
    np.asarray(buf)[...] = np.arange(4)[:, None]
    buf.seal()  # arrays pickled while others hold them: read-only ones only
    rows = np.asarray(buf)
    assert list(pool.map(pool_work.describe, rows)) == [(float(i * MiB), False, "ndarray") for i in range(4)]
    assert pool.submit(pool_work.describe, buf).result(timeout=60) == (6.0 * MiB, False, "ndarray")
    assert pool.submit(pool_work.describe, {"nested": [rows[1, ::2]]}["nested"][0]).result(timeout=60)[0] == MiB / 2


def test_results_come_back_read_only_from_the_arena(pool):
    result = pool.submit(pool_work.arange, 100_000).result(timeout=60)
    assert np.array_equal(result, np.arange(100_000.0)) and not result.flags.writeable
    assert isinstance(shoal._pickling.arena_buffer_of(result), shoal.Buffer)  # copied once into the arena
    small = pool.submit(pool_work.arange, 10).result(timeout=60)  # pickled: cheaper than a block
    assert shoal._pickling.arena_buffer_of(small) is None


def test_large_plain_arrays_are_copied_once_into_the_arena(pool):
    plain = np.ones(MiB)  # 8 MiB, not arena memory
    assert pool.submit(pool_work.describe, plain).result(timeout=60) == (float(MiB), False, "ndarray")


def test_nothing_stays_in_flight_after_tasks(pool):
    baseline = quiet_used()
    before = in_flight()  # other tests' pickles, still in their lifetime
    buf = shoal.empty((MiB,), "float64")
    np.asarray(buf)[:] = 1
    buf.seal()
    for _ in range(3):
        pool.submit(pool_work.describe, np.asarray(buf)).result(timeout=60)
        pool.submit(pool_work.describe, np.ones(MiB)).result(timeout=60)
        del _
    result = pool.submit(pool_work.arange, MiB).result(timeout=60)
    del result, buf
    assert in_flight() <= before
    assert settled(baseline) <= baseline


def test_initializer_runs_in_each_worker_and_its_failure_breaks_the_pool():
    with shoal.ProcessPoolExecutor(1, initializer=pool_work.remember, initargs=("set",)) as pool:
        assert pool.submit(pool_work.initialized).result(timeout=60) == "set"
    with shoal.ProcessPoolExecutor(1, initializer=pool_work.fail_init) as pool:
        with pytest.raises(BrokenProcessPool):
            pool.submit(pool_work.add, 1, 2).result(timeout=60)


def test_shutdown_cancels_pending_futures_and_refuses_new_ones():
    pool = shoal.ProcessPoolExecutor(1)
    running = pool.submit(pool_work.sleep, 0.5)
    pending = [pool.submit(pool_work.sleep, 0.5) for _ in range(5)]
    pool.shutdown(wait=True, cancel_futures=True)
    assert running.result() == 0.5
    assert any(f.cancelled() for f in pending)
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(pool_work.add, 1, 2)


def test_the_arena_is_back_to_the_callers_use_when_shutdown_returns():
    arena = shoal.default_arena()
    sealed = shoal.empty((1000,), "float64")
    np.asarray(sealed)[:] = 1.0
    sealed.seal()
    array = np.asarray(sealed)
    baseline = quiet_used()
    holders = arena.stats()["holders"]
    with shoal.ProcessPoolExecutor(2) as pool:
        sums = list(pool.map(np.sum, [array[:500], array[500:]]))
        assert arena.stats()["holders"] == holders + 2
    # No waiting for the broker's round: shutdown reaped the joined workers.
    assert (arena.stats()["holders"], arena.used) == (holders, baseline)
    assert sums == [500.0, 500.0]


def test_max_tasks_per_child_replaces_workers():
    with shoal.ProcessPoolExecutor(1, max_tasks_per_child=1) as pool:
        pids = {pool.submit(pool_work.pid).result(timeout=60) for _ in range(3)}
    assert len(pids) == 3


def test_fork_is_refused():
    with pytest.raises(ValueError, match="spawn"):
        shoal.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))


def test_spawn_works_too():
    with shoal.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert pool.submit(pool_work.add, 20, 22).result(timeout=60) == 42


@pytest.mark.parametrize("death", ["sigkill", "segfault", "os_exit"])
def test_a_worker_killed_mid_task_breaks_the_pool_and_leaks_nothing(death):
    arena = shoal.default_arena()
    warm = shoal.empty((10,), "float64")  # the holder's ledger exists before the baseline
    baseline = quiet_used()
    before = in_flight()
    buf = shoal.empty((4 * MiB,), "float64")  # 32 MiB the worker will hold when it dies
    np.asarray(buf)[:] = 1.0
    buf.seal()
    task = {
        "sigkill": (pool_work.hold_then_die, np.asarray(buf)),
        "segfault": (pool_work.kill_self, signal.SIGSEGV),
        "os_exit": (pool_work.exit_now,),
    }[death]
    with shoal.ProcessPoolExecutor(1) as pool:
        plain = pool.submit(pool_work.describe, np.ones(MiB))  # copied into the arena, in flight
        plain.result(timeout=60)
        future = pool.submit(*task)
        with pytest.raises(BrokenProcessPool):
            future.result(timeout=60)
        with pytest.raises(BrokenProcessPool):
            pool.submit(pool_work.add, 1, 2)
    del buf, task
    gc.collect()
    assert settled(baseline) <= baseline  # the broker reaped the dead worker's references
    assert in_flight() <= before
    assert arena.check() == []


def test_the_process_path_moves_a_large_array_without_a_copy():
    buf = shoal.empty((96 << 20,), "float64")  # 768 MiB, in the default arena of 1 GiB
    np.asarray(buf)[:] = 1.0
    buf.seal()
    with shoal.ProcessPoolExecutor(1) as pool:
        total, anonymous = pool.submit(pool_work.sum_and_anonymous, buf).result(timeout=120)
    assert total == float(96 << 20)
    assert anonymous < 256 * MiB, f"the worker has {anonymous // MiB} MiB of anonymous memory: the array was copied"


def test_a_call_queued_behind_a_long_task_outlives_the_pickle_lifetime():
    buf = shoal.empty((1000,), "float64")
    np.asarray(buf)[:] = 1.0
    buf.seal()
    with shoal.ProcessPoolExecutor(1) as pool, shoal.pickle_lifetime(0.5):
        first = pool.submit(pool_work.sleep, 1.5)
        queued = pool.submit(pool_work.nap_then_describe, 0.0, np.asarray(buf))  # fed at once, waits 1.5 s
        assert first.result(timeout=60) == 1.5
        assert queued.result(timeout=60) == (1000.0, False, "ndarray")


def test_a_full_arena_falls_back_to_pickling():
    big = np.ones(3 * MiB)  # 24 MiB, more than the tiny default arena of a fresh pool process has room for
    with shoal.ProcessPoolExecutor(1) as pool:
        arena = shoal.default_arena()
        hog = []
        try:
            while True:  # fill the default arena
                hog.append(shoal.empty((4 * MiB,), "float64"))
        except MemoryError:
            pass
        assert pool.submit(pool_work.describe, big).result(timeout=60) == (float(3 * MiB), False, "ndarray")
        del hog
        gc.collect()
    assert arena.check() == []


def test_many_arena_rows_through_map():
    buf = shoal.empty((5000, 4), "float64")
    np.asarray(buf)[:] = 1.0
    buf.seal()
    with shoal.ProcessPoolExecutor(2) as pool:
        totals = list(pool.map(pool_work.describe, np.asarray(buf), chunksize=50))
    assert [t[0] for t in totals] == [4.0] * 5000


def test_an_exception_nobody_retrieves_is_reported_once(monkeypatch):
    import gc
    import threading

    reported = []
    monkeypatch.setattr(threading, "excepthook", reported.append)
    with shoal.ProcessPoolExecutor(max_workers=1) as pool:
        lost = pool.submit(pool_work.fail, "lost")
        seen = pool.submit(pool_work.fail, "seen")
        assert isinstance(seen.exception(), ValueError)
        assert pool.submit(pool_work.add, 1, 2).result() == 3
        concurrent.futures.wait([lost])
    del lost, seen
    gc.collect()
    assert [args.exc_value.args for args in reported] == [("lost",)]
