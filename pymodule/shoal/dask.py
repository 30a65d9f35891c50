"""shoal.dask: arena memory through Dask's distributed comms.

Importing this module teaches ``distributed`` to move shoal memory: a
``shoal.Buffer`` and a NumPy array viewing arena memory (and, once enabled,
any large NumPy array) cross between two processes of one host as a handle
(a pickle of a few hundred bytes, see ``shoal._pickling``) rather than as
their bytes; between hosts they cross as ordinary frames and the receiver
places them in its own host's arena, so the next hop on that host is a
handle again::

    import shoal.dask
    from distributed import Client, LocalCluster

    client = Client(LocalCluster(n_workers=2, processes=True))
    shoal.dask.enable(client, arrays=True)   # every worker, now and later

Which way a value crosses is decided per connection by the sender. When two
Dask processes connect they exchange a handshake (``Comm.handshake_info``);
this module adds to it what a peer must share with us to read our arena
memory in place (``host_identity``): the host's boot id (what every shoal
handle is checked against), the ``/dev/shm`` it sees (a container or a
mount namespace may have its own, where our arena files do not exist) and
the user (arenas are mode 0600). A peer that sent the same identity gets
handles; a peer that sent another gets frames, placed in its arena; a peer
that sent none (no ``shoal.dask`` there) gets what Dask would send without
shoal. The receiver checks again as it redeems the handle (boot id, arena
name and identity): a handle is never followed to the wrong memory.

Lifetimes are shoal's in-flight rules: a handle is an in-flight reference
held by the arena until the pickle's lifetime ends (``shoal.pickle_lifetime``,
60 s by default), shared by every pickle of the same block; the receiver
holds its own reference from the moment it unpickles. A worker killed
anywhere in a transfer leaves nothing behind: its own references go with its
holder, and the in-flight one at its deadline. When the arena's in-flight
table is full, or a Buffer still has a writable view alive (its bytes are not
final, so they are not shared), the value crosses as frames instead.

Arrays arrive read-only, as everywhere in shoal.

Where the workers' memory lives: each worker uses its default arena
(``shoal.default_arena()``: ``SHOAL_ARENA=NAME`` in its environment attaches
that arena, else it creates its own). ``enable(client, arena=...)`` makes the
workers that can reach the given arena (same host, same ``/dev/shm``) use it
instead, so one arena, owned by the client's process and its broker, holds
the whole host's Dask data.
"""

import os
import pickle
import socket

import numpy

from distributed.comm.core import Comm
from distributed.diagnostics.plugin import WorkerPlugin
from distributed.protocol.serialize import dask_deserialize, dask_serialize, register_serialization_family

from shoal import _pickling, _shoal

__all__ = ["enable", "host_identity", "ShoalWorkerPlugin", "COPY_THRESHOLD", "HANDSHAKE_KEY"]

# With arrays enabled, NumPy arrays from this size up that are not arena
# memory are copied into the arena to cross as handles (below it, frames
# cost less than a block and a ticket).
COPY_THRESHOLD = 64 * 1024

# The handshake entry naming this process's host identity.
HANDSHAKE_KEY = "shoal-host"

# Whether plain NumPy arrays (not arena memory) are moved through the arena
# too; set by enable(arrays=True) in this process.
_arrays = False


# ---------------------------------------------------- who may share ----


def host_identity():
    """What a peer must share with this process to read its arena memory in
    place: this host's boot id (as in every pickled handle), the identity of
    the ``/dev/shm`` this process sees, and its user."""
    shm = os.stat("/dev/shm")
    # Plain strings and ints: the handshake goes through msgpack, which
    # would give a list back as a tuple.
    return {"boot-id": _shoal._boot_id(), "shm": f"{shm.st_dev}:{shm.st_ino}", "uid": os.getuid(), "host": socket.gethostname()}


def _peer_of(context):
    """How the recipient of a message relates to us: "same" (it reads our
    arena memory in place), "other" (it has shoal.dask, on another host or
    /dev/shm), or None (no shoal.dask there, or no recipient: spilling)."""
    recipient = (context or {}).get("recipient") or {}
    theirs = recipient.get(HANDSHAKE_KEY)
    if not isinstance(theirs, dict):
        return None
    mine = host_identity()
    same = all(theirs.get(key) == mine[key] for key in ("boot-id", "shm", "uid"))
    return "same" if same else "other"


def _install_handshake():
    """Adds this process's host identity to every Dask handshake it makes
    from now on (connections made before keep what they exchanged: their
    peers get frames)."""
    original = Comm.handshake_info
    if getattr(original, "_shoal", False):
        return

    def handshake_info(self):
        info = original(self)
        info[HANDSHAKE_KEY] = host_identity()
        return info

    handshake_info._shoal = True
    Comm.handshake_info = handshake_info


# ------------------------------------------------------- serializing ----


def _arena_value(x):
    """(kind, value to send) for what shoal moves: a Buffer, an array of
    arena memory, or (with arrays enabled) another large plain array; None
    for anything else, which Dask serializes as it would without shoal."""
    if type(x) is _shoal.Buffer:
        return "buffer", x
    if type(x) is not numpy.ndarray or not _pickling.plain_dtype(x.dtype):
        return None
    if _pickling.arena_buffer_of(x) is not None:
        return "arena-array", x
    if _arrays and x.nbytes >= COPY_THRESHOLD:
        return "array", x
    return None


