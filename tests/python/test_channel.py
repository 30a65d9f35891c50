"""shoal.Channel from Python: values and buffers crossing, bounded-queue
semantics, errors that leave nothing behind, and other processes."""

import base64
import ctypes
import enum
import gc
import math
import multiprocessing
import os
import pathlib
import pickle
import signal
import struct
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import shoal

from conftest import IsolatedInterpreter, read_line

np = pytest.importorskip("numpy")


@pytest.fixture
def arena(arena_name):
    with shoal.Arena("64MiB", name=arena_name) as arena:
        yield arena


def settled_used(arena, channel):
    """arena.used once this holder's ledger and the freezer are warmed up,
    so that later comparisons are exact."""
    channel.send([1, "x" * 5000])
    channel.recv()
    gc.collect()
    return arena.used


# ------------------------------------------------------------ values ----

VALUES = [
    None,
    True,
    False,
    0,
    -1,
    2**63 - 1,
    -(2**63),
    2**63,
    -(2**63) - 1,
    2**1000,
    -(3**500),
    1.5,
    -0.0,
    math.inf,
    "",
    "héllo wörld ✓",
    "x" * 10_000,  # longer than the inline limit: a blob
    b"",
    b"\x00\xff" * 3,
    bytes(range(256)) * 40,  # a blob too
    (),
    (1, "a", None),
    [],
    [1, [2, [3, [4]]]],
    {},
    {"a": 1, 2: "b", (1, 2): [3], None: True},
    set(),
    {1, "two", (3,)},
    frozenset({1, 2, frozenset({3})}),
    {"nested": [{"deep": ({1}, frozenset(), b"x", 2**70)}]},
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_round_trip_keeps_value_and_type(channel, value):
    channel.send(value)
    received = channel.recv()
    assert received == value
    assert type(received) is type(value)


def test_nested_types_are_kept(channel):
    value = [(1,), [2], {3: (4, [5])}, {6}, frozenset({7})]
    channel.send(value)
    received = channel.recv()
    assert [type(item) for item in received] == [tuple, list, dict, set, frozenset]
    assert type(received[2][3]) is tuple and type(received[2][3][1]) is list


def test_float_bits_are_kept(channel):
    channel.send([math.nan, -0.0, 5e-324])
    nan, negative_zero, tiny = channel.recv()
    assert math.isnan(nan)
    assert math.copysign(1.0, negative_zero) == -1.0
    assert tiny == 5e-324


def test_dict_order_is_kept(channel):
    value = {k: i for i, k in enumerate("zyxabc")}
    channel.send(value)
    assert list(channel.recv()) == list("zyxabc")


# ----------------------------------------------------------- buffers ----


def received_buffer_of(array):
    """The shoal.Buffer a received array views: the array's base where
    NumPy's C-API made it, the object of its memoryview base where
    numpy.asarray did (a build without NumPy's headers, or a byte order
    the C-API path leaves to asarray)."""
    base = array.base
    return base if isinstance(base, shoal.Buffer) else base.obj


@pytest.fixture(params=[True, False], ids=["numpy-capi", "numpy-asarray"])
def numpy_path(request):
    """Receives through NumPy's C-API, then through numpy.asarray: both
    must give the same arrays."""
    if request.param and not shoal._shoal._numpy_capi():
        pytest.skip("this build has no NumPy headers: received arrays come from numpy.asarray only")
    shoal._shoal._numpy_capi(request.param)
    yield request.param
    shoal._shoal._numpy_capi(True)


def test_this_build_makes_arrays_through_numpys_c_api():
    # scripts/test.sh builds with NumPy's headers and says so: a build
    # that silently lost them would still pass every other test, slower.
    if os.environ.get("SHOAL_EXPECT_NUMPY_CAPI") != "1":
        pytest.skip("SHOAL_EXPECT_NUMPY_CAPI=1 not set (scripts/test.sh sets it for its own build)")
    assert shoal._shoal._numpy_capi() is True


@pytest.mark.parametrize("shape", [(), (0,), (5,), (2, 3, 4), (1, 7)])
@pytest.mark.parametrize("dtype", ["bool", "int8", "uint16", "int32", "uint64", "float32", "float64",
                                   "complex64", "complex128", ">i4", "<f8"])
def test_received_arrays_are_read_only_views_either_way(arena, channel, numpy_path, dtype, shape):
    buf = arena.empty(shape, dtype)
    np.asarray(buf)[...] = np.arange(buf.nbytes // np.dtype(dtype).itemsize).reshape(shape) % 2
    channel.send(buf)
    written = np.asarray(buf)  # read-only now
    got = channel.recv()
    assert type(got) is np.ndarray
    assert got.dtype == written.dtype and got.dtype.char == written.dtype.char
    assert got.shape == written.shape and got.strides == written.strides
    # Which path made it: the C-API's base is the Buffer itself (a byte order
    # not this machine's is left to numpy.asarray, whose base is a memoryview).
    native = not dtype.startswith(">")
    assert type(got.base) is (shoal.Buffer if numpy_path and native else memoryview)
    assert got.ctypes.data == written.ctypes.data
    assert np.array_equal(got, written)
    assert got.flags.writeable is False and got.flags.c_contiguous
    assert received_buffer_of(got).readonly
    with pytest.raises(ValueError):
        got.flags.writeable = True     # the base refuses a writable view
    with pytest.raises(ValueError):
        got[...] = 1


def test_a_received_array_alone_keeps_its_block(arena, channel, numpy_path):
    baseline = settled_used(arena, channel)
    buf = arena.empty(100_000, "float64")   # above the recycled sizes: freed means freed
    np.asarray(buf)[:] = 7.0
    channel.send(buf)
    del buf                                 # the sender lets go before the receiver has it
    got = channel.recv()
    gc.collect()
    assert arena.used > baseline
    assert got.sum() == 700_000.0
    del got                                 # the last view: the block goes
    gc.collect()
    assert arena.used == baseline


def test_buffer_crosses_without_a_copy(arena, channel):
    buf = arena.empty((100, 3), "float64")
    np.asarray(buf)[:] = np.arange(300).reshape(100, 3)  # written before send: seen after
    channel.send({"points": buf, "n": 100})
    written = np.asarray(buf)
    assert buf.readonly
    received = channel.recv()
    array = received["points"]
    assert received["n"] == 100
    assert isinstance(array, np.ndarray)
    assert array.ctypes.data == written.ctypes.data == buf.__array_interface__["data"][0]
    assert np.shares_memory(array, written)
    assert array.flags.writeable is False
    assert array.dtype == np.float64 and array.shape == (100, 3)
    assert array.tolist() == np.arange(300).reshape(100, 3).tolist()


def test_same_buffer_twice_is_one_block(arena, channel):
    buf = arena.empty(10, "int32")
    channel.send([buf, buf])
    first, second = channel.recv()
    assert first.ctypes.data == second.ctypes.data


def test_received_buffer_can_be_sent_on(arena, channel):
    buf = arena.empty(4, "uint16")
    np.asarray(buf)[:] = [1, 2, 3, 4]
    channel.send(buf)
    once = channel.recv()
    other = shoal.Channel(2, arena=arena)
    received_buffer = received_buffer_of(once)
    assert type(received_buffer) is shoal.Buffer and received_buffer.readonly
    other.send(received_buffer)
    twice = other.recv()
    assert twice.ctypes.data == once.ctypes.data
    assert twice.tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize("shape", [(), (0, 3), (5,), (2, 3, 4)])
def test_a_buffer_sent_whole_travels_as_its_own_block(arena, channel, shape):
    # No object is made to describe it: the blob describes itself, so a
    # send adds no block to the arena, and the receiver gets the same memory.
    baseline = settled_used(arena, channel)
    buf = arena.empty(shape, "int16")
    np.asarray(buf)[...] = 7
    blocks = arena.stats()["blocks"]
    channel.send(buf)
    assert arena.stats()["blocks"] == blocks
    assert buf.readonly
    assert memoryview(buf).readonly
    with pytest.raises(ValueError, match="read-only"):
        np.asarray(buf)[...] = 1
    received = channel.recv()
    assert isinstance(received, np.ndarray) and received.shape == shape and received.dtype == np.int16
    assert received.ctypes.data == buf.__array_interface__["data"][0]
    assert not received.flags.writeable and (received == 7).all()
    del buf, received
    gc.collect()
    assert arena.used == baseline


def test_a_numpy_array_viewing_a_whole_buffer_travels_as_the_buffer(arena, channel):
    # np.asarray(buffer) and a received array view a Buffer whole: sent, they
    # go as its block (no object is made); forwarding keeps the address.
    capi = shoal._shoal._numpy_capi()
    buf = arena.empty((6, 4), "int64")
    filled = np.asarray(buf)
    filled[:] = np.arange(24).reshape(6, 4)
    blocks = arena.stats()["blocks"]
    channel.send(filled)
    assert arena.stats()["blocks"] == blocks or not capi  # without NumPy's C-API it is frozen
    assert buf.readonly
    received = channel.recv()
    assert received.ctypes.data == filled.ctypes.data and received.tolist() == filled.tolist()
    channel.send(received)
    assert arena.stats()["blocks"] == blocks or not capi
    again = channel.recv()
    assert again.ctypes.data == filled.ctypes.data and again.dtype == np.int64 and again.shape == (6, 4)


@pytest.mark.parametrize("swapped", [
    lambda buf: np.frombuffer(buf, ">i4"),                  # base: a memoryview of the Buffer
    lambda buf: np.ndarray(buf.shape, ">i4", buffer=buf),   # base: the Buffer itself
])
def test_a_byte_swapped_view_of_a_buffer_keeps_its_byte_order(arena, channel, swapped):
    # Same type number, other byte order: it must not be sent as the Buffer
    # (whose "<i4" would make every value arrive byte-swapped).
    buf = arena.empty(4, "int32")
    np.asarray(buf)[:] = [1, 2, 3, 256]
    sent = swapped(buf)
    channel.send(sent)
    received = channel.recv()
    assert received.dtype == np.dtype(">i4")
    assert received.tolist() == sent.tolist() == [16777216, 33554432, 50331648, 65536]


@pytest.mark.parametrize("view", [
    lambda a: a[1:],                 # another start
    lambda a: a[:, :2],              # other strides
    lambda a: a.reshape(4, 6),       # another shape
    lambda a: a.view(np.float64),    # another element type
    lambda a: a.T,                   # not C-contiguous
])
def test_a_partial_or_reinterpreted_view_of_a_buffer_is_frozen_as_itself(arena, channel, view):
    buf = arena.empty((6, 4), "int64")
    np.asarray(buf)[:] = np.arange(24).reshape(6, 4)
    sent = view(np.asarray(buf))
    blocks = arena.stats()["blocks"]
    channel.send(sent)
    # An object describes the view (and a strided one is copied to a new blob).
    assert arena.stats()["blocks"] in (blocks + 1, blocks + 2)
    received = channel.recv()
    assert received.shape == sent.shape and received.dtype == sent.dtype
    assert received.tolist() == sent.tolist()


def test_a_buffer_of_another_arena_object_on_the_same_arena_travels_as_itself(arena, channel):
    # Two Arena objects of one arena (two mappings, two holders): the blob
    # is the same block to both; the channel's holder takes its own reference.
    baseline = settled_used(arena, channel)
    with shoal.Arena.attach(arena.name) as second:
        buf = second.empty(1000, "uint8")
        np.asarray(buf)[:] = 5
        blocks = arena.stats()["blocks"]
        channel.send(buf)
        assert arena.stats()["blocks"] == blocks and buf.readonly
        received = channel.recv()
        assert received.tolist() == [5] * 1000
        del buf
        gc.collect()
        assert received.sum() == 5000  # alive through the receiver's reference alone
    del received
    gc.collect()
    assert arena.used == baseline


def test_a_buffer_from_another_arena_sent_whole_is_refused(arena, channel):
    with shoal.Arena("4MiB") as other:
        buf = other.empty(3)
        with pytest.raises(ValueError, match="lives in arena"):
            channel.send(buf)
        with pytest.raises(ValueError, match="lives in arena"):
            channel.try_send(buf)
        assert not buf.readonly
    assert len(channel) == 0


def test_a_damaged_array_header_raises_corrupt_object_and_frees_the_block(arena, channel):
    # Another process scribbles over the header of an array in flight: the
    # receiver checks it, refuses it, and the block still goes.
    import ctypes
    baseline = settled_used(arena, channel)
    buf = arena.empty(16, "float64")
    data = buf.__array_interface__["data"][0]
    channel.send(buf)
    header = data - 64  # one dimension: header and shape fill the first 64 bytes
    assert ctypes.string_at(header, 4) == b"SARR"
    ctypes.memset(header + 8, 0xFF, 8)  # data_offset: far past the block
    with pytest.raises(shoal.CorruptObject, match="array blob .* malformed header"):
        channel.recv()
    assert len(channel) == 0
    del buf
    gc.collect()
    assert arena.used == baseline


@pytest.mark.parametrize("dtype", ["bool", "int8", "uint64", "float32", "complex128", ">i4"])
def test_buffer_dtypes_cross(arena, channel, dtype):
    buf = arena.empty((2, 2), dtype)
    np.asarray(buf)[:] = 1
    channel.send(buf)
    received = channel.recv()
    assert received.dtype == np.dtype(buf.dtype)
    assert (received == 1).all()


def test_buffer_from_another_arena_is_refused(arena, channel):
    with shoal.Arena("4MiB") as other:
        buf = other.empty(3)
        with pytest.raises(ValueError, match="lives in arena"):
            channel.send([buf])
    assert len(channel) == 0


# ---------------------------------------------------- what cannot cross ----


def test_unsendable_value_names_its_path_and_leaves_nothing(arena, channel):
    baseline = settled_used(arena, channel)
    gen = (i for i in range(3))
    value = {"big": b"y" * 100_000, "a": [1, 2, gen]}
    with pytest.raises(TypeError) as error:
        channel.send(value)
    assert str(error.value) == "value['a'][2]: cannot send 'generator'"
    assert len(channel) == 0
    gc.collect()
    assert arena.used == baseline
    assert arena.check() == []


def test_arguments_by_position_or_name(arena, channel):
    channel.send(obj=1)
    channel.send(2, None)
    channel.send(3, timeout=1.0)
    assert [channel.recv(), channel.recv(None), channel.recv(timeout=1.0)] == [1, 2, 3]
    with pytest.raises(TimeoutError):
        channel.recv(0.01)
    assert shoal.empty(shape=3, dtype="uint8", arena=arena).shape == (3,)
    assert arena.empty(dtype="int32", shape=(2, 2)).shape == (2, 2)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda c, a: c.send(), "send() missing required argument 'obj' (pos 1)"),
        (lambda c, a: c.send(1, 2, 3), "send() takes at most 2 arguments (3 given)"),
        (lambda c, a: c.send(1, bogus=2), "send() got an unexpected keyword argument 'bogus'"),
        (lambda c, a: c.send(1, obj=2), "send() got multiple values for argument 'obj'"),
        (lambda c, a: c.recv(1, 2), "recv() takes at most 1 argument (2 given)"),
        (lambda c, a: c.recv(timeout=1, timeout2=2), "recv() got an unexpected keyword argument 'timeout2'"),
        (lambda c, a: a.empty(), "empty() missing required argument 'shape' (pos 1)"),
        (lambda c, a: shoal.empty((1,), "uint8", a, 4), "empty() takes at most 3 arguments (4 given)"),
        (lambda c, a: shoal.empty(4, shape=4), "empty() got multiple values for argument 'shape'"),
    ],
)
def test_argument_mistakes_are_type_errors(arena, channel, call, message):
    with pytest.raises(TypeError) as error:
        call(channel, arena)
    assert str(error.value) == message
    assert len(channel) == 0


