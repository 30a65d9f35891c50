"""shoal.Buffer: arrays in shared memory made by arena.empty(), seen in
place through the buffer protocol and NumPy, writable until sent."""

import gc

import pytest

import shoal

np = pytest.importorskip("numpy")

MiB = 1024 * 1024


@pytest.fixture
def arena(arena_name):
    with shoal.Arena("64MiB", name=arena_name) as arena:
        yield arena


# ------------------------------------------------------------- dtypes ----

DTYPES = [
    # (given, typestr, buffer-protocol format, itemsize)
    ("float64", "<f8", "d", 8),
    ("float32", "<f4", "f", 4),
    ("float16", "<f2", "e", 2),
    ("int8", "|i1", "b", 1),
    ("int16", "<i2", "h", 2),
    ("int32", "<i4", "i", 4),
    ("int64", "<i8", "q", 8),
    ("uint8", "|u1", "B", 1),
    ("uint16", "<u2", "H", 2),
    ("uint32", "<u4", "I", 4),
    ("uint64", "<u8", "Q", 8),
    ("bool", "|b1", "?", 1),
    ("complex64", "<c8", "Zf", 8),
    ("complex128", "<c16", "Zd", 16),
    ("<f8", "<f8", "d", 8),
    (">f8", ">f8", ">d", 8),
    ("=i4", "<i4", "i", 4),
    ("|u1", "|u1", "B", 1),
    ("|b1", "|b1", "?", 1),
    (">c16", ">c16", ">Zd", 16),
    (">f2", ">f2", ">e", 2),
    ("f8", "<f8", "d", 8),  # no byte order: this machine's, as NumPy reads it
    ("u2", "<u2", "H", 2),
    ("|f4", "<f4", "f", 4),  # NumPy's "not applicable" order: this machine's too
]


@pytest.mark.parametrize("given, typestr, fmt, itemsize", DTYPES)
def test_dtype_sets_typestr_format_and_itemsize(arena, given, typestr, fmt, itemsize):
    buf = arena.empty((2, 3), dtype=given)
    assert buf.dtype == typestr
    assert buf.nbytes == 6 * itemsize
    view = memoryview(buf)
    assert view.format == fmt
    assert view.itemsize == itemsize
    assert view.shape == (2, 3)
    assert view.strides == (3 * itemsize, itemsize)
    assert view.c_contiguous
    array = np.asarray(buf)
    assert array.dtype == np.dtype(typestr)
    assert array.shape == (2, 3)


# Every form numpy.dtype() takes: a numpy.dtype, NumPy's types, Python's
# number types, and the spellings only NumPy knows (asked, as it is imported).
DTYPE_FORMS = [
    (np.dtype("int16"), "<i2"),
    (np.dtype(">f4"), ">f4"),
    (np.float32, "<f4"),
    (np.float16, "<f2"),
    (np.uint8, "|u1"),
    (np.complex64, "<c8"),
    (np.bool_, "|b1"),
    (float, "<f8"),
    (int, "<i8"),
    (bool, "|b1"),
    (complex, "<c16"),
    ("double", "<f8"),
    ("half", "<f2"),
    ("d", "<f8"),
    ("e", "<f2"),
]


@pytest.mark.parametrize("given, typestr", DTYPE_FORMS, ids=repr)
def test_every_form_numpy_dtype_takes_is_accepted(arena, given, typestr):
    assert np.dtype(given).str == typestr  # what NumPy itself makes of it
    assert arena.empty(4, given).dtype == typestr
    assert shoal.empty(4, dtype=given).dtype == typestr
    assert np.asarray(arena.empty(4, given)).dtype == np.dtype(given)


@pytest.mark.parametrize("bad", ["<U3", "|O", "object", "S4", "<f16", "<M8[s]", np.dtype([("a", "<i4"), ("b", "<f8")])],
                         ids=repr)
def test_dtypes_a_buffer_cannot_hold_say_so(arena, bad):
    with pytest.raises(ValueError, match="unsupported dtype.*shoal buffers hold") as info:
        arena.empty(3, dtype=bad)
    if isinstance(bad, np.dtype):
        assert "not structured dtypes" in str(info.value)


@pytest.mark.parametrize("bad", ["<f3", "", "float7"])
def test_what_numpy_does_not_understand_is_its_type_error(arena, bad):
    with pytest.raises(TypeError, match="not understood"):
        arena.empty(3, dtype=bad)


