"""shoal.SubinterpreterExecutor: a complete concurrent.futures executor."""

import concurrent.futures
import gc
import threading
import time

import pytest

import interp_work
import shoal
from shoal import SubinterpreterExecutor, interpreters
from shoal.interpreters import ExecutionFailed


def open_interpreter_ids():
    return {i.id for i in interpreters.list_all()}


def test_submit_and_result():
    with SubinterpreterExecutor(max_workers=2) as pool:
        future = pool.submit(interp_work.add, 2, b=40)
        assert future.result(timeout=60) == 42
        assert isinstance(future, concurrent.futures.Future)


def test_workers_are_isolated_interpreters_and_reused():
    with SubinterpreterExecutor(max_workers=2) as pool:
        ids = {f.result(timeout=60) for f in [pool.submit(interp_work.current_interpreter_id) for _ in range(20)]}
        assert 1 <= len(ids) <= 2
        assert interpreters.get_main().id not in ids
        assert all(interpreters.Interpreter(i).isolated for i in ids)


def test_map_keeps_order_with_and_without_chunks():
    with SubinterpreterExecutor(max_workers=2) as pool:
        assert list(pool.map(interp_work.square, range(50))) == [x * x for x in range(50)]
        assert list(pool.map(interp_work.add, range(50), range(50), chunksize=7)) == [2 * x for x in range(50)]
        with pytest.raises(ValueError, match="chunksize"):
            pool.map(interp_work.square, range(3), chunksize=0)


def test_map_timeout():
    with SubinterpreterExecutor(max_workers=1) as pool:
        results = pool.map(interp_work.sleep_then, [2.0], [1], timeout=0.05)
        with pytest.raises(TimeoutError):
            list(results)


def test_an_exception_leaves_the_worker_usable():
    with SubinterpreterExecutor(max_workers=1) as pool:
        failing = pool.submit(interp_work.fail, "boom", 1)
        with pytest.raises(ValueError) as info:
            failing.result(timeout=60)
        assert info.value.args == ("boom", 1)
        assert isinstance(info.value.__cause__, ExecutionFailed)
        assert "in fail" in info.value.__cause__.excinfo.formatted
        assert pool.submit(interp_work.square, 9).result(timeout=60) == 81


def test_shutdown_cancels_pending_futures():
    pool = SubinterpreterExecutor(max_workers=1)
    running = pool.submit(interp_work.sleep_then, 0.5, "first")
    pending = [pool.submit(interp_work.square, i) for i in range(5)]
    # Until the worker has its interpreter and has started the first call
    # (making an interpreter can take longer than any fixed sleep).
    deadline = time.monotonic() + 60
    while not running.running() and time.monotonic() < deadline:
        time.sleep(0.01)
    pool.shutdown(wait=True, cancel_futures=True)
    assert running.result() == "first"
    assert all(f.cancelled() for f in pending)
    with pytest.raises(RuntimeError):
        pool.submit(interp_work.noop)


def test_shutdown_without_waiting_closes_interpreters_later():
    before = open_interpreter_ids()
    pool = SubinterpreterExecutor(max_workers=2)
    futures = [pool.submit(interp_work.sleep_then, 0.2, i) for i in range(2)]
    pool.shutdown(wait=False)
    assert [f.result(timeout=60) for f in futures] == [0, 1]
    deadline = time.monotonic() + 30
    while open_interpreter_ids() != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert open_interpreter_ids() == before


def test_shutdown_closes_the_worker_interpreters():
    before = open_interpreter_ids()
    with SubinterpreterExecutor(max_workers=2) as pool:
        list(pool.map(interp_work.square, range(10)))
        assert open_interpreter_ids() - before
    assert open_interpreter_ids() == before


def test_initializer_runs_in_each_worker():
    with SubinterpreterExecutor(max_workers=1, initializer=interp_work.initialize, initargs=("ready",)) as pool:
        assert pool.submit(interp_work.initialized_with).result(timeout=60) == "ready"
    # The main interpreter's copy of the module was not touched.
    assert interp_work.initialized_with() is None


def test_positional_arguments_in_interpreter_pool_executors_order():
    # 3.14's InterpreterPoolExecutor (and ThreadPoolExecutor): max_workers,
    # thread_name_prefix, initializer, initargs; isolated only by keyword.
    with SubinterpreterExecutor(1, "pfx", interp_work.initialize, ("ready",)) as pool:
        assert pool.submit(interp_work.initialized_with).result(timeout=60) == "ready"
        assert any(t.name.startswith("pfx_") for t in threading.enumerate())
    with pytest.raises(TypeError):
        SubinterpreterExecutor(1, "pfx", None, (), False)
    with SubinterpreterExecutor(1, isolated=False) as pool:
        interp_id = pool.submit(interp_work.current_interpreter_id).result(timeout=60)
        assert not interpreters.Interpreter(interp_id).isolated


