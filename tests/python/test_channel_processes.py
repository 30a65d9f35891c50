"""Many producers and consumers in separate processes: every item is
received exactly once, checked by checksums of the payloads, and the arena
is back at its baseline afterwards."""

import hashlib
import multiprocessing
import pickle

import pytest

import pickles

import shoal

PRODUCERS = 3
CONSUMERS = 3
PER_PRODUCER = 300


def _produce(channel_bytes, producer):
    channel = pickle.loads(channel_bytes)
    for i in range(PER_PRODUCER):
        payload = f"{producer}:{i}".encode() * (1 + i % 50)  # some above the inline limit
        channel.send((producer, i, hashlib.sha256(payload).hexdigest(), payload), timeout=60)


def _consume(channel_bytes, results_bytes):
    channel = pickle.loads(channel_bytes)
    results = pickle.loads(results_bytes)
    seen = []
    for producer, i, digest, payload in channel:
        ok = hashlib.sha256(payload).hexdigest() == digest
        seen.append((producer, i, ok))
    results.send(seen, timeout=60)


@pytest.fixture
def arena(arena_name):
    with shoal.Arena("256MiB", name=arena_name) as arena:
        yield arena


def test_every_item_exactly_once_across_processes(arena):
    baseline = arena.used
    channel = shoal.Channel(8, arena=arena)
    results = shoal.Channel(CONSUMERS, arena=arena)
    spawn = multiprocessing.get_context("spawn")
    consumers = [spawn.Process(target=_consume, args=(pickles.dumps(channel), pickles.dumps(results)))
                 for _ in range(CONSUMERS)]
    producers = [spawn.Process(target=_produce, args=(pickles.dumps(channel), p)) for p in range(PRODUCERS)]
    for process in consumers + producers:
        process.start()
    for process in producers:
        process.join(120)
        assert process.exitcode == 0
    channel.close()
    seen = []
    for _ in range(CONSUMERS):
        seen.extend(results.recv(timeout=120))
    for process in consumers:
        process.join(120)
        assert process.exitcode == 0

    assert all(ok for _, _, ok in seen), "a payload arrived damaged"
    assert sorted((p, i) for p, i, _ in seen) == [(p, i) for p in range(PRODUCERS) for i in range(PER_PRODUCER)]
    del channel, results
    assert arena.reap() == 0  # everyone detached cleanly
    pickles.release()  # the processes used them
    assert arena.used == baseline
    assert arena.check() == []
