"""The receiver's first read of a large buffer, between interpreters and processes.

A buffer in an explicitly created arena (``shoal.Arena``) is written whole
by the main interpreter, then handed to a receiver that reads one byte of
every page, timed:

* main again: the same interpreter reading again (its mapping's page tables
  are filled: the floor);
* subinterpreter: an isolated interpreter of the same process, given the
  buffer pickled (by reference) through ``prepare_main``. It attaches the arena itself; with one
  mapping per arena per process it reads through the mapping the main
  interpreter already faulted in;
* process: another process attaching the arena (a mapping of its own, every
  page faulted on first touch: what a fresh mapping costs).

Each receiver is new for each run (a fresh interpreter, a fresh process), so
every run is a first read. Reports the median of --runs runs and writes
bench/results/first_read.json and .md (--output to change)::

    python bench/first_read_bench.py [--mib 1024] [--runs 5]
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import textwrap
import time

import shoal
from shoal import interpreters

HERE = os.path.dirname(os.path.abspath(__file__))
PAGE = os.sysconf("SC_PAGE_SIZE")

# One byte of every page, in C (a strided memoryview copied to bytes): the
# cost measured is the page faults, not a Python loop.
READ_EVERY_PAGE = textwrap.dedent(f"""
    import time
    t = time.perf_counter()
    touched = bytes(memoryview(data).cast("B")[::{PAGE}])
    elapsed = time.perf_counter() - t
""")

PROCESS_READER = textwrap.dedent(f"""
    import sys, time, pickle
    import shoal
    data = pickle.loads(sys.stdin.buffer.read())
    t = time.perf_counter()
    touched = bytes(memoryview(data).cast("B")[::{PAGE}])
    print(time.perf_counter() - t)
""")


def mappings_of(name):
    """How many mappings of the arena's file this process has: /proc/self/maps
    lines naming its inode (the path shown is the one it was built under)."""
    inode = str(os.stat(f"/dev/shm/shoal.{name}").st_ino)
    with open("/proc/self/maps") as f:
        return sum(1 for line in f if line.split()[4:5] == [inode])


def read_in_main(data):
    namespace = {"data": data}
    exec(READ_EVERY_PAGE, namespace)
    return namespace["elapsed"]


def read_in_subinterpreter(data, name):
    import pickle

    with interpreters.create() as interp:
        # By reference (a pickled Buffer is a handle): the interpreter
        # attaches the arena itself, as a Task handed one would.
        interp.prepare_main(pickled=pickle.dumps(data, 5))
        interp.exec("import pickle\ndata = pickle.loads(pickled)")
        interp.exec(READ_EVERY_PAGE)
        elapsed = interp.call(_main_value, "elapsed")
        seen = mappings_of(name)
    return elapsed, seen


def _main_value(name):
    return getattr(sys.modules["__main__"], name)


def read_in_process(data):
    import pickle

    done = subprocess.run([sys.executable, "-c", PROCESS_READER], input=pickle.dumps(data, 5),
                          capture_output=True, check=True)
    return float(done.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--output", default=os.path.join(HERE, "results", "first_read.json"))
    args = ap.parse_args()
    size = args.mib << 20
    results = {"main_again": [], "subinterpreter": [], "process": []}
    with shoal.Arena(size + (64 << 20)) as arena:
        data = arena.empty((size,), "uint8")
        memoryview(data).cast("B")[:] = b"\x01" * size  # written whole: every page exists
        read_in_main(data)  # the main interpreter's page tables filled
        mappings = []
        for _ in range(args.runs):
            results["main_again"].append(read_in_main(data))
            elapsed, seen = read_in_subinterpreter(data, arena.name)
            results["subinterpreter"].append(elapsed)
            mappings.append(seen)
            results["process"].append(read_in_process(data))
        del data
    medians = {k: statistics.median(v) for k, v in results.items()}
    report = {
        "mib": args.mib, "runs": args.runs, "page_bytes": PAGE, "seconds": results, "median_s": medians,
        "mappings_while_subinterpreter_attached": mappings,
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(report, f, indent=1)
    lines = [
        f"# First read of {args.mib} MiB by a new receiver",
        "",
        f"One byte of every {PAGE}-byte page of a buffer in an explicitly created arena, read by a receiver "
        f"new to it; median of {args.runs} runs (fastest-slowest). {report['date']}, CPython "
        f"{report['machine']['python']}, {report['machine']['cpus']} CPUs. Command: "
        f"`python bench/first_read_bench.py --mib {args.mib} --runs {args.runs}`.",
        "",
        "| receiver | first read | vs main again |",
        "| --- | ---: | ---: |",
    ]
    labels = {"main_again": "main interpreter, again (floor)",
              "subinterpreter": "a new subinterpreter (shares the process's mapping)",
              "process": "a new process (a mapping of its own)"}
    for key, label in labels.items():
        v = results[key]
        lines.append(f"| {label} | {medians[key] * 1e3:.1f} ms ({min(v) * 1e3:.1f}-{max(v) * 1e3:.1f}) | "
                     f"{medians[key] / medians['main_again']:.1f}x |")
    lines += ["", f"Mappings of the arena in this process while a subinterpreter had it attached: "
              f"{sorted(set(mappings))}."]
    with open(os.path.splitext(args.output)[0] + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