@pytest.mark.parametrize(
    "value, message",
    [
        (lambda: 1, "value: cannot send 'function'"),
        ([threading.Lock()], "value[0]: cannot send '_thread.lock'"),
        ((1, (2, (i for i in []))), "value[1][1]: cannot send 'generator'"),
        ({1: {"k": threading.Lock()}}, "value[1]['k']: cannot send '_thread.lock'"),
        ({(1, (i for i in [])): 2}, "value: key (1, <generator object"),
    ],
)
def test_unsendable_values(channel, value, message):
    with pytest.raises(TypeError) as error:
        channel.try_send(value)
    assert str(error.value).startswith(message)


def _self_containing_list():
    cycle = []
    cycle.append(cycle)
    return cycle


def _two_dicts_in_each_other():
    a, b = {}, {}
    a["b"] = b
    b["a"] = a
    return [a]


def _deep(levels):
    value = []
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    "make, message",
    [
        (_self_containing_list, r"^value\[0\]: this list is value itself: a container that contains itself"),
        (_two_dicts_in_each_other, r"^value\[0\]\['b'\]\['a'\]\['b'\]: this dict is value\[0\]\['b'\] itself"),
        (lambda: {"k": [1, _self_containing_list()]}, r"^value\['k'\]\[1\]\[0\]: this list is value\['k'\]\[1\] itself"),
        (lambda: _deep(1200), r"^value(\[0\]){1000}: nested deeper than 1000 containers"),
        (lambda: ["ok", "lone \ud800 surrogate"], r"^value\[1\]: cannot send this str: it has no UTF-8 form"),
        (lambda: {"\udfff": 1}, r"^value: key '\\udfff': cannot send this str"),
    ],
    ids=["list-in-itself", "dicts-in-each-other", "nested-cycle", "too-deep", "surrogate", "surrogate-key"],
)
def test_values_that_cannot_be_written_are_refused_naming_where(arena, channel, make, message):
    baseline = settled_used(arena, channel)
    with pytest.raises(ValueError, match=message):
        channel.send(make())
    gc.collect()
    assert arena.used == baseline


