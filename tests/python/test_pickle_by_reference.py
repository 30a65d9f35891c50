"""Pickling by reference on one host: a shoal.Buffer, a NumPy array viewing
one and a shoal.Channel pickle as a handle that the arena keeps alive for a
bounded time (shoal._pickling, include/shoal/in_flight.hpp)."""

import concurrent.futures
import gc
import multiprocessing
import pickle
import time

import numpy as np
import pytest

import pool_work
import shoal
from shoal import _shoal

GiB = 1 << 30


@pytest.fixture
def arena(arena_name):
    with shoal.Arena("256MiB", name=arena_name) as arena:
        yield arena


def settled(arena, baseline, timeout=5.0):
    """arena.used once it is back to `baseline` (the broker ends expired
    references every round), or what it is after `timeout`."""
    deadline = time.monotonic() + timeout
    while arena.used != baseline and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.02)
    return arena.used


def filled(arena, shape, value=1.0):
    buf = arena.empty(shape, "float64")
    np.asarray(buf)[...] = value
    return buf


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_a_buffer_pickles_as_a_handle_and_arrives_read_only_in_place(arena, protocol):
    buf = filled(arena, (1000,), 2.5)
    data = pickle.dumps(buf, protocol=protocol)
    assert len(data) < 600  # a handle, not 8,000 bytes of data
    view = pickle.loads(data)
    assert isinstance(view, np.ndarray) and not view.flags.writeable
    assert np.shares_memory(view, np.asarray(buf)) and view.sum() == 2500.0
    assert buf.readonly  # a pickled block is published: its bytes are final


def test_views_of_a_buffer_keep_their_geometry(arena):
    buf = arena.empty((6, 8), "int32")
    np.asarray(buf)[...] = np.arange(48).reshape(6, 8)
    buf.seal()  # arrays made from now on are read-only: any of them may be pickled
    whole = np.asarray(buf)
    for view in (whole[2:4], whole[:, 3], whole[::2, 1::3], whole.T, whole.view(np.uint8)[1:-1]):
        data = pickle.dumps(view, protocol=2)
        assert len(data) < 700
        back = pickle.loads(data)
        assert back.dtype == view.dtype and back.shape == view.shape and np.array_equal(back, view)
        assert np.shares_memory(back, whole) and not back.flags.writeable


def test_other_arrays_pickle_exactly_as_numpy_pickles_them():
    array = np.arange(1000.0)
    for protocol in (2, 4, 5):
        data = pickle.dumps(array, protocol=protocol)
        assert b"shoal" not in data  # loadable where shoal is not installed
        assert np.array_equal(pickle.loads(data), array)
    # Out-of-band buffers still go out of band (zero-copy pickling in other tools).
    buffers = []
    data = pickle.dumps(array, protocol=5, buffer_callback=buffers.append)
    assert len(buffers) == 1 and len(data) < 300
    assert np.array_equal(pickle.loads(data, buffers=buffers), array)


def test_the_sender_may_drop_everything_before_another_process_unpickles(arena):
    baseline = settled(arena, arena.used)
    buf = filled(arena, (1 << 20,), 3.0)  # 8 MiB
    data = pickle.dumps(buf)
    del buf
    gc.collect()
    time.sleep(1.0)
    with concurrent.futures.ProcessPoolExecutor(1, multiprocessing.get_context("spawn")) as pool:
        for _ in range(2):  # any number of times
            assert pool.submit(pool_work.sum_of_pickle, data).result(timeout=60) == 3.0 * (1 << 20)
    shoal._pickling.release(_refs_in(data))
    assert settled(arena, baseline) == baseline


def _refs_in(data):
    """The in-flight references a pickle names (what rebuild_array was given)."""
    refs = []
    original = shoal._pickling._shoal._redeem

    def spy(ref):
        refs.append(ref)
        return original(ref)

    shoal._pickling._shoal._redeem = spy
    try:
        pickle.loads(data)
    finally:
        shoal._pickling._shoal._redeem = original
    return refs


