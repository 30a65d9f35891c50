"""What crosses a shoal.Channel beyond the built-in types: buffer exporters
(bytearray, memoryview, array.array, NumPy arrays) and anything picklable
(protocol 5, its buffers out of band in the arena); how each arrives; that
shoal memory is never copied; and that everything is freed afterwards.

Every kind is sent within this process and echoed by a child process."""

import array
import base64
import collections
import dataclasses
import decimal
import fractions
import gc
import multiprocessing
import pathlib
import pickle
import subprocess
import sys
import textwrap

import pytest

import shoal

from conftest import IsolatedInterpreter, read_line

try:
    import numpy as np
except ImportError:  # the tests that need no NumPy still run
    np = None

needs_numpy = pytest.mark.skipif(np is None, reason="NumPy is not installed")

MiB = 1024 * 1024


@pytest.fixture
def arena(arena_name):
    with shoal.Arena("256MiB", name=arena_name) as arena:
        yield arena


def settled_used(arena, channel):
    """arena.used once this holder's ledger and the freezer are warmed up,
    so that later comparisons are exact."""
    channel.send([1, "x" * 5000, Point(0, 0.0)])  # warms the pickle path too
    channel.recv()
    gc.collect()
    return arena.used


def round_trip(channel, value):
    channel.send(value)
    return channel.recv()


# Module-level, so that a child process can unpickle them (it imports this
# module: see _ECHO_CHILD).
@dataclasses.dataclass
class Point:
    x: int
    y: float


Pair = collections.namedtuple("Pair", "left right")


class Frame:
    """A user object holding a large array: pickled, the array out of band."""

    def __init__(self, name, pixels):
        self.name = name
        self.pixels = pixels

    def __eq__(self, other):
        return (type(other) is Frame and self.name == other.name
                and np.array_equal(self.pixels, other.pixels) and self.pixels.dtype == other.pixels.dtype)


# ------------------------------------------------- buffers without NumPy ----


def test_bytearray_arrives_as_an_equal_bytearray(channel):
    for value in [bytearray(), bytearray(b"abc"), bytearray(range(256)) * 100]:
        got = round_trip(channel, value)
        assert type(got) is bytearray and got == value
        got.append(1)  # a bytearray of its own: mutable


def test_array_array_arrives_as_an_equal_array(channel):
    for value in [array.array("i", [1, -2, 3]), array.array("d", [0.5] * 10_000), array.array("B"),
                  array.array("f", [1.5, -2.0])]:
        got = round_trip(channel, value)
        assert type(got) is array.array and got == value and got.typecode == value.typecode


def test_memoryview_of_bytes_arrives_as_a_read_only_memoryview(channel):
    for value in [memoryview(b"hello"), memoryview(bytearray(b"x" * 100_000)), memoryview(b""),
                  memoryview(b"0123456789")[::3]]:
        got = round_trip(channel, value)
        assert type(got) is memoryview and got.readonly
        assert got.tobytes() == value.tobytes()
        with pytest.raises(TypeError):
            got[:1] = b"z"


def test_received_memoryview_keeps_its_block_alive(arena, channel):
    baseline = settled_used(arena, channel)
    view = round_trip(channel, memoryview(b"k" * 50_000))
    gc.collect()
    assert arena.used > baseline
    assert view.tobytes() == b"k" * 50_000
    del view
    gc.collect()
    assert arena.used == baseline


def test_received_memoryview_of_a_buffer_is_its_memory(arena, channel):
    buf = arena.empty(1000, "uint8")
    memoryview(buf)[:] = bytes(range(250)) * 4
    got = round_trip(channel, memoryview(buf))
    assert got.tobytes() == bytes(range(250)) * 4
    # The blob is referenced, not copied: sending it on does not grow the arena.
    before = arena.used
    again = round_trip(channel, got)
    assert again.tobytes() == got.tobytes()
    assert arena.used - before < 4096


# ------------------------------------------------------------ NumPy arrays ----

