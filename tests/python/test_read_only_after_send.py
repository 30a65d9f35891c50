"""Read-only after send, for real: once a send, a pickle by reference or
buf.seal() has taken a shoal.Buffer, no write through anything the sender
holds reaches a receiver. A writable view still alive (a NumPy array, a
memoryview, a ctypes object made from the Buffer) makes the send raise
BufferError and leaves nothing allocated; the NumPy array or memoryview
holding the only one, sent itself, is made read-only by the send."""

import ctypes
import gc
import pickle

import pytest

import readonly_work
import shoal
from shoal import interpreters

try:
    import numpy as np
except ImportError:  # pragma: no cover - the suite installs NumPy
    np = None

needs_numpy = pytest.mark.skipif(np is None, reason="NumPy is not installed")


@pytest.fixture
def arena(arena_name):
    with shoal.Arena("64MiB", name=arena_name) as arena:
        yield arena


def filled(arena, value=1.0, n=64):
    buf = arena.empty(n, "float64")
    memoryview(buf).cast("B").cast("d")[:] = __import__("array").array("d", [value] * n)
    return buf


def settled(arena, channel):
    """arena.used once the channel's first send warmed up the holder."""
    channel.send([1, "x" * 5000])
    channel.recv()
    gc.collect()
    return arena.used


# ------------------------------------------------------ refused while alive ----


@needs_numpy
@pytest.mark.parametrize("make", [
    lambda buf: np.asarray(buf),
    lambda buf: np.asarray(buf)[3:9],            # a slice: its base array holds the export
    lambda buf: np.asarray(buf)[::2][1:],        # a view of a view
    lambda buf: np.asarray(buf).reshape(8, 8).T,
    lambda buf: np.frombuffer(buf),              # keeps a pointer, holds no export
    lambda buf: np.ndarray((64,), "float64", buffer=buf),
])
def test_numpy_views_refuse_the_send_until_dropped(arena, channel, make):
    buf = filled(arena)
    holder = [make(buf)]
    before = settled(arena, channel)
    for value in (buf, {"inside": buf}, [buf, 1]):
        with pytest.raises(BufferError):
            channel.send(value)
    del value  # a list holding buf: a reference that could be an array's
    with pytest.raises(BufferError):
        pickle.dumps(buf)
    gc.collect()
    assert arena.used == before and not buf.readonly and holder[0].flags.writeable
    holder.clear()
    gc.collect()
    channel.send(buf)
    assert buf.readonly and not np.asarray(buf).flags.writeable
    assert channel.recv().tolist() == [1.0] * 64


@pytest.mark.parametrize("make", [
    lambda buf: memoryview(buf),
    lambda buf: memoryview(buf).cast("B"),
    lambda buf: memoryview(buf)[2:5],
    lambda buf: (ctypes.c_char * buf.nbytes).from_buffer(buf),
    lambda buf: (ctypes.c_double * 4).from_buffer(buf, 8),
])
def test_memoryviews_and_ctypes_objects_refuse_the_send_until_dropped(arena, channel, make):
    buf = filled(arena)
    view = make(buf)
    before = settled(arena, channel)
    with pytest.raises(BufferError, match="writable view"):
        channel.send(buf)
    with pytest.raises(BufferError, match="writable view"):
        channel.try_send({"inside": buf})
    with pytest.raises(BufferError, match="writable view"):
        buf.seal()
    gc.collect()
    assert arena.used == before and not buf.readonly
    if isinstance(view, memoryview):
        view.release()  # the explicit way out
    else:
        del view
    gc.collect()
    channel.send(buf)
    assert buf.readonly
    with pytest.raises(TypeError):
        (ctypes.c_char * buf.nbytes).from_buffer(buf)  # a writable export is refused now
    assert memoryview(buf).readonly


def test_the_refusal_says_how_to_fix_it(arena, channel):
    buf = filled(arena)
    view = memoryview(buf)
    with pytest.raises(BufferError) as info:
        channel.send(buf)
    message = str(info.value)
    assert "1 writable view" in message and "memoryview.release()" in message
    assert "send the NumPy array itself" in message
    with pytest.raises(BufferError, match=r"^value\['frame'\]: cannot send"):
        channel.send({"frame": buf})
    with pytest.raises(BufferError) as info:
        pickle.dumps(buf)
    assert "cannot pickle" in str(info.value) and "send the NumPy array" not in str(info.value)
    view.release()


# ------------------------------------------------ the array sent, read-only ----


@needs_numpy
def test_the_array_sent_itself_is_made_read_only(arena, channel):
    buf = arena.empty(64, "float64")
    array = np.asarray(buf)
    array[:] = 3.0
    channel.send(array)
    assert not array.flags.writeable and buf.readonly
    with pytest.raises(ValueError):
        array[0] = -1.0
    with pytest.raises(ValueError):
        array.flags.writeable = True
    with pytest.raises(TypeError):
        array.base[0:1] = b"\0" * 8  # its memoryview is read-only too
    assert channel.recv().tolist() == [3.0] * 64


@needs_numpy
def test_a_slice_sent_itself_is_made_read_only_with_its_base(arena, channel):
    buf = filled(arena, 2.0)
    part = np.asarray(buf)[8:16]  # its base array is held by it alone
    channel.send(part)
    assert not part.flags.writeable and not part.base.flags.writeable
    assert channel.recv().tolist() == [2.0] * 8