def test_after_its_lifetime_a_pickle_expires_and_memory_comes_back(arena):
    baseline = settled(arena, arena.used)
    buf = filled(arena, (100_000,))
    with shoal.pickle_lifetime(0.3):
        data = pickle.dumps(buf)
    assert [e["offset"] for e in _shoal._in_flight(arena.name)] != []
    del buf
    gc.collect()
    time.sleep(0.5)
    with pytest.raises(shoal.PickleExpired, match="lifetime ran out"):
        pickle.loads(data)
    assert _shoal._in_flight(arena.name) == []
    assert settled(arena, baseline) == baseline
    assert arena.check() == []


def test_a_lifetime_must_be_sensible():
    with pytest.raises(ValueError):
        shoal.set_pickle_lifetime(0)
    with pytest.raises(TypeError):
        with shoal.pickle_lifetime("10"):
            pass
    previous = shoal.set_pickle_lifetime(5)
    assert shoal.get_pickle_lifetime() == 5
    shoal.set_pickle_lifetime(previous)


def test_a_replaced_arena_is_refused_by_name_and_identity(arena_name):
    with shoal.Arena("16MiB", name=arena_name) as first:
        data = pickle.dumps(filled(first, (10,)))
    with pytest.raises(shoal.ArenaNotFound, match=f"arena '{arena_name}'.*no longer exists"):
        pickle.loads(data)
    with shoal.Arena("16MiB", name=arena_name) as second:
        filled(second, (10,))  # the same offsets are in use again
        with pytest.raises(shoal.ForeignHandle, match=f"belongs to arena '{arena_name}' .*now is another one"):
            pickle.loads(data)
        assert second.check() == []


def test_a_handle_from_another_host_is_refused(arena):
    data = pickle.dumps(filled(arena, (10,)))
    here = _shoal._boot_id().encode()
    elsewhere = bytes(reversed(here))
    assert here in data
    with pytest.raises(shoal.ForeignHandle, match="another host"):
        pickle.loads(data.replace(here, elsewhere))


def test_a_tampered_reference_never_binds_to_other_memory(arena):
    buf = filled(arena, (10,))
    data = pickle.dumps(buf)
    ref = _refs_in(data)[0]
    name, arena_id, boot, offset, generation, entry, ticket, expires = ref
    for bad in ((offset + 64, generation), (offset, generation + 1)):
        forged = (name, arena_id, boot, *bad, entry, ticket, expires)
        with pytest.raises(shoal.InvalidHandle):
            _shoal._redeem(forged)
    with pytest.raises(shoal.InvalidHandle):
        _shoal._redeem((name, arena_id, boot, offset, generation, 10**9, ticket, expires))
    with pytest.raises(TypeError):
        _shoal._redeem(("x",))
    assert arena.check() == []


def test_a_pickled_channel_lives_until_unpickled_elsewhere(arena):
    channel = shoal.Channel(4, arena=arena)
    channel.send("before")
    data = pickle.dumps(channel)
    del channel
    gc.collect()
    with concurrent.futures.ProcessPoolExecutor(1, multiprocessing.get_context("spawn")) as pool:
        assert pool.submit(_receive_from, data).result(timeout=60) == "before"


def _receive_from(data):
    return pickle.loads(data).recv(timeout=10)