ARRAY_CASES = {
    "float64": lambda: np.arange(24, dtype="float64").reshape(2, 3, 4),
    "int8": lambda: np.array([-128, 0, 127], dtype="int8"),
    "uint64": lambda: np.array([0, 2**64 - 1], dtype="uint64"),
    "bool": lambda: np.array([[True, False], [False, True]]),
    "complex64": lambda: np.array([1 + 2j, -3.5j], dtype="complex64"),
    "complex128": lambda: np.arange(10) * (1 + 1j),
    "big-endian >i4": lambda: np.arange(12, dtype=">i4").reshape(3, 4),
    "big-endian >f8": lambda: np.linspace(0, 1, 7).astype(">f8"),
    "every other": lambda: np.arange(100, dtype="int16")[::2],
    "transposed": lambda: np.arange(12, dtype="float32").reshape(3, 4).T,
    "reversed": lambda: np.arange(10.0)[::-1],
    "column": lambda: np.arange(30).reshape(5, 6)[:, 2],
    "zero-size": lambda: np.zeros((0, 3)),
    "zero-size strided": lambda: np.zeros((4, 0, 2), dtype="int32")[::2],
    "0-d": lambda: np.array(7.25),
    "large": lambda: np.ones((512, 1024)),
}


@needs_numpy
@pytest.mark.parametrize("case", ARRAY_CASES)
def test_numpy_array_arrives_equal_and_read_only(channel, case):
    value = ARRAY_CASES[case]()
    got = round_trip(channel, value)
    assert type(got) is np.ndarray
    assert got.dtype == value.dtype and got.shape == value.shape
    assert np.array_equal(got, value)
    assert got.flags.writeable is False and got.flags.c_contiguous
    with pytest.raises(ValueError):
        got[...] = 0


@needs_numpy
def test_memoryview_with_a_format_arrives_as_an_array(channel):
    value = memoryview(np.arange(6, dtype="int32").reshape(2, 3))
    got = round_trip(channel, value)
    assert got.dtype == np.dtype("int32") and got.tolist() == [[0, 1, 2], [3, 4, 5]]


@needs_numpy
def test_arrays_that_are_not_numbers_are_pickled(channel):
    objects = np.array([1, "two", None], dtype=object)
    records = np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")])
    for value in [objects, records]:
        got = round_trip(channel, value)
        assert got.dtype == value.dtype and got.tolist() == value.tolist()


@needs_numpy
def test_float16_travels_as_an_array_not_copied(arena, channel):
    buf = arena.empty((4, 3), "float16")
    mine = np.asarray(buf)
    mine[:] = np.arange(12, dtype="float16").reshape(4, 3) / 2
    del mine
    got = round_trip(channel, buf)
    assert got.dtype == np.dtype("float16") and got.tolist() == (np.arange(12).reshape(4, 3) / 2).tolist()
    assert got.__array_interface__["data"][0] == buf.__array_interface__["data"][0]  # the same memory
    half = np.array([1.5, -2.25], dtype=">f2")
    assert round_trip(channel, half).tolist() == [1.5, -2.25]


@needs_numpy
def test_numpy_view_of_a_buffer_is_not_copied(arena, channel):
    buf = arena.empty((1000, 1000), "float64")
    mine = np.asarray(buf)
    mine[:] = 1.5
    before = arena.used
    got = round_trip(channel, mine)
    assert got.__array_interface__["data"][0] == mine.__array_interface__["data"][0]
    assert np.shares_memory(got, mine)
    part = round_trip(channel, mine[10:20])  # contiguous slice: referenced in place
    assert np.shares_memory(part, mine) and part.__array_interface__["data"][0] == mine[10:20].ctypes.data
    assert arena.used - before < 64 * 1024  # two small objects, no 8 MB copy


@needs_numpy
def test_received_array_sent_on_is_not_copied(arena, channel):
    got = round_trip(channel, np.arange(MiB, dtype="uint8"))
    before = arena.used
    again = round_trip(channel, got)
    assert again.ctypes.data == got.ctypes.data
    assert arena.used - before < 64 * 1024


@needs_numpy
def test_a_foreign_array_is_copied_once(arena, channel):
    baseline = settled_used(arena, channel)
    value = np.ones(4 * MiB, dtype="uint8")
    channel.send(value)
    grown = arena.used - baseline
    assert value.nbytes <= grown < value.nbytes + 64 * 1024
    got = channel.recv()
    assert not np.shares_memory(got, value)


