"""shoal: a shared-memory arena for CPython subinterpreters and processes.

Values placed in an arena once can be read in place by every interpreter and
process attached to it. The arena itself:

    import shoal

    with shoal.Arena("64MiB") as arena:        # creates /dev/shm/shoal.py-PID-N
        other = shoal.Arena.attach(arena.name)  # elsewhere: another process
        print(arena.stats())

The creating Arena runs an embedded broker that reclaims what dead processes
held; ``shoal-broker --name NAME --size SIZE`` does the same as a daemon.
Buffers and channels (first increment):

    buf = arena.empty((1000, 3), dtype="float64")   # writable, in shared memory
    numpy.asarray(buf)[:] = 1.0                      # fill in place
    ch = shoal.Channel(capacity=64, arena=arena)
    ch.send({"points": buf, "n": 1000})              # no copy: buf is read-only from now on
    value = ch.recv()                                # the same memory, read-only

``Channel.try_send``/``try_recv`` raise ``Full``/``Empty``; waits that run out
of time raise ``TimeoutError``. Buffers, NumPy arrays over them and Channels pickle
by reference on one host (``shoal._pickling``; ``pickle_lifetime``).
CSP completions:

    ch.poison()                     # ends it at once: pending values dropped, every
                                    # send/recv anywhere raises ChannelPoisoned
    channel, value = shoal.select(a, b, c, timeout=1.0)  # whichever is ready first

``select`` is fair (each round starts at a random channel), reports a closed
and drained or poisoned channel as ``ChannelClosed``/``ChannelPoisoned`` with
``.channel`` set to it, and needs channels of one arena.
Awaited, under asyncio or Trio (so on anyio's two backends too;
``shoal/_channel_async.py``): the loop is woken through an eventfd, no
thread per waiter, no polling; a cancelled call has taken or given nothing.

    value = await ch.arecv(timeout=None)
    await ch.asend(value, timeout=None)
    async for value in ch: ...      # ends at close; a poisoned channel raises
    channel, value = await shoal.aselect(a, b, c, timeout=1.0)

With ``arena=None`` (``shoal.empty``, ``shoal.Channel``) they use
``shoal.default_arena()``: one arena per process, shared by all its
interpreters; ``SHOAL_ARENA=NAME`` attaches that arena instead, and
``SHOAL_ARENA_SIZE`` sizes the one created (default 1GiB, sparse).

Errors derive from ``ShoalError`` and from the built-in that fits:
``ArenaFull`` is a ``MemoryError``, ``ArenaNotFound`` a ``FileNotFoundError``,
``ArenaExists`` a ``FileExistsError``, ``ArenaPermissionError`` a
``PermissionError``, ``NotAnArena`` and ``InvalidHandle`` are ``ValueError``s,
``ShoalTimeout`` is a ``TimeoutError``, ``Full`` a ``queue.Full`` and ``Empty`` a
``queue.Empty`` (``ChannelClosed`` is a ``ShoalError`` only). A malformed argument (a bad size
string, a bad name) raises a plain ``ValueError``. A send, recv or select
that would wait while the process exits raises ``ProcessExiting``, a
``SystemExit`` (``shoal._exit``).
"""

from shoal import _shoal
from shoal._shoal import (
    Arena,
    ArenaExists,
    ArenaFull,
    ArenaNotFound,
    ArenaPermissionError,
    Buffer,
    Channel,
    ChannelClosed,
    ChannelPoisoned,
    CorruptArena,
    CorruptObject,
    Empty,
    ForeignHandle,
    Full,
    InvalidHandle,
    NotAnArena,
    PickleExpired,
    ProcessExiting,
    ShoalError,
    ShoalTimeout,
    TooManyHolders,
    default_arena,
    empty,
    format_size,
    freeze,
    parse_size,
    select,
)

from shoal._channel_async import aselect
from shoal._frozen import FrozenDict, FrozenList, FrozenSet, FrozenTuple

if _shoal._interp_current() == _shoal._interp_main():  # NumPy loads in no other interpreter
    from shoal._pickling import install_numpy_reducer as _install_numpy_reducer

    _install_numpy_reducer()

    # Only the main interpreter's shutdown ends the process (shoal/_exit.py).
    from shoal import _exit

    _exit.install()

__all__ = [
    "Arena",
    "ProcessPoolExecutor",
    "SubinterpreterExecutor",
    "ArenaExists",
    "ArenaFull",
    "ArenaNotFound",
    "ArenaPermissionError",
    "Buffer",
    "Channel",
    "ChannelClosed",
    "ChannelPoisoned",
    "CorruptArena",
    "CorruptObject",
    "Empty",
    "ForeignHandle",
    "Full",
    "InvalidHandle",
    "NotAnArena",
    "ProcessExiting",
    "ShoalError",
    "ShoalTimeout",
    "TooManyHolders",
    "default_arena",
    "empty",
    "format_size",
    "freeze",
    "FrozenDict",
    "FrozenList",
    "FrozenSet",
    "FrozenTuple",
    "interpreters",
    "parse_size",
    "PickleExpired",
    "get_pickle_lifetime",
    "pickle_lifetime",
    "set_pickle_lifetime",
    "select",
    "aselect",
]


def __getattr__(name):
    # Imported on first use: every new interpreter imports shoal, and most
    # never need the executor (and concurrent.futures with it).
    if name == "SubinterpreterExecutor":
        from shoal.executor import SubinterpreterExecutor

        return SubinterpreterExecutor
    if name in ("get_pickle_lifetime", "pickle_lifetime", "set_pickle_lifetime"):
        from shoal import _pickling

        return getattr(_pickling, name)
    if name == "ProcessPoolExecutor":
        from shoal.process_pool import ProcessPoolExecutor

        return ProcessPoolExecutor
    if name == "interpreters":
        import shoal.interpreters

        return shoal.interpreters
    raise AttributeError(f"module 'shoal' has no attribute {name!r}")
