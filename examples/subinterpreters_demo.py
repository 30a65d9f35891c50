"""Large arrays between isolated subinterpreters, on the default arena.

    python examples/subinterpreters_demo.py [--mib 256] [--workers 2]

The main interpreter fills one float64 array in shared memory (shoal.empty,
in the process's default arena) and splits it, without copying, across a
shoal.SubinterpreterExecutor: isolated subinterpreters, each with its own
GIL, so they compute in parallel on the very same bytes. The same work then
runs on a ThreadPoolExecutor (one GIL between the threads), on the stdlib
ProcessPoolExecutor given plain NumPy chunks (parallel, but every chunk is
pickled and copied into the worker process), and on shoal.ProcessPoolExecutor
given views of the shared array (they cross as handles). The work is pure Python (NumPy cannot be imported in
isolated subinterpreters today), and its values are small integers, so
every total is exact and must equal NumPy's.
"""

import argparse
import multiprocessing
import os
import sys
import time
from collections.abc import Buffer, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np

import shoal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo_work import ready, sum_of_squares  # noqa: E402 - the workers import it by this name too


def timed_map(pool: Executor, workers: int, chunks: Sequence[Buffer]) -> tuple[float, float]:
    """Total of sum_of_squares over `chunks` on `pool`, and the seconds it took.

    Every worker is started first, so that starting interpreters or
    processes is not counted as work."""
    list(pool.map(ready, range(workers * 4)))
    started = time.perf_counter()
    total = sum(pool.map(sum_of_squares, chunks))
    return total, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").strip().partition("\n")[0])
    parser.add_argument("--mib", type=int, default=256, help="array size in MiB (default 256)")
    parser.add_argument("--workers", type=int, default=2, help="workers of each executor (default 2)")
    args = parser.parse_args()
    workers = args.workers

    n = args.mib * (1 << 20) // 8
    buffer = shoal.empty((n,), dtype="float64")
    np.asarray(buffer)[:] = np.arange(n, dtype=np.float64) % 1000  # filled in place, in shared memory
    buffer.seal()  # read-only from here: its views may go anywhere (a writable one alive could not)
    array = np.asarray(buffer)
    expected = float((array * array).sum())
    arena = shoal.default_arena()
    print(f"{args.mib} MiB float64 array in the default arena '{arena.name}' "
          f"(used {shoal.format_size(arena.used)} of {shoal.format_size(arena.size)})")

    # Slices of the shared array: views, not copies. Sending one through the
    # executor sends a handle to the same bytes.
    pieces = workers * 4
    bounds = [(n * p // pieces, n * (p + 1) // pieces) for p in range(pieces)]
    view = memoryview(buffer)
    shared_chunks = [view[a:b] for a, b in bounds]
    array_chunks = [array[a:b] for a, b in bounds]  # views: cross to processes as handles
    copied_chunks = [np.array(chunk) for chunk in array_chunks]  # plain arrays: pickled, copied

    results: dict[str, tuple[float, float]] = {}
    with ThreadPoolExecutor(max_workers=1) as pool:
        results["one thread"] = timed_map(pool, 1, shared_chunks)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results[f"{workers} threads (one GIL)"] = timed_map(pool, workers, shared_chunks)
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=spawn) as pool:
        results[f"{workers} processes (chunks pickled)"] = timed_map(pool, workers, copied_chunks)
    del copied_chunks
    with shoal.ProcessPoolExecutor(max_workers=workers) as pool:
        results[f"{workers} processes (shoal, shared)"] = timed_map(pool, workers, array_chunks)
    with shoal.SubinterpreterExecutor(max_workers=workers) as pool:
        results[f"{workers} isolated subinterpreters"] = timed_map(pool, workers, shared_chunks)

    for label, (total, _) in results.items():
        if total != expected:
            sys.exit(f"{label}: sum {total} != {expected}")
    baseline = results["one thread"][1]
    print(f"sum of squares of {n:,} values in pure Python, checked against NumPy:")
    for label, (_, seconds) in results.items():
        note = "   (array shared, not copied)" if "subinterpreters" in label or "shared" in label else ""
        print(f"  {label:34s} {seconds:7.3f} s   speed-up {baseline / seconds:4.2f}x{note}")
    del array, array_chunks, shared_chunks, view, buffer
    print(f"after the array is dropped: arena used {shoal.format_size(shoal.default_arena().used)}")


if __name__ == "__main__":
    main()