def test_a_value_too_large_for_the_arena_leaves_nothing(arena, channel):
    baseline = settled_used(arena, channel)
    with pytest.raises(shoal.ArenaFull):
        channel.send(["small", b"x" * (40 * 1024 * 1024), b"y" * (40 * 1024 * 1024)])
    gc.collect()
    assert arena.used == baseline
    assert len(channel) == 0
    assert arena.check() == []


class Colour(enum.IntEnum):  # module level, so that it pickles
    RED = 1


def test_top_level_scalars_travel_in_the_slot_and_allocate_nothing(arena):
    """None, bools, 64-bit ints and floats sent on their own are carried in
    the channel slot itself: the arena's used bytes do not move."""
    channel = shoal.Channel(16, arena=arena)
    baseline = settled_used(arena, channel)
    scalars = [None, True, False, 0, -1, 2**63 - 1, -(2**63), 1.5, -0.0, math.inf, 5e-324]
    for value in scalars:
        channel.send(value)
    assert arena.used == baseline
    assert arena.check() == []
    for value in scalars:
        received = channel.recv()
        assert type(received) is type(value)
        assert received == value
        if type(value) is float:
            assert math.copysign(1, received) == math.copysign(1, value)
    assert arena.used == baseline


def test_top_level_nan_keeps_its_bits(channel):
    weird_nan = struct.unpack("<d", struct.pack("<Q", 0x7FF8_0000_DEAD_BEEF))[0]
    channel.send(weird_nan)
    assert struct.pack("<d", channel.recv()) == struct.pack("<d", weird_nan)