@needs_numpy
def test_received_array_keeps_its_block_alive(arena, channel):
    baseline = settled_used(arena, channel)
    got = round_trip(channel, {"a": np.arange(100_000.0)})["a"]
    gc.collect()
    assert arena.used > baseline
    assert got[-1] == 99_999.0
    del got
    gc.collect()
    assert arena.used == baseline


# --------------------------------------------------------- pickled objects ----

PICKLED = [
    Point(1, 2.5),
    Pair("left", [1, 2]),
    decimal.Decimal("3.14159265358979323846"),
    fractions.Fraction(22, 7),
    collections.OrderedDict([("b", 1), ("a", 2)]),
    collections.Counter("mississippi"),
    range(3, 30, 3),
    complex(1, -1),
    type,  # classes and functions pickle by name
    len,
]


@pytest.mark.parametrize("value", PICKLED, ids=lambda v: type(v).__name__)
def test_picklable_objects_arrive_equal(channel, value):
    got = round_trip(channel, value)
    assert type(got) is type(value) and got == value


def test_picklable_objects_inside_containers(channel):
    value = {"points": [Point(i, i / 2) for i in range(3)], "pair": (Pair(1, 2),), "d": decimal.Decimal(5)}
    assert round_trip(channel, value) == value


@needs_numpy
def test_an_array_inside_a_user_object_is_out_of_band(arena, channel):
    baseline = settled_used(arena, channel)
    pixels = np.random.default_rng(1).random((1024, 1024))  # 8 MiB
    frame = Frame("f", pixels)
    channel.send(frame)
    grown = arena.used - baseline
    # Once in a blob, not also inside the pickle's payload.
    assert pixels.nbytes <= grown < pixels.nbytes * 1.05
    got = channel.recv()
    assert type(got) is Frame and got == frame
    assert got.pixels.flags.writeable is False
    del got
    gc.collect()
    assert arena.used == baseline


@needs_numpy
def test_a_buffer_inside_a_user_object_is_not_copied(arena, channel):
    buf = arena.empty((512, 512), "int64")
    np.asarray(buf)[:] = 9
    buf.seal()  # an array inside a pickled object is sent read-only only if its Buffer is sealed
    mine = np.asarray(buf)
    before = arena.used
    got = round_trip(channel, Frame("shared", mine))
    assert np.shares_memory(got.pixels, mine)
    assert arena.used - before < 64 * 1024


# ---------------------------------------------------------------- channels ----


def test_a_channel_crosses_as_the_same_channel_and_stays_alive_in_flight(arena, channel):
    baseline = settled_used(arena, channel)
    inner = shoal.Channel(2, arena=arena)
    inner.send("waiting inside")
    channel.send({"reply_to": inner})
    del inner  # the value in flight keeps the channel alive
    gc.collect()
    got = channel.recv()["reply_to"]
    assert type(got) is shoal.Channel and got.recv() == "waiting inside"
    got.send(1)
    assert got.recv() == 1
    del got
    gc.collect()
    assert arena.used == baseline


def test_a_channel_of_another_arena_is_refused(arena_name, channel):
    with shoal.Arena("8MiB", name=arena_name + "-other") as other:
        with pytest.raises(ValueError, match=r"^value\[0\]: the channel is not one of arena"):
            channel.send([shoal.Channel(1, arena=other)])


# ------------------------------------------------------- what cannot cross ----


class _Unpicklable:
    def __reduce__(self):
        raise RuntimeError("no, thank you")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: {"a": [1, 2, (i for i in [])]}, r"^value\[2\]\['a'\]\[2\]: cannot send 'generator'$"),
        (lambda: [lambda: 1], r"^value\[2\]\[0\]: cannot send 'function': it cannot be pickled \(.*lambda"),
        (lambda: {"k": _Unpicklable()}, r"^value\[2\]\['k'\]: cannot send '_Unpicklable': it cannot be pickled "
                                        r"\(no, thank you\)"),
    ],
    ids=["generator", "lambda", "reduce raises"],
)
def test_unpicklable_values_name_their_path_and_leave_nothing(arena, channel, make, message):
    baseline = settled_used(arena, channel)
    with pytest.raises(TypeError, match=message):
        channel.send([b"y" * 100_000, bytearray(50_000), make()])  # blobs made before the failure are freed
    assert len(channel) == 0
    gc.collect()
    assert arena.used == baseline
    assert arena.check() == []