def dumps(x, context=None):
    """The "shoal" serialization family's dumps: (header, frames), or
    NotImplementedError for a value shoal does not move."""
    found = _arena_value(x)
    if found is None:
        raise NotImplementedError(type(x).__name__)
    kind, value = found
    peer = _peer_of(context)
    if peer == "same":
        pickled = _by_handle(kind, value)
        if pickled is not None:
            return {"shoal": "handle"}, [pickled]
    elif peer is None and kind != "buffer":
        raise NotImplementedError(type(x).__name__)  # an array: Dask's own frames
    array = numpy.asarray(value)
    return {"shoal": "frames", "dtype": array.dtype.str, "shape": list(array.shape)}, [
        memoryview(numpy.ascontiguousarray(array)).cast("B")
    ]


def _by_handle(kind, value):
    """The pickle of ``value`` by reference (an in-flight ticket), or None
    when it must cross as bytes: the arena's in-flight table is full, it
    has no room for a copy, or a writable view of the Buffer is alive."""
    try:
        if kind == "array":
            value = _copy_into_arena(value)
        return pickle.dumps(value, protocol=5)
    except (MemoryError, BufferError, TypeError, ValueError):
        return None


def _copy_into_arena(array):
    copy = _shoal.empty(array.shape, array.dtype.str)
    numpy.copyto(numpy.asarray(copy), array, casting="no")
    copy.seal()
    return copy


def loads(header, frames):
    """The "shoal" family's loads: a read-only NumPy array of the same memory
    (a handle) or of a copy in this process's arena (frames)."""
    if header.get("shoal") == "handle":
        return pickle.loads(frames[0])  # redeems: checks host, arena and ticket
    if header.get("shoal") == "frames":
        return _place(numpy.dtype(header["dtype"]), tuple(header["shape"]), frames)
    raise ValueError(f"shoal.dask: a message this version cannot read: {header!r}")


def _place(dtype, shape, frames):
    """The array of ``frames`` (its bytes, possibly in several frames)
    copied into this process's arena, read-only; a plain NumPy array when
    the arena has no room."""
    data = frames[0] if len(frames) == 1 else b"".join(frames)
    source = numpy.frombuffer(data, dtype=dtype).reshape(shape)
    try:
        buffer = _shoal.empty(shape, dtype.str)
    except MemoryError:
        copy = source.copy()
        copy.flags.writeable = False
        return copy
    numpy.copyto(numpy.asarray(buffer), source, casting="no")
    buffer.seal()
    return numpy.asarray(buffer)


# Dask's serializer lists name families ("dask", "pickle" by default): the
# "shoal" family is for those who list it first; the default list reaches
# the same code through the "dask" family's per-type registry below.
register_serialization_family("shoal", dumps, loads)

_numpy_dumps = dask_serialize.dispatch(numpy.ndarray)  # distributed's own (a lazy registration: made now)
_numpy_loads = dask_deserialize.dispatch(numpy.ndarray)


@dask_serialize.register(_shoal.Buffer)
def _serialize_buffer(x, context=None):
    return dumps(x, context=context)


@dask_deserialize.register(_shoal.Buffer)
def _deserialize_buffer(header, frames):
    return loads(header, frames)


@dask_serialize.register(numpy.ndarray)
def _serialize_ndarray(x, context=None):
    try:
        return dumps(x, context=context)
    except NotImplementedError:
        return _numpy_dumps(x, context=context)


@dask_deserialize.register(numpy.ndarray)
def _deserialize_ndarray(header, frames):
    if "shoal" in header:
        return loads(header, frames)
    return _numpy_loads(header, frames)


_install_handshake()


# -------------------------------------------------------- the workers ----


class ShoalWorkerPlugin(WorkerPlugin):
    """Sets a worker up for shoal (``enable`` registers it): imports
    shoal.dask there (the worker's handshakes carry its host identity from
    then on), moves plain arrays through the arena if ``arrays``, and makes
    ``arena`` (a name) the worker's default arena where it is reachable."""

    idempotent = False
    name = "shoal"

    def __init__(self, arrays=False, arena=None, boot_id=None):
        self.arrays = arrays
        self.arena = arena
        self.boot_id = boot_id

    def setup(self, worker):
        _enable_here(self.arrays)
        if self.arena is not None and self.boot_id == _shoal._boot_id():
            try:
                _shoal._use_default_arena(self.arena)
            except (_shoal.ArenaNotFound, _shoal.InvalidHandle, ValueError):
                pass  # another /dev/shm, or a default arena already in use: the worker keeps its own


def _enable_here(arrays):
    global _arrays
    _arrays = bool(arrays)


def enable(client=None, *, arrays=False, arena=None):
    """Moves shoal memory through Dask by handle on one host (see the module).

    In this process, and in every worker of ``client`` (a
    ``distributed.Client``) now and later: ``arrays=True`` moves large NumPy
    arrays that are not arena memory through the arena too (copied into it
    once per transfer); ``arena`` (a ``shoal.Arena`` or its name) becomes the
    default arena of every worker that can reach it. Returns the plugin
    registered, or None without a client."""
    _enable_here(arrays)
    if client is None:
        return None
    name = arena.name if isinstance(arena, _shoal.Arena) else arena
    plugin = ShoalWorkerPlugin(arrays=arrays, arena=name, boot_id=_shoal._boot_id())
    client.register_plugin(plugin)
    return plugin