def test_dtypes_without_numpy(tmp_path):
    # NumPy made unimportable: the forms that need no NumPy still work, and
    # shoal never imports it.
    script = tmp_path / "no_numpy.py"
    script.write_text(
        "import sys\n"
        "sys.modules['numpy'] = None  # import numpy fails\n"
        "import shoal\n"
        "class DTypeLike:\n"
        "    str = '<f4'\n"
        "got = [shoal.empty(2, d).dtype for d in ('float16', 'f8', '<i2', float, int, bool, complex, DTypeLike())]\n"
        "assert got == ['<f2', '<f8', '<i2', '<f8', '<i8', '|b1', '<c16', '<f4'], got\n"
        "assert memoryview(shoal.empty(2, 'float16')).format == 'e'\n"
        "for bad, error in ((3, TypeError), ('double', ValueError)):\n"
        "    try:\n"
        "        shoal.empty(2, bad)\n"
        "    except error as exc:\n"
        "        print(f'{type(exc).__name__}: {exc}')\n"
        "    else:\n"
        "        raise AssertionError(bad)\n"
        "assert sys.modules['numpy'] is None\n"
        "print('ok')\n"
    )
    import subprocess
    import sys

    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "ok"
    assert lines[0].startswith("TypeError: dtype must be what numpy.dtype() accepts"), lines


def test_bad_shapes(arena):
    with pytest.raises(ValueError, match=">= 0"):
        arena.empty((2, -1))
    with pytest.raises(TypeError, match="shape"):
        arena.empty(1.5)
    with pytest.raises(TypeError):
        arena.empty(3, dtype=3)


# ---------------------------------------------------------- the object ----


def test_default_dtype_shape_and_properties(arena):
    buf = arena.empty((4, 5))
    assert buf.shape == (4, 5)
    assert buf.dtype == "<f8"
    assert buf.nbytes == 160
    assert buf.readonly is False
    assert repr(buf) == "<shoal.Buffer shape=(4, 5) dtype='<f8'>"
    assert arena.empty(7).shape == (7,)
    assert arena.empty(()).shape == ()
    assert arena.empty((0, 3)).nbytes == 0


def test_buffer_cannot_be_made_directly():
    with pytest.raises(TypeError):
        shoal.Buffer()


def test_payload_is_64_byte_aligned(arena):
    for shape in [1, 3, 1000, (7, 9)]:
        ptr, _ = arena.empty(shape, "uint8").__array_interface__["data"]
        assert ptr % 64 == 0


def test_array_interface(arena):
    buf = arena.empty((2, 3), "int32")
    interface = buf.__array_interface__
    assert interface["version"] == 3
    assert interface["typestr"] == "<i4"
    assert interface["shape"] == (2, 3)
    assert interface["strides"] is None
    ptr, readonly = interface["data"]
    assert readonly is False
    assert ptr == np.asarray(buf).ctypes.data


def test_writes_through_one_view_are_seen_by_another(arena):
    buf = arena.empty((3, 4), "int64")
    first = np.asarray(buf)
    first[:] = np.arange(12).reshape(3, 4)
    second = np.asarray(buf)
    assert second.ctypes.data == first.ctypes.data
    assert np.shares_memory(first, second)
    assert second.tolist() == np.arange(12).reshape(3, 4).tolist()
    memoryview(buf)[1, 2] = -5
    assert first[1, 2] == -5
    assert memoryview(buf).tolist()[1][2] == -5


def test_zero_dimensional_buffer(arena):
    buf = arena.empty((), "float64")
    array = np.asarray(buf)
    array[()] = 2.5
    assert np.asarray(buf)[()] == 2.5
    assert memoryview(buf).shape == ()


def test_plain_byte_views(arena):
    buf = arena.empty(5, "uint8")
    np.asarray(buf)[:] = [1, 2, 3, 4, 5]
    assert bytes(buf) == b"\x01\x02\x03\x04\x05"


# ---------------------------------------------------- frozen once sent ----


def test_read_only_once_sent(arena):
    buf = arena.empty(16, "uint8")
    np.asarray(buf)[:] = 7
    channel = shoal.Channel(4, arena=arena)
    channel.send(buf)
    assert buf.readonly is True
    assert buf.__array_interface__["data"][1] is True
    assert memoryview(buf).readonly
    with pytest.raises(TypeError):
        memoryview(buf)[0] = 1
    array = np.asarray(buf)
    assert array.flags.writeable is False
    with pytest.raises(ValueError):
        array[0] = 1
    assert repr(buf).endswith(" readonly>")
    received = channel.recv()
    assert received.ctypes.data == array.ctypes.data


