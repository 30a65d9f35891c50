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
import struct
import subprocess

import pytest

capnp = pytest.importorskip("capnp", reason="pycapnp is not installed for this Python (pip install pycapnp)")
np = pytest.importorskip("numpy")

REPO = pathlib.Path(__file__).resolve().parents[2]
SCHEMA = REPO / "schemas" / "value.capnp"


def _pattern(n):
    return bytes(i % 251 for i in range(n))


# The samples, as Python values. Arrays are NumPy arrays; a raw blob and a
# pickle come back as ("blob", bytes) and ("pickled", payload, (buffers...)).
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
    "pickled": ("pickled", b"PICKLE-PAYLOAD", (b"first buffer", _pattern(5000))),
    "deep": [7],
    "big_dict": {f"key{i}": i for i in range(1000)},
}
_deep = 7
for _ in range(100):
    _deep = [_deep]
EXPECTED["deep"] = _deep
EXPECTED["indexed_containers"] = EXPECTED["containers"]
EXPECTED["indexed_big_dict"] = EXPECTED["big_dict"]
_KEY_KINDS = [None, True, -7, 2.5, 1e300, -0.5, 2**64, "text", "k" * 4106, b"text", _pattern(4097), (1, "a"),
              frozenset({3, 4}), ("pickled", b"PICKLED-KEY", ())]
EXPECTED["indexed_key_kinds"] = {k: i for i, k in enumerate(_KEY_KINDS)}
EXPECTED["indexed_sets"] = [set(_KEY_KINDS), frozenset({"x"}), set()]


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
        if kind == "indexedSet":
            return {self.value(x) for x in v.indexedSet.items}
        if kind == "indexedFrozenset":
            return frozenset(self.value(x) for x in v.indexedFrozenset.items)
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
            return ("pickled", payload, tuple(self.blob(b) for b in p.buffers))
        raise AssertionError(f"unexpected kind {kind}")

    # The stable hash, written from schemas/value.capnp's description alone.
    def stable_hash(self, v):
        """The documented stable hash of frozen value `v`, or None."""
        kind = v.which()
        if kind == "none":
            return _hash(b"z")
        if kind in ("boolean", "int64"):
            return _int_hash(int(getattr(v, kind)))
        if kind == "bigInt":
            return _int_hash(self.value(v))
        if kind == "float64":
            f = v.float64
            if math.isfinite(f) and f == int(f):
                return _int_hash(int(f))
            return _hash(b"f" + struct.pack("<d", f))
        if kind in ("text", "textBlob"):
            return _hash(b"s" + self.value(v).encode("utf-8"))
        if kind in ("bytes", "bytesBlob"):
            return _hash(b"b" + self.value(v))
        if kind == "tuple":
            hashes = [self.stable_hash(x) for x in v.tuple]
            return None if None in hashes else _hash(b"t" + b"".join(struct.pack("<Q", h) for h in hashes))
        if kind in ("frozenset", "indexedFrozenset"):
            items = v.frozenset if kind == "frozenset" else v.indexedFrozenset.items
            hashes = [self.stable_hash(x) for x in items]
            if None in hashes:
                return None
            return _hash(b"S" + struct.pack("<Q", sum(_fmix64(h) for h in hashes) & _M64))
        return None


_M64 = 2**64 - 1


def _fmix64(h):
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & _M64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _M64
    return h ^ (h >> 33)


def _hash(form):
    h = 0xCBF29CE484222325
    for byte in form:
        h = ((h ^ byte) * 0x100000001B3) & _M64
    return _fmix64(h)


def _int_hash(n):
    if -(2**63) <= n < 2**63:
        return _hash(b"i" + n.to_bytes(8, "little", signed=True))
    magnitude = abs(n).to_bytes((abs(n).bit_length() + 7) // 8, "little")
    return _hash(b"n" + (b"\x01" if n < 0 else b"\x00") + magnitude)


def _probe(slots, h, is_entry):
    """The entry the documented linear probe finds for hash `h`, or None."""
    mask = len(slots) - 1
    at = h & mask
    for _ in range(len(slots)):
        slot = slots[at]
        if slot == 0:
            return None
        if slot >> 32 == h >> 32 and is_entry((slot & 0xFFFFFFFF) - 1):
            return (slot & 0xFFFFFFFF) - 1
        at = (at + 1) & mask
    return None


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


def _indexed_containers(decoder, v):
    """(keys, index, unhashed) of every indexed dict and set inside `v`."""
    kind = v.which()
    if kind == "dict":
        yield list(v.dict.keys), list(v.dict.index), list(v.dict.unhashed)
        for x in v.dict.values:
            yield from _indexed_containers(decoder, x)
    elif kind in ("indexedSet", "indexedFrozenset"):
        s = getattr(v, kind)
        yield list(s.items), list(s.index), list(s.unhashed)
    elif kind in ("list", "tuple"):
        for x in getattr(v, kind):
            yield from _indexed_containers(decoder, x)


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if n.startswith("indexed_")))
def test_the_documented_hash_finds_every_key_through_the_index(samples, schema, name):
    body = (samples / f"{name}.body").read_bytes()
    with schema.Frozen.from_bytes(body, traversal_limit_in_words=2**63, nesting_limit=3016) as message:
        decoder = Decoder(samples, name)
        containers = list(_indexed_containers(decoder, message.value))
        assert containers, "an indexed sample has at least one dict or set"
        for keys, slots, unhashed in containers:
            assert slots and len(slots) & (len(slots) - 1) == 0, "a power-of-two table"
            assert len(slots) * 3 >= len(keys) * 4, "at most 3/4 full"
            no_hash = []
            for i, key in enumerate(keys):
                h = decoder.stable_hash(key)
                if h is None:
                    no_hash.append(i)
                else:
                    assert _probe(slots, h, lambda e: e == i) == i, f"key {i} ({decoder.value(key)!r:.40}) not found"
            assert unhashed == no_hash


def test_every_sample_was_checked(samples):
    written = {p.name[: -len(".body")] for p in samples.glob("*.body")}
    assert written == set(EXPECTED), "the C++ samples and this file's expectations differ"