def test_stdlib_tools_move_arena_arrays_without_a_copy(arena_name):
    """multiprocessing.Pool and the stdlib ProcessPoolExecutor hand 1 GiB of
    arena memory to a worker, which reads all of it: its anonymous memory
    stays far below what a copy would take."""
    big = shoal.Arena("1100MiB", name=arena_name)
    buf = big.empty((GiB // 8,), "float64")
    np.asarray(buf)[...] = 1.0
    buf.seal()
    halves = [np.asarray(buf)[: GiB // 16], np.asarray(buf)[GiB // 16 :]]
    context = multiprocessing.get_context("forkserver")
    with context.Pool(1) as pool:
        results = pool.map(pool_work.sum_and_anonymous, halves)
    with concurrent.futures.ProcessPoolExecutor(1, context) as pool:
        results += list(pool.map(pool_work.sum_and_anonymous, [buf]))
    assert [total for total, _ in results] == [GiB / 16, GiB / 16, GiB / 8]
    for _, anonymous in results:
        assert anonymous < 256 << 20, f"a worker has {anonymous >> 20} MiB of anonymous memory: the array was copied"
    del buf, halves
    gc.collect()
    big.close()


def test_many_unpickles_in_one_process_share_one_holder(arena):
    buf = filled(arena, (100,), 1.0)
    data = pickle.dumps(buf)
    with concurrent.futures.ProcessPoolExecutor(1, multiprocessing.get_context("spawn")) as pool:
        assert pool.submit(pool_work.load_many, data, 1500).result(timeout=120) == (1500, 100.0)
    assert arena.stats()["holders"] <= 2


def test_pickles_of_one_buffer_share_one_in_flight_entry(arena):
    buf = arena.empty((5000, 2), "float64")
    buf.seal()
    rows = np.asarray(buf)
    data = [pickle.dumps(row) for row in rows]  # more rows than the table has entries
    assert len(_shoal._in_flight(arena.name)) == 1
    assert pickle.loads(data[4999]).shape == (2,)


def test_an_array_from_numpy_arrives_as_numpy_even_where_not_yet_imported(arena, tmp_path):
    buf = arena.empty((2, 3), "float64")
    np.asarray(buf)[:] = 7.0
    buf.seal()
    data = pickle.dumps(np.asarray(buf))
    script = tmp_path / "load.py"
    script.write_text(
        "import pickle, sys\n"
        "import shoal\n"
        "assert 'numpy' not in sys.modules\n"
        "value = pickle.loads(sys.stdin.buffer.read())\n"
        "print(type(value).__name__, value.shape, value.dtype, float(value.sum()))\n"
    )
    import subprocess
    import sys

    result = subprocess.run([sys.executable, str(script)], input=data, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().split() == ["ndarray", "(2,", "3)", "float64", "42.0"]


def test_numpy_probed_before_import_still_gets_the_reducer(tmp_path):
    script = tmp_path / "probe.py"
    script.write_text(
        "import copyreg, importlib.util, pickle\n"
        "import shoal\n"
        "importlib.util.find_spec('numpy')\n"
        "import numpy\n"
        "print(numpy.ndarray in copyreg.dispatch_table)\n"
        "buf = shoal.empty((4,), 'float64')\n"
        "buf.seal()\n"
        "print(len(pickle.dumps(numpy.asarray(buf))) < 600)\n"
    )
    import subprocess
    import sys

    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]


def test_self_referencing_object_arrays_still_pickle():
    a = np.empty(1, dtype=object)
    a[0] = a
    for protocol in (2, 4, 5):
        b = pickle.loads(pickle.dumps(a, protocol=protocol))
        assert b[0] is b


def test_copy_gives_a_writable_copy_and_leaves_the_buffer_writable():
    import copy

    buf = shoal.empty((3,), "float64")
    np.asarray(buf)[:] = 1.0
    for duplicate in (copy.copy(buf), copy.deepcopy(buf)):
        assert isinstance(duplicate, shoal.Buffer) and not duplicate.readonly
        assert not np.shares_memory(np.asarray(duplicate), np.asarray(buf))
        assert list(np.asarray(duplicate)) == [1.0, 1.0, 1.0]
    np.asarray(buf)[:] = 2.0  # not frozen by copying
    channel = shoal.Channel()
    assert copy.copy(channel) is channel and copy.deepcopy(channel) is channel


def test_multiprocessing_queue_moves_arena_arrays_without_a_copy(arena_name):
    big = shoal.Arena("300MiB", name=arena_name)
    buf = big.empty((256 << 17,), "float64")  # 256 MiB
    np.asarray(buf)[...] = 2.0
    buf.seal()
    context = multiprocessing.get_context("spawn")
    queue, results = context.Queue(), context.Queue()
    consumer = context.Process(target=pool_work.sum_from_queue, args=(queue, results))
    consumer.start()
    queue.put(np.asarray(buf))  # pickled by the queue's feeder thread: by reference
    del buf
    gc.collect()
    total, anonymous = results.get(timeout=120)
    consumer.join(60)
    assert total == 2.0 * (256 << 17)
    assert anonymous < 128 << 20, f"the consumer has {anonymous >> 20} MiB of anonymous memory: the array was copied"
    big.close()
