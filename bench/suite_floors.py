"""The machine's floors, measured in the same run: bench/floors.c (built
with the system cc: futex and spin round trips, memcpy, page touching, a
wake-up after a write, the parallel speed-up of a C loop), and shoal's own
send/recv and a queue.Queue put/get with nothing waiting."""

import json
import statistics
import subprocess
import time

import shoal

from machine import build_floors
from suite_common import GiB, KiB, MiB, fmt_size, fmt_t, log


def floor_now(mode, key, roundtrips=0, timeout=60):
    """One of floors.c's single measurements ("spin", "parallel") taken
    now, or None where it cannot be."""
    try:
        exe = build_floors()
        if not exe:
            return None
        out = subprocess.run([exe, "0", str(roundtrips), mode], check=True, capture_output=True, text=True,
                             timeout=timeout)
        return json.loads(out.stdout)[key]
    except (subprocess.SubprocessError, ValueError, KeyError):
        return None


def spin_round_trip_now():
    """The C spin round trip between two processes, measured now (2,000
    round trips): how far apart the machine has placed our two CPUs at this
    moment. On this project's virtual machines it moves between about 0.1
    and several tenths of a microsecond over minutes, and small-message
    throughput moves with it."""
    return floor_now("spin", "spin_rt_p50_s", roundtrips=2000, timeout=30)


def parallel_floor_now():
    """floors.c's parallel floor measured now: the speed-up a CPU-bound C
    loop gets from the two CPUs at this moment (the host's other work
    moves it), or None."""
    return floor_now("parallel", "parallel_speedup")


def run_floors(env):
    size = 64 * MiB if env.quick else GiB
    try:
        exe = build_floors()
        if not exe:
            return {"na": "no C compiler (cc) on PATH"}
        out = subprocess.run([exe, str(size), "5000" if env.quick else "20000"], check=True,
                             capture_output=True, text=True, timeout=120)
        r = json.loads(out.stdout)
        r["shoal_alone"] = shoal_alone([KiB, size])
        r["queue_alone"] = queue_alone([KiB, size])
        log(f"  futex round trip {fmt_t(r['futex_rt_p50_s'])}, spin {fmt_t(r['spin_rt_p50_s'])}, memcpy "
            f"{fmt_size(size)} {fmt_t(r['memcpy_s'])}, touch {fmt_t(r['touch_shm_s'])}")
        return r
    except subprocess.CalledProcessError as e:
        return {"error": f"failed: {(e.stderr or '')[:300]}"}


def shoal_alone(sizes):
    """shoal's own send and recv of an arena buffer in one interpreter, with
    nothing waiting: what a hand-off costs before any wake-up."""
    import numpy as np
    ch = shoal.Channel(capacity=2)
    out = {}
    for size in sizes:
        sends, recvs = [], []
        for _ in range(5):
            buf = shoal.empty((size // 8,), dtype="float64")
            np.asarray(buf)[:] = 1.0
            a = time.perf_counter()
            ch.send(buf)
            b = time.perf_counter()
            got = ch.recv()
            c = time.perf_counter()
            del got, buf
            sends.append(b - a)
            recvs.append(c - b)
        out[str(size)] = {"send_s": statistics.median(sends), "recv_s": statistics.median(recvs)}
    return out


def queue_alone(sizes):
    """queue.Queue put and get of a NumPy array just filled, as shoal_alone
    does it: no copy and no shared memory, only the cache and TLB state a
    producer leaves after writing `size` bytes. Beside shoal_alone it shows
    how much of a large hand-off is that state, not the hand-off."""
    import queue
    import numpy as np
    q = queue.Queue()
    out = {}
    for size in sizes:
        array = np.empty(size // 8, dtype="float64")
        puts, gets = [], []
        for _ in range(5):
            array[:] = 1.0
            a = time.perf_counter()
            q.put(array)
            b = time.perf_counter()
            q.get()
            c = time.perf_counter()
            puts.append(b - a)
            gets.append(c - b)
        del array
        out[str(size)] = {"put_s": statistics.median(puts), "get_s": statistics.median(gets)}
    return out
