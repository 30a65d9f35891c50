"""shoal: a shared-memory arena for CPython subinterpreters and processes.

Values placed in an arena once can be read in place by every interpreter and
process attached to it. This first increment exposes the arena itself:

    import shoal

    with shoal.Arena("64MiB") as arena:        # creates /dev/shm/shoal.py-PID-N
        other = shoal.Arena.attach(arena.name)  # elsewhere: another process
        print(arena.stats())

The creating Arena runs an embedded broker that reclaims what dead processes
held; ``shoal-broker --name NAME --size SIZE`` does the same as a daemon.
Buffers and channels come in a later increment. ``Arena._allocate`` and
``Arena._release`` are test and debug helpers until then.

Errors derive from ``ShoalError`` and from the built-in that fits:
``ArenaFull`` is a ``MemoryError``, ``ArenaNotFound`` a ``FileNotFoundError``,
``ArenaExists`` a ``FileExistsError``, ``ArenaPermissionError`` a
``PermissionError``, ``NotAnArena`` and ``InvalidHandle`` are ``ValueError``s,
``ShoalTimeout`` is a ``TimeoutError``. A malformed argument (a bad size
string, a bad name) raises a plain ``ValueError``.
"""

from shoal._shoal import (
    Arena,
    ArenaExists,
    ArenaFull,
    ArenaNotFound,
    ArenaPermissionError,
    ChannelClosed,
    CorruptArena,
    CorruptObject,
    InvalidHandle,
    NotAnArena,
    ShoalError,
    ShoalTimeout,
    TooManyHolders,
    format_size,
    parse_size,
)

__all__ = [
    "Arena",
    "ArenaExists",
    "ArenaFull",
    "ArenaNotFound",
    "ArenaPermissionError",
    "ChannelClosed",
    "CorruptArena",
    "CorruptObject",
    "InvalidHandle",
    "NotAnArena",
    "ShoalError",
    "ShoalTimeout",
    "TooManyHolders",
    "format_size",
    "parse_size",
]