def test_ints_beyond_64_bits_and_int_subclasses_are_not_inline(arena, channel):
    baseline = settled_used(arena, channel)
    channel.send(2**63)
    channel.send(Colour.RED)  # an IntEnum is an int, but not exactly: pickled, not inline
    assert arena.used > baseline
    assert channel.recv() == 2**63
    received = channel.recv()
    assert received is Colour.RED
    gc.collect()
    assert arena.used == baseline


def test_inline_and_block_items_keep_their_order(channel):
    sent = [1, "one", 2.0, [2], None, b"3", True]  # fewer than the fixture's 8 slots
    for value in sent:
        channel.try_send(value)
    assert [channel.try_recv() for _ in sent] == sent
    for value in sent:
        channel.send(value)
    channel.close()
    assert list(channel) == sent


def test_inline_items_are_dropped_by_poison_and_seen_by_select(arena):
    a, b = shoal.Channel(arena=arena), shoal.Channel(arena=arena)
    b.send(7)
    assert shoal.select(a, b, timeout=1) == (b, 7)
    a.send(1)
    a.send(2)
    a.poison()
    assert len(a) == 0
    assert arena.check() == []


def test_subclasses_of_builtins_are_not_sent_natively(channel):
    class MyInt(int):
        pass

    with pytest.raises(TypeError, match=r"value\[0\]: cannot send 'MyInt'"):
        channel.send([MyInt(3)])