def test_a_local_class_says_why_it_cannot_be_pickled(arena, channel):
    class Local:
        pass

    with pytest.raises(TypeError, match=r"^value: cannot send 'Local': it cannot be pickled \(.*local object") as error:
        channel.send(Local())
    assert error.value.__cause__ is not None


class _Shrinker:
    """Empties the container it sits in when it is pickled."""

    def __init__(self, container):
        self.container = container

    def __reduce__(self):
        self.container.clear()
        return (int, ())


@pytest.mark.parametrize("kind", ["list", "dict"])
def test_a_container_changed_by_pickling_is_refused(arena, channel, kind):
    baseline = settled_used(arena, channel)
    container = [] if kind == "list" else {}
    if kind == "list":
        container += [b"x" * 10_000, None, 1, 2]
        container[1] = _Shrinker(container)
    else:
        container.update({"a": b"x" * 10_000, "b": None, "c": 1})
        container["b"] = _Shrinker(container)
    with pytest.raises(RuntimeError, match=f"^value: the {kind} changed size while it was being sent$"):
        channel.send(container)
    gc.collect()
    assert arena.used == baseline


@needs_numpy
def test_a_failure_after_an_array_leaves_nothing(arena, channel):
    baseline = settled_used(arena, channel)
    with pytest.raises(TypeError):
        channel.send([np.ones(MiB), Frame("x", np.ones(MiB)), iter(lambda: 1, 2)])
    gc.collect()
    assert arena.used == baseline


# ---------------------------------------------------------------- lifetime ----


def test_used_back_to_baseline_after_everything_is_dropped(arena, channel):
    baseline = settled_used(arena, channel)
    received = []
    values = [bytearray(b"x" * 10_000), array.array("q", range(5000)), memoryview(b"m" * 9000),
              Point(1, 2), decimal.Decimal(1)]
    if np is not None:
        buf = arena.empty(10_000, "float32")
        buf.seal()  # its arrays below are read-only: sendable from the list
        values += [np.arange(100_000.0)[::3], np.asarray(buf), Frame("f", np.ones(50_000)), buf]
    for value in values:
        received.append(round_trip(channel, value))
    assert arena.used > baseline
    del values, received, value
    if np is not None:
        del buf
    gc.collect()
    assert arena.used == baseline
    assert arena.check() == []


# --------------------------------------------------------- another process ----

# A child that unpickles the channels given in base64 on its command line and
# sends back everything it receives (re-sending what it got: arena memory
# goes back by reference) with the type it saw, until the inbox closes.
_ECHO_CHILD = textwrap.dedent(
    """
    import base64, pickle, sys
    sys.path.insert(0, sys.argv[2])  # this test module: Point, Pair, Frame
    if sys.argv[3] == "numpy":
        import numpy
    import shoal
    inbox, outbox = pickle.loads(base64.b64decode(sys.argv[1]))
    print("ready", flush=True)
    for value in inbox:
        outbox.send((type(value).__name__, value))
    outbox.close()
    """
)


