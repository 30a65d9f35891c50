"""Large arrays between isolated subinterpreters, on the default arena.

    python examples/subinterpreters_demo.py [--mib 256] [--workers 2]

The main interpreter fills one float64 array in shared memory
(shoal.empty, in the process's default arena) and hands it, by channel, to
isolated subinterpreters: each has its own GIL, so they run in parallel,
and the array is not copied: every interpreter reads the same bytes. Each
worker sums the squares of its share in a pure-Python loop (NumPy cannot be
imported in isolated subinterpreters today) and sends the result back. The
same work then runs on threads of the main interpreter, which share one GIL.
(The values are small integers, so every partial sum is exact and all the
totals must equal NumPy's.)

Until the public interpreters API lands (shoal.interpreters, a later issue),
the demo drives CPython's own low-level module: _interpreters on 3.13,
_xxsubinterpreters on 3.12.
"""

import argparse
import inspect
import pickle
import sys
import threading
import time

import numpy as np

import shoal

if sys.version_info >= (3, 13):
    import _interpreters as lowlevel

    def new_isolated_interpreter():
        return lowlevel.create("isolated")

    def run_source(interp, source):
        failure = lowlevel.exec(interp, source)
        if failure is not None:
            raise RuntimeError(f"in subinterpreter {interp}:\n{failure.errdisplay}")

else:
    import _xxsubinterpreters as lowlevel

    def new_isolated_interpreter():
        return lowlevel.create(isolated=True)

    def run_source(interp, source):
        lowlevel.run_string(interp, source)

def sum_of_squares(values, start, stop):
    """The CPU-bound work: one bytecode loop per element."""
    total = 0.0
    for v in values[start:stop]:
        total += v * v
    return total


# What each worker interpreter runs: receive (buffer, start, stop), work on
# that slice of the shared array in place, send the result back. {inbox} and
# {outbox} are pickled channels (arena name and handle).
WORKER = """
import pickle, shoal
inbox = pickle.loads({inbox!r})
outbox = pickle.loads({outbox!r})
{work}
buffer, start, stop = inbox.recv()
values = memoryview(buffer)            # a read-only view of the same memory
outbox.send((start, sum_of_squares(values, start, stop)))
"""


def on_subinterpreters(buffer, workers):
    """Sums the array in `workers` isolated interpreters, one thread each."""
    inbox, outbox = shoal.Channel(capacity=workers), shoal.Channel(capacity=workers)
    interps = [new_isolated_interpreter() for _ in range(workers)]
    source = WORKER.format(inbox=pickle.dumps(inbox), outbox=pickle.dumps(outbox),
                           work=inspect.getsource(sum_of_squares))
    threads = [threading.Thread(target=run_source, args=(i, source)) for i in interps]
    started = time.perf_counter()
    for t in threads:
        t.start()
    n = buffer.shape[0]
    for w in range(workers):
        inbox.send((buffer, n * w // workers, n * (w + 1) // workers))  # no copy: a handle
    total = sum(outbox.recv()[1] for _ in range(workers))
    elapsed = time.perf_counter() - started
    for t in threads:
        t.join()
    for i in interps:
        lowlevel.destroy(i)
    return total, elapsed


def on_threads(buffer, workers):
    """The same sums on threads of this interpreter: one GIL between them."""
    values = memoryview(buffer)
    n = buffer.shape[0]
    results = [0.0] * workers

    def work(w):
        results[w] = sum_of_squares(values, n * w // workers, n * (w + 1) // workers)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(results), time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256, help="array size in MiB (default 256)")
    parser.add_argument("--workers", type=int, default=2, help="interpreters / threads (default 2)")
    args = parser.parse_args()

    n = args.mib * (1 << 20) // 8
    buffer = shoal.empty((n,), dtype="float64")
    array = np.asarray(buffer)
    array[:] = np.arange(n, dtype=np.float64) % 1000  # filled in place, in shared memory
    expected = float((array * array).sum())
    arena = shoal.default_arena()
    print(f"{args.mib} MiB float64 array in the default arena '{arena.name}' "
          f"(used {shoal.format_size(arena.used)} of {shoal.format_size(arena.size)})")

    sub_total, sub_time = on_subinterpreters(buffer, args.workers)
    thr_total, thr_time = on_threads(buffer, args.workers)
    one_total, one_time = on_threads(buffer, 1)
    for label, total in (("subinterpreters", sub_total), ("threads", thr_total), ("one thread", one_total)):
        if total != expected:
            sys.exit(f"{label}: sum {total} != {expected}")

    print(f"sum of squares of {n:,} values in pure Python, checked against NumPy:")
    print(f"  one thread                          {one_time:7.3f} s")
    print(f"  {args.workers} threads (one GIL)                {thr_time:7.3f} s   "
          f"speed-up {one_time / thr_time:4.2f}x")
    print(f"  {args.workers} isolated subinterpreters         {sub_time:7.3f} s   "
          f"speed-up {one_time / sub_time:4.2f}x   (array shared, not copied)")
    del array, buffer
    print(f"after the array is dropped: arena used {shoal.format_size(shoal.default_arena().used)}")


if __name__ == "__main__":
    main()