def test_map_buffersize_as_3_14_defines_it():
    with SubinterpreterExecutor(max_workers=1) as pool:
        submitted = []
        original = pool.submit

        def counting(fn, *args):
            submitted.append(args)
            return original(fn, *args)

        pool.submit = counting
        try:
            results = pool.map(interp_work.square, range(20), buffersize=3)
            assert len(submitted) == 3  # no more ahead than buffersize
            assert next(results) == 0
            assert len(submitted) == 4  # one more in before waiting for the next out
            assert list(results) == [x * x for x in range(1, 20)]
            assert list(pool.map(interp_work.add, range(10), range(10), chunksize=3, buffersize=1)) == [
                2 * x for x in range(10)
            ]
        finally:
            del pool.submit
        with pytest.raises(ValueError):
            pool.map(interp_work.square, range(3), buffersize=0)
        with pytest.raises(TypeError):
            pool.map(interp_work.square, range(3), buffersize=1.5)


def test_failing_initializer_breaks_the_pool():
    pool = SubinterpreterExecutor(max_workers=1, initializer=interp_work.fail_initializer)
    try:
        future = pool.submit(interp_work.noop)
        with pytest.raises(concurrent.futures.BrokenExecutor):
            future.result(timeout=60)
        with pytest.raises(concurrent.futures.BrokenExecutor):
            pool.submit(interp_work.noop)
    finally:
        pool.shutdown()


def test_lambdas_are_refused_at_submit():
    with SubinterpreterExecutor(max_workers=1) as pool:
        with pytest.raises(TypeError, match="lambda"):
            pool.submit(lambda: 1)
        with pytest.raises(TypeError, match="lambda"):
            pool.map(lambda x: x, [1])


@pytest.mark.parametrize(
    "executor_type",
    [concurrent.futures.ThreadPoolExecutor, concurrent.futures.ProcessPoolExecutor, SubinterpreterExecutor],
    ids=["threads", "processes", "interpreters"],
)
def test_drop_in_for_the_stdlib_executors(executor_type):
    kwargs = {"mp_context": __import__("multiprocessing").get_context("spawn")} if executor_type is concurrent.futures.ProcessPoolExecutor else {}
    with executor_type(max_workers=2, **kwargs) as pool:
        assert list(pool.map(interp_work.square, range(20))) == [x * x for x in range(20)]
        assert pool.submit(interp_work.add, "a", "b").result(timeout=60) == "ab"
        with pytest.raises(ValueError):
            pool.submit(interp_work.fail, 1).result(timeout=60)


def test_buffer_chunks_cross_without_a_copy():
    buf = shoal.empty(1 << 20, dtype="uint8")
    view = memoryview(buf)
    view[:] = bytes(range(256)) * 4096
    view.release()
    buf.seal()  # filled: read-only from here, so its views may be sent
    view = memoryview(buf)
    base = buf.__array_interface__["data"][0]
    chunk = 1 << 18
    np = pytest.importorskip("numpy")
    with SubinterpreterExecutor(max_workers=2) as pool:
        slices = [view[i : i + chunk] for i in range(0, 1 << 20, chunk)]
        sums = list(pool.map(interp_work.byte_sum, slices))
        # Sent there and back: still the same bytes of the arena, not copies.
        back = list(pool.map(interp_work.identity, slices))
    assert sum(sums) == sum(range(256)) * 4096
    addresses = [np.asarray(b).__array_interface__["data"][0] for b in back]
    assert addresses == [base + i for i in range(0, 1 << 20, chunk)]


def test_blocks_are_released_after_shutdown():
    gc.collect()
    before = shoal.default_arena().used
    buf = shoal.empty(1 << 20, dtype="uint8")
    memoryview(buf)[:] = bytes(1 << 20)
    with SubinterpreterExecutor(max_workers=2) as pool:
        assert sum(pool.map(interp_work.byte_sum, [buf] * 4)) == 0
    del buf
    gc.collect()
    # <=: an earlier test's in-flight pickle reference may expire meanwhile
    # (test_interpreters.py, default_used), which only lowers it.
    assert shoal.default_arena().used <= before


def test_many_threads_submitting_at_once():
    with SubinterpreterExecutor(max_workers=2) as pool:
        results = []

        def submitter(base):
            results.extend(f.result(timeout=60) for f in [pool.submit(interp_work.square, base + i) for i in range(25)])

        threads = [threading.Thread(target=submitter, args=(100 * t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(results) == sorted((100 * t + i) ** 2 for t in range(4) for i in range(25))


def test_an_executor_dropped_without_shutdown_lets_its_workers_go():
    import weakref

    pool = SubinterpreterExecutor(max_workers=1)
    assert pool.submit(interp_work.square, 3).result(timeout=60) == 9
    ref = weakref.ref(pool)
    del pool
    gc.collect()
    assert ref() is None  # collectable: its worker threads do not hold it


def test_an_exception_nobody_retrieves_is_reported_once(monkeypatch):
    import gc
    import threading

    reported = []
    monkeypatch.setattr(threading, "excepthook", reported.append)
    with SubinterpreterExecutor(max_workers=1) as pool:
        lost = pool.submit(interp_work.fail, "lost")
        seen = pool.submit(interp_work.fail, "seen")
        assert isinstance(seen.exception(), ValueError)
        with pytest.raises(ValueError):
            pool.submit(interp_work.fail, "raised").result()
        fine = pool.submit(interp_work.add, 1, 2)
        assert fine.result() == 3
        lost_exc = lost.exception  # not called: only looked at
    del lost, seen, fine, lost_exc
    gc.collect()
    assert [args.exc_value.args for args in reported] == [("lost",)]