def echo_in_child(arena, values, numpy):
    """(type name seen by the child, value it sent back) for each value."""
    inbox, outbox = shoal.Channel(4, arena=arena), shoal.Channel(4, arena=arena)
    ticket = base64.b64encode(pickle.dumps((inbox, outbox))).decode()
    here = str(pathlib.Path(__file__).parent)
    child = subprocess.Popen([sys.executable, "-c", _ECHO_CHILD, ticket, here, "numpy" if numpy else "no"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert read_line(child.stdout, 60).strip() == "ready", child.stderr.read()
        echoes = []
        for value in values:
            inbox.send(value, timeout=30)
            try:
                echoes.append(outbox.recv(timeout=30))
            except TimeoutError:
                child.kill()
                pytest.fail(f"the child did not answer: {child.stderr.read()}")
        inbox.close()
        assert child.wait(30) == 0, child.stderr.read()
        return echoes
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        child.stdout.close()
        child.stderr.close()


def test_every_kind_crosses_to_another_process_and_back(arena):
    values = [bytearray(b"abc" * 2000), array.array("h", [1, -1, 300]), memoryview(b"view" * 3000),
              Point(3, 4.5), Pair(1, "b"), decimal.Decimal("2.5"), fractions.Fraction(1, 3),
              {"nested": [Point(0, 0.0), bytearray(b"z")]}]
    echoes = echo_in_child(arena, values, numpy=np is not None)
    for value, (seen, back) in zip(values, echoes):
        assert seen == type(value).__name__
        assert type(back) is type(value)
        if isinstance(value, memoryview):
            assert back.tobytes() == value.tobytes() and back.readonly
        else:
            assert back == value


@needs_numpy
def test_numpy_arrays_cross_to_another_process_and_back(arena):
    values = [case() for case in ARRAY_CASES.values()]
    buf = arena.empty((256, 256), "float64")
    np.asarray(buf)[:] = 2.0
    buf.seal()  # the arrays below, read-only, may be pickled while the list holds them
    values += [np.asarray(buf), np.asarray(buf)[::4, 1:], Frame("frame", np.arange(300_000, dtype="<u2"))]
    echoes = echo_in_child(arena, values, numpy=True)
    for value, (seen, back) in zip(values, echoes):
        if isinstance(value, Frame):
            assert seen == "Frame" and back == value
            continue
        assert seen == "ndarray"
        assert type(back) is np.ndarray and back.dtype == value.dtype and back.shape == value.shape
        assert np.array_equal(back, value)
        assert back.flags.writeable is False
    # The buffer went there and back by reference: the same memory.
    assert np.shares_memory(echoes[len(ARRAY_CASES)][1], np.asarray(buf))


@needs_numpy
def test_without_numpy_in_the_child_arrays_arrive_as_buffers(arena):
    values = [np.arange(6, dtype=">i4").reshape(2, 3)]
    [(seen, back)] = echo_in_child(arena, values, numpy=False)
    assert seen == "Buffer"
    assert back.dtype == np.dtype(">i4") and back.tolist() == [[0, 1, 2], [3, 4, 5]]


def _spawned_echo(inbox, outbox):
    for value in inbox:
        outbox.send(value)
    outbox.close()


def test_multiprocessing_spawn_round_trip(arena):
    inbox, outbox = shoal.Channel(4, arena=arena), shoal.Channel(4, arena=arena)
    process = multiprocessing.get_context("spawn").Process(target=_spawned_echo, args=(inbox, outbox))
    process.start()
    try:
        values = [Point(1, 1.5), bytearray(b"q" * 5000), decimal.Decimal("7")]
        if np is not None:
            values.append(Frame("spawned", np.arange(1000.0)))
        for value in values:
            inbox.send(value, timeout=30)
        inbox.close()
        assert list(outbox) == values
        process.join(30)
        assert process.exitcode == 0
    finally:
        if process.is_alive():
            process.kill()
            process.join()


# ------------------------------------------------ an isolated interpreter ----


def test_buffers_and_pickles_cross_to_an_isolated_interpreter_and_back(arena):
    inbox, outbox = shoal.Channel(16, arena=arena), shoal.Channel(16, arena=arena)
    # Standard-library objects only: the interpreter's sys.path does not
    # reach this module (and NumPy does not load in isolated interpreters).
    values = [bytearray(b"ba" * 3000), array.array("d", [1.5, 2.5]), memoryview(b"mv" * 4000),
              decimal.Decimal("9.75"), fractions.Fraction(5, 3), collections.OrderedDict(a=1)]
    for value in values:
        inbox.send(value)
    inbox.close()
    ticket = pickle.dumps((inbox, outbox))
    interp = IsolatedInterpreter()
    try:
        failure = interp.exec(textwrap.dedent(f"""
            import pickle
            import shoal
            inbox, outbox = pickle.loads({ticket!r})
            for value in inbox:
                outbox.send((type(value).__name__, value))
            del inbox, outbox, value
            """))
        assert failure is None, failure
    finally:
        interp.close()
    for value in values:
        seen, back = outbox.try_recv()
        assert seen == type(value).__name__ and type(back) is type(value)
        assert (back.tobytes() == value.tobytes()) if isinstance(value, memoryview) else (back == value)


# ------------------------------------------- shoal.Buffer inside a pickle ----


def test_buffer_inside_a_user_object_crosses_without_a_copy():
    np = pytest.importorskip("numpy")
    import interp_work

    ch = shoal.Channel(4)
    buf = shoal.empty((4, 3), "float32")
    np.asarray(buf)[:] = 2.5
    ch.send(interp_work.Box(buf))
    assert buf.readonly  # sent: its bytes are final
    got = ch.recv(timeout=30)
    assert isinstance(got, interp_work.Box)
    assert got.data.shape == (4, 3) and got.data.dtype == np.float32
    assert np.shares_memory(got.data, np.asarray(buf))
    assert not got.data.flags.writeable


def test_buffer_pickles_by_reference_with_plain_pickle():
    np = pytest.importorskip("numpy")
    import pickle

    buf = shoal.empty((2, 5), "int16")
    np.asarray(buf)[:] = 7
    for protocol in (2, 4, 5):
        view = pickle.loads(pickle.dumps(buf, protocol=protocol))
        assert view.shape == (2, 5) and (view == 7).all()
        assert np.shares_memory(view, np.asarray(buf)) and not view.flags.writeable
    copy = np.array(buf)  # a copy, when one is wanted
    assert not np.shares_memory(copy, np.asarray(buf)) and bytes(buf) == copy.tobytes()


def test_buffer_inside_a_user_object_reaches_an_isolated_interpreter():
    import interp_work
    from shoal import interpreters

    buf = shoal.empty((4, 3), "float32")
    with interpreters.create() as interp:
        # No NumPy there: a read-only memoryview of the same bytes, same shape.
        assert interp.call(interp_work.describe_box_data, interp_work.Box(buf)) == ("memoryview", (4, 3), "f", True)


def test_channel_inside_a_user_object_is_kept_alive_in_flight():
    import interp_work

    gc.collect()
    base = shoal.default_arena().used
    ch = shoal.Channel(4)
    reply = shoal.Channel(2)
    reply.send("hello")
    ch.send(interp_work.Box({"reply": reply, "again": reply}))
    del reply  # the sender's last reference: the message now holds the channel
    gc.collect()
    box = ch.recv(timeout=30)
    assert box.data["reply"] is box.data["again"]  # one channel, one object
    assert box.data["reply"].recv(timeout=30) == "hello"
    del box, ch
    gc.collect()
    assert shoal.default_arena().used == base


# ------------------------------------------------ damaged pickles ----

def _overwrite_in_segment(arena, old, new):
    """Overwrites the one occurrence of `old` in the arena's segment, as a
    stray write would."""
    path = pathlib.Path("/dev/shm") / f"shoal.{arena.name}"
    with open(path, "r+b") as segment:
        data = segment.read()
        assert data.count(old) == 1
        segment.seek(data.index(old))
        segment.write(new)


def test_a_pickle_altered_in_the_arena_is_a_corrupt_object(arena, channel):
    channel.send(fractions.Fraction(1, 3))
    # Its protocol header: 0x80 then the protocol number; 0x80 0xff is no protocol.
    _overwrite_in_segment(arena, b"\x80\x05\x95", b"\x80\xff\x95")
    with pytest.raises(shoal.CorruptObject, match="pickle .* is malformed") as error:
        channel.recv()
    assert isinstance(error.value.__cause__, (pickle.UnpicklingError, ValueError, EOFError))


def test_a_pickle_naming_what_the_receiver_lacks_says_where_it_came_from(arena, channel):
    channel.send(fractions.Fraction(1, 3))
    _overwrite_in_segment(arena, b"Fraction", b"Fxaction")
    with pytest.raises(AttributeError, match="Fxaction") as error:
        channel.recv()
    assert any("received through shoal" in note for note in error.value.__notes__)


class RefusesToUnpickle:
    def __init__(self):
        self.state = 1  # so that unpickling calls __setstate__

    def __setstate__(self, state):
        raise ValueError("my own refusal")


def test_an_error_of_the_values_own_code_is_not_called_corruption(channel):
    channel.send(RefusesToUnpickle())
    with pytest.raises(ValueError, match="my own refusal") as error:
        channel.recv()
    assert not isinstance(error.value, shoal.CorruptObject)
