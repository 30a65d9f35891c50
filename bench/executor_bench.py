"""SubinterpreterExecutor beside the stdlib executors: parallel speed-up and per-task overhead.

    python bench/executor_bench.py [--quick] [--mib 128]

In one run, side by side:
1. CPU-bound pure-Python work (sum of squares, one bytecode loop per float64)
   over chunks of one large array, as speed-up of N workers over one worker
   of the same executor, and over one plain thread: SubinterpreterExecutor
   (chunks are memoryview slices of a shoal.empty array: handles, not
   copies), ThreadPoolExecutor (same slices, one GIL), ProcessPoolExecutor
   (spawn; chunks are NumPy slices, pickled into each worker), and
   concurrent.futures.InterpreterPoolExecutor where this Python has it (3.14+).
2. The round trip of submitting a no-op task and getting its result
   (p50 and p99 over many), for each executor.

Raw numbers go to bench/results/executor.json; progress to stderr.
Workers are started before any clock starts.
"""

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import shoal  # noqa: E402
from executor_work import noop, sum_of_squares  # noqa: E402 - workers import it by this name


def progress(message):
    print(message, file=sys.stderr, flush=True)


def executors(workers):
    """(name, factory) of every executor measured; factory None if unavailable."""
    spawn = multiprocessing.get_context("spawn")
    pool_cls = getattr(concurrent.futures, "InterpreterPoolExecutor", None)
    return [
        ("SubinterpreterExecutor", lambda: shoal.SubinterpreterExecutor(max_workers=workers)),
        ("ThreadPoolExecutor", lambda: concurrent.futures.ThreadPoolExecutor(max_workers=workers)),
        ("ProcessPoolExecutor", lambda: concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=spawn)),
        ("InterpreterPoolExecutor", (lambda: pool_cls(max_workers=workers)) if pool_cls else None),
    ]


def warm(pool, workers):
    list(pool.map(noop, range(workers * 4)))


def compute_seconds(name, factory, chunks_shared, chunks_pickled, repeats):
    chunks = chunks_pickled if name in ("ProcessPoolExecutor", "InterpreterPoolExecutor") else chunks_shared
    with factory() as pool:
        warm(pool, 2)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            total = sum(pool.map(sum_of_squares, chunks))
            times.append(time.perf_counter() - started)
    return statistics.median(times), total


def round_trip_us(factory, count):
    with factory() as pool:
        warm(pool, 1)
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            pool.submit(noop).result()
            samples.append((time.perf_counter() - started) * 1e6)
    samples.sort()
    return samples[len(samples) // 2], samples[int(len(samples) * 0.99)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small array, few repeats (a smoke run)")
    parser.add_argument("--mib", type=int, default=128, help="array size in MiB (default 128)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--output", default=os.path.join(HERE, "results", "executor.json"))
    args = parser.parse_args()
    mib = 8 if args.quick else args.mib
    repeats = 1 if args.quick else 3
    trips = 300 if args.quick else 3000
    workers = args.workers

    n = mib * (1 << 20) // 8
    buffer = shoal.empty((n,), dtype="float64")
    array = np.asarray(buffer)
    array[:] = np.arange(n, dtype=np.float64) % 1000
    expected = float((array * array).sum())
    pieces = workers * 4
    bounds = [(n * p // pieces, n * (p + 1) // pieces) for p in range(pieces)]
    view = memoryview(buffer)
    shared = [view[a:b] for a, b in bounds]
    pickled = [array[a:b] for a, b in bounds]

    progress(f"one plain thread over {mib} MiB ...")
    started = time.perf_counter()
    assert sum(sum_of_squares(c) for c in shared) == expected
    one_thread = time.perf_counter() - started

    rows = []
    for name, factory in executors(workers):
        if factory is None:
            rows.append({"executor": name, "available": False, "why": f"not in Python {platform.python_version()}"})
            continue
        progress(f"{name}: 1 worker, {workers} workers, no-op round trips ...")
        one_factory = dict(executors(1))[name]
        one_worker, total1 = compute_seconds(name, one_factory, shared, pickled, repeats)
        many, total = compute_seconds(name, factory, shared, pickled, repeats)
        if total != expected or total1 != expected:
            sys.exit(f"{name}: wrong total {total} / {total1}, expected {expected}")
        p50, p99 = round_trip_us(factory, trips)
        rows.append({
            "executor": name, "available": True, "workers": workers,
            "one_worker_s": one_worker, "workers_s": many,
            "speedup_over_one_worker": one_worker / many, "speedup_over_one_thread": one_thread / many,
            "noop_round_trip_p50_us": p50, "noop_round_trip_p99_us": p99,
        })

    machine = {
        "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
        "python": platform.python_version(), "platform": platform.platform(),
    }
    try:
        with open("/proc/cpuinfo") as f:
            machine["cpu"] = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass

    print(f"\nCPU-bound pure Python over {mib} MiB in {pieces} chunks, {workers} workers "
          f"({machine['cpu']}, {machine['cores']} cores, Python {machine['python']})")
    print(f"one plain thread: {one_thread:.3f} s")
    header = f"{'executor':26s} {'1 worker':>9s} {f'{workers} workers':>10s} {'speed-up':>9s} {'vs thread':>9s} {'no-op p50':>10s} {'p99':>9s}"
    print(header)
    print("-" * len(header))
    for r in rows:
        if not r["available"]:
            print(f"{r['executor']:26s} {r['why']}")
            continue
        print(f"{r['executor']:26s} {r['one_worker_s']:8.3f}s {r['workers_s']:9.3f}s {r['speedup_over_one_worker']:8.2f}x "
              f"{r['speedup_over_one_thread']:8.2f}x {r['noop_round_trip_p50_us']:8.1f}us {r['noop_round_trip_p99_us']:7.1f}us")
    ours = next(r for r in rows if r["executor"] == "SubinterpreterExecutor")
    print(f"\ntargets: speed-up >= 1.9x on 2 cores: {ours['speedup_over_one_worker']:.2f}x "
          f"({'MET' if ours['speedup_over_one_worker'] >= 1.9 else 'NOT MET'}); "
          f"no-op round trip < 50 us: {ours['noop_round_trip_p50_us']:.1f} us "
          f"({'MET' if ours['noop_round_trip_p50_us'] < 50 else 'NOT MET'})")

    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump({"machine": machine, "mib": mib, "quick": args.quick, "one_thread_s": one_thread, "rows": rows}, f, indent=2)
    progress(f"raw numbers: {args.output}")


if __name__ == "__main__":
    main()