# ----------------------------------------------------------- semantics ----


def test_try_send_full_and_try_recv_empty(arena):
    channel = shoal.Channel(2, arena=arena)
    assert channel.capacity == 2
    with pytest.raises(shoal.Empty):
        channel.try_recv()
    channel.try_send("a")
    channel.try_send("b")
    assert len(channel) == 2
    with pytest.raises(shoal.Full):
        channel.try_send("c")
    assert issubclass(shoal.Full, shoal.ShoalError) and issubclass(shoal.Empty, shoal.ShoalError)
    assert channel.try_recv() == "a"
    assert len(channel) == 1
    assert channel.try_recv() == "b"
    assert len(channel) == 0


def test_timeouts_raise_timeout_error(arena):
    channel = shoal.Channel(1, arena=arena)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        channel.recv(timeout=0.2)
    assert 0.15 < time.monotonic() - start < 2
    channel.send(1)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        channel.send(2, timeout=0.1)
    assert 0.05 < time.monotonic() - start < 2
    with pytest.raises(TimeoutError):
        channel.send(2, timeout=0)
    assert channel.recv(timeout=0) == 1
    with pytest.raises(ValueError):
        channel.recv(timeout=-1)


def test_a_blocked_recv_wakes_for_a_send_from_another_thread(arena):
    channel = shoal.Channel(1, arena=arena)
    timer = threading.Timer(0.1, channel.send, args=("late",))
    timer.start()
    try:
        assert channel.recv(timeout=10) == "late"
    finally:
        timer.join()


def test_close_then_drain_then_channel_closed(arena):
    channel = shoal.Channel(4, arena=arena)
    channel.send(1)
    channel.send(2)
    assert channel.closed is False
    channel.close()
    channel.close()  # idempotent
    assert channel.closed is True
    with pytest.raises(shoal.ChannelClosed):
        channel.send(3)
    with pytest.raises(shoal.ChannelClosed):
        channel.try_send(3)
    assert channel.recv() == 1
    assert channel.try_recv() == 2
    with pytest.raises(shoal.ChannelClosed):
        channel.recv()
    with pytest.raises(shoal.ChannelClosed):
        channel.try_recv()


def test_close_wakes_a_blocked_receiver(arena):
    channel = shoal.Channel(1, arena=arena)
    timer = threading.Timer(0.1, channel.close)
    timer.start()
    try:
        with pytest.raises(shoal.ChannelClosed):
            channel.recv(timeout=10)
    finally:
        timer.join()


def test_iteration_stops_at_close(arena):
    channel = shoal.Channel(8, arena=arena)
    for i in range(5):
        channel.send(i)
    channel.close()
    assert list(channel) == [0, 1, 2, 3, 4]
    assert list(channel) == []


def test_many_threads_every_item_exactly_once(arena):
    channel = shoal.Channel(4, arena=arena)
    producers, per_producer = 4, 200
    received = []
    lock = threading.Lock()

    def produce(p):
        for i in range(per_producer):
            channel.send((p, i))

    def consume():
        for item in channel:
            with lock:
                received.append(item)

    consumers = [threading.Thread(target=consume) for _ in range(3)]
    senders = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    for thread in consumers + senders:
        thread.start()
    for thread in senders:
        thread.join(60)
    channel.close()
    for thread in consumers:
        thread.join(60)
    assert sorted(received) == [(p, i) for p in range(producers) for i in range(per_producer)]


def test_bad_constructor_arguments(arena):
    with pytest.raises(ValueError):
        shoal.Channel(0, arena=arena)
    with pytest.raises(TypeError):
        shoal.Channel(4, arena="nope")
    closed = shoal.Arena("4MiB")
    closed.close()
    with pytest.raises(ValueError, match="closed"):
        shoal.Channel(4, arena=closed)