class _DropsTheBuffers:
    """Pickled after the buffers were written: its __reduce__ drops the last
    Python references to them while the value is still being sent."""

    def __init__(self, holder):
        self.holder = holder

    def __reduce__(self):
        self.holder.clear()
        gc.collect()
        return (_DropsTheBuffers, ([],))


@pytest.mark.parametrize("nbytes", [1024, 1 << 20])  # recyclable, and freed to the heap
def test_a_buffer_dropped_while_being_sent_still_arrives(arena, nbytes):
    # The sender borrows each Buffer's block rather than taking a reference
    # of its own; whatever user code does meanwhile, the block must stay.
    channel = shoal.Channel(2, arena=arena)
    holder = [arena.empty(nbytes, "uint8")]
    np.asarray(holder[0])[:] = 0xA5
    first = holder[0].__array_interface__["data"][0]
    channel.send((holder, _DropsTheBuffers(holder)))
    assert holder == []
    replacement = arena.empty(nbytes, "uint8")  # may not reuse the sent block
    np.asarray(replacement)[:] = 0
    (buffers, _), = [channel.recv()]
    assert len(buffers) == 1
    got = np.asarray(buffers[0])
    assert got.ctypes.data == first, "the same block, not a copy"
    assert (got == 0xA5).all()
    del got, buffers, replacement
    gc.collect()
    assert arena.check() == []


def test_writable_request_raises_buffer_error_after_send(arena):
    import inspect

    buf = arena.empty(8, "uint8")
    with buf.__buffer__(inspect.BufferFlags.WRITABLE) as view:  # fine before
        assert not view.readonly
    shoal.Channel(1, arena=arena).send(buf)
    with pytest.raises(BufferError, match="read-only"):
        buf.__buffer__(inspect.BufferFlags.WRITABLE)
    with buf.__buffer__(inspect.BufferFlags.SIMPLE) as view:
        assert view.readonly


# ------------------------------------------------------------ lifetime ----


def test_memory_is_freed_when_the_last_view_goes(arena):
    arena.empty(1)  # this holder's ledger exists from now on
    gc.collect()
    baseline = arena.used
    buf = arena.empty((1024, 1024), "uint8")
    assert arena.used >= baseline + MiB
    view = np.asarray(buf)
    del buf
    assert arena.used >= baseline + MiB  # the array's base keeps the block
    del view
    gc.collect()
    assert arena.used == baseline
    assert arena.check() == []


def test_small_buffers_are_recycled_by_the_thread_that_opened_the_arena(arena):
    import threading

    buf = arena.empty(64, "uint8")
    address = buf.__array_interface__["data"][0]
    base = arena.stats()["cached_blocks"]
    del buf
    assert arena.stats()["cached_blocks"] == base + 1
    again = arena.empty(64, "uint8")
    assert again.__array_interface__["data"][0] == address, "the cached block came back"
    assert arena.stats()["cached_blocks"] == base
    assert not again.readonly
    np.asarray(again)[:] = 3

    def elsewhere():  # another thread: the locked paths, nothing cached
        b = arena.empty(64, "uint8")
        np.asarray(b)[:] = 1
        del b

    t = threading.Thread(target=elsewhere)
    t.start()
    t.join()
    assert arena.stats()["cached_blocks"] == base
    assert arena.check() == []


@pytest.mark.parametrize("shape", [(512,), (8, 8, 8)])
def test_a_4_kib_array_is_recycled_header_and_all(arena, shape):
    # 4 KiB of float64 plus its array header (64 or 128 bytes) still fits
    # the recycling cache.
    buf = arena.empty(shape, "float64")
    base = arena.stats()["cached_blocks"]
    del buf
    assert arena.stats()["cached_blocks"] == base + 1


def test_buffer_outlives_a_closed_arena_object(arena_name):
    arena = shoal.Arena("16MiB", name=arena_name)
    buf = arena.empty(10, "int32")
    keeper = shoal.Arena.attach(arena_name)  # keep the segment's name while we look
    arena.close()
    np.asarray(buf)[:] = 3
    assert np.asarray(buf).sum() == 30
    del buf
    keeper.close()


def test_arena_full_is_a_memory_error(arena):
    with pytest.raises(MemoryError):
        arena.empty(128 * MiB, "uint8")


def test_module_empty(arena):
    assert shoal.empty(3, arena=arena).shape == (3,)
    assert shoal.empty((2, 2), "int8", arena=arena).dtype == "|i1"
    buf = shoal.empty((2, 2), "int8")  # in the process-wide default arena
    assert buf.dtype == "|i1"
    before = shoal.default_arena().used
    del buf
    assert shoal.default_arena().used < before