@needs_numpy
def test_an_array_sent_from_a_helper_function_is_made_read_only(arena, channel):
    def send_it(ch, value):
        ch.send(value)

    buf = filled(arena)
    array = np.asarray(buf)
    send_it(channel, array)  # named here and there: both frames are counted
    assert not array.flags.writeable


@needs_numpy
@pytest.mark.parametrize("make_writer", [
    lambda a: a[::2],                                    # a view of it: holds the array, no export
    lambda a: a[1:][::2],
    lambda a: memoryview(a),                             # an export of the array
    lambda a: (ctypes.c_char * 16).from_buffer(a),
    lambda a: np.asarray(memoryview(a.base)),            # shares the Buffer's export
])
def test_an_array_with_a_writer_of_its_own_is_refused(arena, channel, make_writer):
    buf = filled(arena)
    array = np.asarray(buf)
    writer = make_writer(array)
    with pytest.raises(BufferError):
        channel.send(array)
    assert array.flags.writeable and not buf.readonly  # nothing changed
    del writer
    gc.collect()
    channel.send(array)
    assert not array.flags.writeable


@needs_numpy
def test_an_array_held_elsewhere_too_is_refused_as_it_cannot_be_told_from_a_view(arena, channel):
    buf = filled(arena)
    array = np.asarray(buf)
    kept = [array]
    with pytest.raises(BufferError, match="beyond this function's names"):
        channel.send(array)
    kept.clear()
    channel.send(array)
    assert not array.flags.writeable


@needs_numpy
def test_an_array_inside_a_value_is_refused_while_it_is_writable(arena, channel):
    buf = filled(arena)
    array = np.asarray(buf)
    with pytest.raises(BufferError, match=r"^value\['a'\]"):
        channel.send({"a": array})
    del array
    buf.seal()  # fill, drop the views, seal: views made after go anywhere
    array = np.asarray(buf)
    assert not array.flags.writeable
    channel.send({"a": array, "b": array[::2]})
    assert channel.recv()["b"].tolist() == [1.0] * 32


@needs_numpy
def test_a_pointer_keeping_array_sent_itself_is_made_read_only(arena, channel):
    buf = filled(arena)
    array = np.frombuffer(buf)  # base: the Buffer itself
    channel.send(array)
    assert not array.flags.writeable and buf.readonly


def test_a_memoryview_sent_itself_is_made_read_only(arena, channel):
    buf = filled(arena, 5.0)
    view = memoryview(buf)
    channel.send(view)
    assert view.readonly and buf.readonly
    with pytest.raises(TypeError):
        view[0] = 1.0
    assert list(memoryview(channel.recv()).cast("B").cast("d")) == [5.0] * 64


def test_a_memoryview_sharing_its_export_is_refused(arena, channel):
    buf = filled(arena)
    view = memoryview(buf)
    other = view.cast("B")  # the same export
    with pytest.raises(BufferError):
        channel.send(view)
    assert not view.readonly
    other.release()
    channel.send(view)
    assert view.readonly


# ------------------------------------------- a receiver never sees the write ----


def try_writes(buf, extra=()):
    """Every way the sender could write the Buffer's first byte; returns the
    ways that went through (none should)."""
    written = []
    attempts = [
        ("memoryview", lambda: memoryview(buf).cast("B").__setitem__(0, 0xFF)),
        ("ctypes", lambda: (ctypes.c_char * buf.nbytes).from_buffer(buf).__setitem__(0, b"\xff")),
    ]
    if np is not None:
        attempts += [
            ("np.asarray", lambda: np.asarray(buf).view("u1").__setitem__(0, 0xFF)),
            ("np.frombuffer", lambda: np.frombuffer(buf, "u1").__setitem__(0, 0xFF)),
        ]
    attempts += list(extra)
    for name, attempt in attempts:
        try:
            attempt()
            written.append(name)
        except (TypeError, ValueError, BufferError):
            pass
    return written


@needs_numpy
def test_a_receiver_in_this_process_never_sees_a_post_send_write(arena, channel):
    buf = filled(arena, 1.0)
    array = np.asarray(buf)
    slice_of = array[:8]
    del slice_of  # (a view alive would have refused the send)
    channel.send(array)
    got = channel.recv()
    extra = [("the array sent", lambda: array.__setitem__(0, -1.0)),
             ("its base", lambda: array.base.cast("B").__setitem__(0, 0xFF))]
    assert try_writes(buf, extra) == []
    assert got.tolist() == [1.0] * 64


def test_a_receiver_in_a_subinterpreter_never_sees_a_post_send_write():
    buf = shoal.empty(64, "uint8")
    memoryview(buf)[:] = bytes(range(64))
    channel, results = shoal.Channel(2), shoal.Channel(2)
    with interpreters.create() as interp:
        task = interp.call_in_thread(readonly_work.write_then_report, channel, results)
        view = memoryview(buf)
        channel.send(view)  # the only view: made read-only
        assert try_writes(buf, [("the view sent", lambda: view.__setitem__(0, 0xFF))]) == []
        channel.send(None)
        refused, seen = results.recv(timeout=60)
        assert task.result(timeout=60) == "memoryview"  # bytes arrive as a read-only memoryview
    assert refused == ["memoryview"]  # read-only on that side too
    assert seen == bytes(range(64))


def test_a_subinterpreter_cannot_send_a_buffer_it_still_views():
    with interpreters.create() as interp:
        outcome = interp.call(readonly_work.send_while_viewing)
    assert outcome == ("BufferError", True)