# ------------------------------------------------------------ lifetime ----


def test_used_back_to_baseline_after_everything_is_dropped(arena, channel):
    baseline = settled_used(arena, channel)
    buf = arena.empty((256, 256), "float64")
    np.asarray(buf)[:] = 1
    channel.send({"buf": buf, "text": "t" * 9000, "big": 2**200})
    channel.send([buf, b"b" * 50_000])
    first = channel.recv()
    second = channel.recv()
    assert arena.used > baseline
    del buf, first, second
    gc.collect()
    assert arena.used == baseline
    assert arena.check() == []


def test_pending_items_are_freed_with_the_channel(arena):
    first = shoal.Channel(4, arena=arena)
    baseline = settled_used(arena, first)
    channel = shoal.Channel(4, arena=arena)
    channel.send(b"z" * 100_000)
    channel.send(arena.empty(10_000))
    del channel
    gc.collect()
    assert arena.used == baseline
    assert arena.check() == []


# ------------------------------------------------------ other processes ----

# A child that unpickles the channels given in base64 on its command line,
# echoes each value it receives back with a summary, and sends a buffer of
# its own.
_ECHO_CHILD = textwrap.dedent(
    """
    import base64, pickle, sys
    import numpy as np
    import shoal
    inbox, outbox = pickle.loads(base64.b64decode(sys.argv[1]))
    print("ready", flush=True)
    for value in inbox:
        if isinstance(value, np.ndarray):
            outbox.send(("array", value.dtype.str, value.shape, float(value.sum()), value.flags.writeable))
        else:
            outbox.send(("value", value))
    arena = shoal.Arena.attach(sys.argv[2])
    mine = arena.empty((4,), "int64")
    np.asarray(mine)[:] = [10, 20, 30, 40]
    outbox.send(mine)
    outbox.close()
    """
)


