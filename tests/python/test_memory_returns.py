"""Memory comes back: one live Buffer does not pin the ledger blocks of the
thousands freed before it, and freed pages go back to /dev/shm, so the
segment's resident size follows what is in use (issue 22, items 4 and 6)."""

import gc
import os
import pathlib
import random

import shoal

MiB = 1024 * 1024
# A ledger block: a 64-byte header, a 64-byte chunk header, 1020 entries of 16 bytes.
LEDGER_BLOCK = 64 + 64 + 1020 * 16


def resident(name):
    """Bytes of tmpfs backing the arena's segment."""
    return os.stat(pathlib.Path("/dev/shm") / f"shoal.{name}").st_blocks * 512


def test_one_live_buffer_does_not_pin_the_ledger(arena_name):
    # The probe: 25,000 small buffers, all freed but one, in a small arena.
    with shoal.Arena("9MiB", name=arena_name) as arena:
        arena.empty(64, "uint8")  # made and dropped: the ledger exists before the baseline
        baseline = arena.stats()["used"]
        buffers = [arena.empty((13,), "float64") for _ in range(25_000)]
        assert arena.stats()["used"] > baseline + 20 * LEDGER_BLOCK
        kept = buffers[-1]
        del buffers
        gc.collect()
        stats = arena.stats()
        # The first ledger block stays (the baseline has it); the one holding
        # `kept` is the only other. Its own block is at most 256 bytes.
        assert stats["used"] <= baseline + LEDGER_BLOCK + 256, stats
        assert arena.check() == []
        big = arena.empty(4 * MiB, "uint8")  # refused before: 83% fragmentation
        del big, kept
        assert arena.check() == []


def test_resident_memory_follows_use(arena_name):
    # Varied sizes through phases that grow and shrink: the segment's pages
    # never exceed what is used by more than 64 MiB.
    rng = random.Random(6)
    with shoal.Arena("768MiB", name=arena_name) as arena:
        live = []
        worst = 0
        for target in (300 * MiB, 20 * MiB, 200 * MiB, 0):
            for step in range(600):
                used = arena.stats()["used"]
                if (used < target and rng.random() < 0.75) or (used >= target and rng.random() < 0.25) or not live:
                    n = rng.choice((rng.randrange(64, 8192), rng.randrange(64 * 1024, 4 * MiB),
                                    rng.randrange(8 * MiB, 24 * MiB)))
                    try:
                        buf = arena.empty(n, "uint8")
                    except shoal.ArenaFull:
                        continue
                    memoryview(buf).cast("B")[::4096] = b"\x5a" * len(range(0, n, 4096))  # touch every page
                    live.append(buf)
                else:
                    live.pop(rng.randrange(len(live)))
                if step % 20 == 0:
                    worst = max(worst, resident(arena_name) - arena.stats()["used"])
        live.clear()
        worst = max(worst, resident(arena_name) - arena.stats()["used"])
        assert worst <= 64 * MiB, f"resident exceeded used by {worst / MiB:.1f} MiB"
        assert arena.check() == []
