"""An independent reader of frozen objects: pycapnp (PyPI), with nothing
of shoal but the schema file.

`heap_sample_writer` (tests/cpp/test_heap_sample_writer.cpp, built with
-Dtests=true) freezes the samples of tests/cpp/test_heap_samples.hpp in an
arena and copies each object out: its body (one framed Cap'n Proto
message) and its child blobs. Here pycapnp decodes each body with
schemas/value.capnp, blob references are followed by child index, and the
result must equal the values stated below — written out again in Python
rather than read from the C++ side, so the two must agree independently.

  heap_sample_writer  $SHOAL_HEAP_SAMPLE_WRITER, else build/tests/ of this checkout
"""

import math
import os
import pathlib
import subprocess

import pytest

capnp = pytest.importorskip("capnp", reason="pycapnp is not installed for this Python (pip install pycapnp)")
np = pytest.importorskip("numpy")

REPO = pathlib.Path(__file__).resolve().parents[2]
SCHEMA = REPO / "schemas" / "value.capnp"


def _pattern(n):
    return bytes(i % 251 for i in range(n))


# The samples, as Python values. Arrays are NumPy arrays; a raw blob and a
# pickle come back as ("blob", bytes) and ("pickled", payload, [buffers]).
EXPECTED = {
    "none": None,
    "scalars": [True, False, 0, 1, -1, 2**63 - 1, -(2**63), 1.5],
    "big_ints": [2**64, -(2**63 + 1), 2**1000 - 1, -(2**1000 - 1)],
    "floats": [math.nan, math.inf, -math.inf, -0.0, 0.0, 5e-324, 1.7976931348623157e308, 0.1],
    "texts": ["", "hello", "héllo wörld", "日本語", "🐟 shoal"],
    "big_text": "🐟" * 2000,
    "bytes": [b"", b"\x00\xff", _pattern(4096), _pattern(4097)],
    "containers": {
        "list": [1, "two", 3.0],
        "tuple": (1, 2),
        "set": {1, 2, 3},
        "frozenset": frozenset({"a"}),
        "empty_list": [],
        "empty_dict": {},
        1: "one",
        (1, 2): "pair",
        None: "none",
    },
    "ndarray": np.arange(6.0).reshape(2, 3),
    "ndarray_strided": np.arange(16, dtype="<i4").reshape(4, 4)[::2, ::-1],
    "ndarray_empty": np.zeros((0, 3), dtype="<f8"),
    "ndarray_scalar": np.array(42, dtype="<i8"),
    "blob": ("blob", _pattern(10000)),
    "pickled": ("pickled", b"PICKLE-PAYLOAD", [b"first buffer", _pattern(5000)]),
    "deep": [7],
    "big_dict": {f"key{i}": i for i in range(1000)},
}
_deep = 7
for _ in range(100):
    _deep = [_deep]
EXPECTED["deep"] = _deep


@pytest.fixture(scope="module")
def writer():
    path = os.environ.get("SHOAL_HEAP_SAMPLE_WRITER") or str(REPO / "build" / "tests" / "heap_sample_writer")
    if not os.access(path, os.X_OK):
        pytest.skip(f"heap_sample_writer not found at {path} (build with -Dtests=true, or set $SHOAL_HEAP_SAMPLE_WRITER)")
    return path


@pytest.fixture(scope="module")
def samples(writer, tmp_path_factory):
    out = tmp_path_factory.mktemp("frozen")
    subprocess.run([writer, str(out)], check=True, capture_output=True, timeout=120)
    return out


@pytest.fixture(scope="module")
def schema():
    # pycapnp ships capnp/c++.capnp (imported by the schema) in its package.
    include = pathlib.Path(capnp.__file__).resolve().parents[1]
    return capnp.load(str(SCHEMA), imports=[str(include)])


class Decoder:
    """Frozen Value (pycapnp reader) -> Python value, blobs from child files."""

    def __init__(self, directory, name):
        self.directory = directory
        self.name = name

    def child(self, index):
        return (self.directory / f"{self.name}.child-{index}").read_bytes()

    def blob(self, ref):
        data = self.child(ref.child)
        assert ref.offset + ref.length <= len(data)
        return data[ref.offset : ref.offset + ref.length]

    def value(self, v):
        kind = v.which()
        if kind == "none":
            return None
        if kind in ("boolean", "int64", "float64", "text", "bytes"):
            return getattr(v, kind)
        if kind == "bigInt":
            magnitude = int.from_bytes(v.bigInt.magnitude, "little")
            return -magnitude if v.bigInt.negative else magnitude
        if kind == "textBlob":
            return self.blob(v.textBlob).decode("utf-8")
        if kind == "bytesBlob":
            return self.blob(v.bytesBlob)
        if kind == "list":
            return [self.value(x) for x in v.list]
        if kind == "tuple":
            return tuple(self.value(x) for x in v.tuple)
        if kind == "set":
            return {self.value(x) for x in v.set}
        if kind == "frozenset":
            return frozenset(self.value(x) for x in v.frozenset)
        if kind == "dict":
            keys, values = v.dict.keys, v.dict.values
            assert len(keys) == len(values)
            return {self.value(k): self.value(x) for k, x in zip(keys, values)}
        if kind == "ndarray":
            a = v.ndarray
            return np.ndarray(
                shape=tuple(a.shape),
                dtype=np.dtype(a.dtype),
                buffer=self.child(a.child),
                offset=a.offset,
                strides=tuple(a.strides),
            )
        if kind == "blob":
            return ("blob", self.blob(v.blob))
        if kind == "pickled":
            p = v.pickled
            payload = p.payload.inline if p.payload.which() == "inline" else self.blob(p.payload.blob)
            return ("pickled", payload, [self.blob(b) for b in p.buffers])
        raise AssertionError(f"unexpected kind {kind}")


def _same(got, want):
    """Equality that also holds for NaN, -0.0 (sign kept), arrays and order."""
    if isinstance(want, float):
        return isinstance(got, float) and (
            (math.isnan(want) and math.isnan(got)) or (got == want and math.copysign(1, got) == math.copysign(1, want))
        )
    if isinstance(want, np.ndarray):
        return (
            isinstance(got, np.ndarray)
            and got.dtype == want.dtype
            and got.shape == want.shape
            and (got.size == 0 or got.strides == want.strides)  # an empty array's strides mean nothing
            and np.array_equal(got, want)
        )
    if isinstance(want, (list, tuple)):
        return type(got) is type(want) and len(got) == len(want) and all(map(_same, got, want))
    if isinstance(want, dict):
        return type(got) is dict and list(got) == list(want) and all(_same(got[k], want[k]) for k in want)
    return type(got) is type(want) and got == want


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_pycapnp_decodes_the_same_value(samples, schema, name):
    body = (samples / f"{name}.body").read_bytes()
    # Limits as shoal's reader sets them: traversal from the message's own size.
    with schema.Frozen.from_bytes(body, traversal_limit_in_words=len(body) // 8 * 4, nesting_limit=3016) as message:
        got = Decoder(samples, name).value(message.value)
    assert _same(got, EXPECTED[name]), f"{name}: pycapnp read {got!r:.200}"


def test_every_sample_was_checked(samples):
    written = {p.name[: -len(".body")] for p in samples.glob("*.body")}
    assert written == set(EXPECTED), "the C++ samples and this file's expectations differ"