def test_values_and_buffers_cross_to_another_process(arena):
    inbox, outbox = shoal.Channel(4, arena=arena), shoal.Channel(4, arena=arena)
    ticket = base64.b64encode(pickle.dumps((inbox, outbox))).decode()
    child = subprocess.Popen([sys.executable, "-c", _ECHO_CHILD, ticket, arena.name],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert read_line(child.stdout, 30).strip() == "ready"
        values = [None, 2**100, "héllo", b"\x00" * 5000, (1, [2, {3: frozenset({4})}]), {1.5, False}]
        buf = arena.empty((50, 2), "float32")
        np.asarray(buf)[:] = 2
        for value in values + [buf]:
            inbox.send(value, timeout=30)
        inbox.close()
        echoes = [outbox.recv(timeout=30) for _ in range(len(values) + 1)]
        assert echoes[:-1] == [("value", value) for value in values]
        assert echoes[-1] == ("array", "<f4", (50, 2), 200.0, False)
        theirs = outbox.recv(timeout=30)
        assert theirs.tolist() == [10, 20, 30, 40]
        assert theirs.flags.writeable is False
        with pytest.raises(shoal.ChannelClosed):
            outbox.recv(timeout=30)
        assert child.wait(30) == 0, child.stderr.read()
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        child.stdout.close()
        child.stderr.close()


def run_child_on(channel, script):
    """Runs `script` in a fresh Python, the channel pickled into its argv[1]
    (base64); returns what it printed, stripped. Fails the test if it fails."""
    ticket = base64.b64encode(pickle.dumps(channel)).decode()
    result = subprocess.run([sys.executable, "-c", script, ticket], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


_NO_NUMPY_CHILD = textwrap.dedent(
    """
    import base64, pickle, sys
    import shoal
    channel = pickle.loads(base64.b64decode(sys.argv[1]))
    buf = channel.recv(timeout=30)
    assert "numpy" not in sys.modules
    assert type(buf) is shoal.Buffer, type(buf)
    view = memoryview(buf)
    print(buf.readonly, buf.dtype, buf.shape, view.format, view.tolist(), flush=True)
    """
)


def test_without_numpy_a_buffer_arrives_as_shoal_buffer(arena):
    channel = shoal.Channel(2, arena=arena)
    buf = arena.empty((2, 2), "int16")
    np.asarray(buf)[:] = [[1, 2], [3, 4]]
    channel.send(buf)
    assert run_child_on(channel, _NO_NUMPY_CHILD) == "True <i2 (2, 2) h [[1, 2], [3, 4]]"


_NUMPY_BLOCKED_CHILD = textwrap.dedent(
    """
    import base64, pickle, sys
    sys.modules["numpy"] = None          # "no NumPy here", the usual way
    import shoal
    channel = pickle.loads(base64.b64decode(sys.argv[1]))
    first = channel.recv(timeout=30)
    del sys.modules["numpy"]
    import numpy
    second = channel.recv(timeout=30)    # NumPy is here now: seen, not remembered as missing
    print(type(first).__name__, type(second).__name__, second.tolist(), flush=True)
    """
)


def test_numpy_blocked_in_sys_modules_then_imported(arena):
    channel = shoal.Channel(2, arena=arena)
    for _ in range(2):
        buf = arena.empty(3, "int16")
        np.asarray(buf)[:] = [1, 2, 3]
        channel.send(buf)
    assert run_child_on(channel, _NUMPY_BLOCKED_CHILD) == "Buffer ndarray [1, 2, 3]"


def _spawned_worker(inbox, outbox):
    for value in inbox:
        outbox.send(value * 2 if not isinstance(value, np.ndarray) else int(value.sum()))
    outbox.close()


def test_multiprocessing_spawn_passes_channels(arena):
    inbox, outbox = shoal.Channel(4, arena=arena), shoal.Channel(4, arena=arena)
    process = multiprocessing.get_context("spawn").Process(target=_spawned_worker, args=(inbox, outbox))
    process.start()
    try:
        buf = arena.empty(10, "int32")
        np.asarray(buf)[:] = 3
        for value in [1, "ab", (1,), buf]:
            inbox.send(value, timeout=30)
        inbox.close()
        assert list(outbox) == [2, "abab", (1, 1), 30]
        process.join(30)
        assert process.exitcode == 0
    finally:
        if process.is_alive():
            process.kill()
            process.join()


def _forked_worker(inbox, outbox):
    got = inbox.recv(timeout=30)
    outbox.send((float(got.sum()), received_buffer_of(got)))  # sends the received shoal.Buffer back


# The embedded broker is a thread, so Python warns about fork() in a
# multi-threaded process; the hazard is the one every fork() has.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_channels_inherited_through_fork_reopen_in_the_child(arena):
    inbox, outbox = shoal.Channel(4, arena=arena), shoal.Channel(4, arena=arena)
    buf = arena.empty(10, "float64")
    np.asarray(buf)[:] = 2
    inbox.send(buf)
    process = multiprocessing.get_context("fork").Process(target=_forked_worker, args=(inbox, outbox))
    process.start()
    try:
        total, back = outbox.recv(timeout=30)
        assert total == 20.0
        assert back.ctypes.data == buf.__array_interface__["data"][0]  # the same block, come back
        process.join(30)
        assert process.exitcode == 0
    finally:
        if process.is_alive():
            process.kill()
            process.join()


_BLOCKED_CHILD = textwrap.dedent(
    """
    import sys
    import shoal
    arena = shoal.Arena("4MiB")
    channel = shoal.Channel(1, arena=arena)
    print("waiting", flush=True)
    try:
        channel.recv()
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    """
)


def test_ctrl_c_interrupts_a_blocked_recv():
    child = subprocess.Popen([sys.executable, "-c", _BLOCKED_CHILD],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert read_line(child.stdout, 30).strip() == "waiting"
        time.sleep(0.2)
        child.send_signal(signal.SIGINT)
        assert read_line(child.stdout, 10).strip() == "interrupted"
        assert child.wait(10) == 0
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        child.stdout.close()
        child.stderr.close()


# ------------------------------------------------ isolated interpreters ----


def test_values_and_a_buffer_cross_to_an_isolated_interpreter(arena):
    inbox, outbox = shoal.Channel(8, arena=arena), shoal.Channel(8, arena=arena)
    values = [None, 2**90, "ü" * 3, b"b" * 5000, (1, [2.5, {3: {4}}]), frozenset({"x"})]
    for value in values:
        inbox.send(value)
    buf = arena.empty((2, 3), "int32")
    np.asarray(buf)[:] = [[1, 2, 3], [4, 5, 6]]
    inbox.send(buf)
    inbox.close()
    ticket = pickle.dumps((inbox, outbox))
    interp = IsolatedInterpreter()
    try:
        failure = interp.exec(textwrap.dedent(f"""
            import pickle, sys
            import shoal
            inbox, outbox = pickle.loads({ticket!r})
            for value in inbox:
                if isinstance(value, shoal.Buffer):
                    assert value.readonly and "numpy" not in sys.modules
                    value = ("buffer", value.dtype, value.shape, memoryview(value).tolist())
                outbox.send(value)
            del inbox, outbox, value
            """))
        assert failure is None, failure
    finally:
        interp.close()
    echoes = [outbox.try_recv() for _ in range(len(values) + 1)]
    assert echoes[:-1] == values
    assert echoes[-1] == ("buffer", "<i4", (2, 3), [[1, 2, 3], [4, 5, 6]])
    with pytest.raises(shoal.Empty):
        outbox.try_recv()
    assert arena.stats()["holders"] == 1  # the interpreter's holder went with it


# ------------------------------------------------------- default arena ----

_DEFAULT_ARENA_CHILD = textwrap.dedent(
    """
    import os, pathlib
    import shoal
    arena = shoal.default_arena()
    assert arena is shoal.default_arena()
    channel = shoal.Channel()            # arena=None: the default arena
    buf = shoal.empty(4, "uint8")
    memoryview(buf)[:] = b"abcd"
    channel.send(buf)
    assert bytes(channel.recv()) == b"abcd"
    print(arena.name, arena.size, pathlib.Path("/dev/shm/shoal." + arena.name).exists(), flush=True)
    """
)


def _run_child(code, environment):
    """Runs Python `code` in a child with `environment` added to (and any
    inherited SHOAL_ARENA dropped from) ours."""
    env = {key: value for key, value in os.environ.items() if key != "SHOAL_ARENA"}
    env.update(environment)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)


def test_default_arena_is_created_sized_by_the_environment_and_unlinked_at_exit():
    result = _run_child(_DEFAULT_ARENA_CHILD, {"SHOAL_ARENA_SIZE": "16MiB"})
    assert result.returncode == 0, result.stderr
    name, size, existed = result.stdout.split()
    assert name.startswith("py-") and size == str(16 * 1024 * 1024) and existed == "True"
    assert not pathlib.Path(f"/dev/shm/shoal.{name}").exists()  # the creator unlinked it at exit


def test_shoal_arena_attaches_an_existing_arena(arena):
    result = _run_child(_DEFAULT_ARENA_CHILD, {"SHOAL_ARENA": arena.name})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [arena.name, str(arena.size), "True"]
    assert arena.check() == []


def test_a_bad_shoal_arena_size_is_a_value_error_naming_it():
    result = _run_child("import shoal\ntry:\n    shoal.default_arena()\nexcept ValueError as e:\n    print(e)\n",
                        {"SHOAL_ARENA_SIZE": "lots"})
    assert result.returncode == 0, result.stderr
    assert "SHOAL_ARENA_SIZE" in result.stdout and "lots" in result.stdout


def test_default_arena_buffers_have_one_address_in_every_interpreter():
    inbox, outbox = shoal.Channel(4), shoal.Channel(4)
    buf = shoal.empty((1000,), "float64")
    np.asarray(buf)[:] = 1.5
    address = buf.__array_interface__["data"][0]
    inbox.send(buf)
    ticket = pickle.dumps((inbox, outbox))
    interp = IsolatedInterpreter()
    try:
        failure = interp.exec(textwrap.dedent(f"""
            import pickle
            import shoal
            inbox, outbox = pickle.loads({ticket!r})
            got = inbox.recv()
            outbox.send((shoal.default_arena().name, got.__array_interface__["data"][0],
                         sum(memoryview(got).tolist())))
            del inbox, outbox, got
            """))
        assert failure is None, failure
    finally:
        interp.close()
    assert outbox.recv(timeout=10) == (shoal.default_arena().name, address, 1500.0)
    assert shoal.default_arena().stats()["holders"] == 1


# ------------------------------------------------------- checksums ----

def test_a_checksummed_channel_detects_bytes_altered_after_the_send(arena):
    sealed = shoal.Channel(4, arena=arena, checksum=True)
    plain = shoal.Channel(4, arena=arena)
    assert sealed.checksum and not plain.checksum
    buffer = arena.empty((1000,), "float64")
    np.asarray(buffer)[:] = 1.5
    # Views cannot write after a send (test_read_only_after_send.py); a raw
    # address still can, and that stray write is what a checksum catches.
    address = buffer.__array_interface__["data"][0]
    for channel in (sealed, plain):
        channel.send({"data": buffer, "note": "x" * 100})
    ctypes.c_double.from_address(address + 500 * 8).value = -1.0  # the stray write
    with pytest.raises(shoal.CorruptObject, match="altered after it was sent"):
        sealed.recv()
    assert plain.recv()["data"][500] == -1.0  # without a checksum it arrives altered
    # Untouched values round-trip as on any channel; a bare Buffer too.
    sealed.send([1, "two", b"3" * 5000, buffer])
    value = sealed.recv()
    assert value[:3] == [1, "two", b"3" * 5000] and np.asarray(value[3])[500] == -1.0
    sealed.send(buffer)
    assert np.array_equal(np.asarray(sealed.recv()), np.asarray(buffer))


# ------------------------------------------------------------------ names ----


def test_a_channel_name_shows_in_its_repr_and_every_error(arena):
    ch = shoal.Channel(2, arena=arena, name="frames")
    assert ch.name == "frames" and "'frames'" in repr(ch)
    assert shoal.Channel(2, arena=arena).name is None
    ch.close()
    with pytest.raises(shoal.ChannelClosed, match=r"channel 'frames' \(\d+:\d+\) is closed"):
        ch.send(1)
    other = pickle.loads(pickle.dumps(ch))
    assert other.name == "frames"  # stored in the arena: every opener sees it


def test_a_channel_name_is_a_short_str(arena):
    with pytest.raises(TypeError, match="name must be a str"):
        shoal.Channel(2, arena=arena, name=b"bytes")
    with pytest.raises(ValueError, match="at most 128 bytes"):
        shoal.Channel(2, arena=arena, name="x" * 129)
