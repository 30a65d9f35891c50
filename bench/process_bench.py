"""shoal.ProcessPoolExecutor beside the process pools NumPy users run: two kernels over 1 GiB, and tiny tasks.

    python bench/process_bench.py            # full run: 1 GiB, 5 timed runs per cell (~12 min on 2 cores)
    python bench/process_bench.py --quick    # smoke run (CI): 128 MiB, 1 timed run, < 2 min
    python bench/process_bench.py --kernel light   # one kernel only (default: sort,light)
    python bench/process_bench.py --from-json bench/results/process_bench.json   # only rewrite the .md

Scenario 1, compute: one float64 array (2**27 doubles = 1 GiB; --quick
128 MiB) in 16 chunks, and two kernels run per chunk (``KERNELS``):
  sort    ``np.sort`` then the sorted chunk's sum and 99th percentile: the
          CPU work dominates (about 0.6 s per 64 MiB chunk), so moving the
          data is a small part of any pool's wall;
  light   one cheap pass: the chunk's sum and max, read in place (a few ms
          per 64 MiB chunk): moving the data dominates, and a pool's wall is
          mostly what it costs to get a chunk to a worker.
Both kernels run in the same row process, over the same array and the same
Ray object, one after the other; every cell below is measured for each
kernel alike. On 1 worker and on 2, for:
  shoal   shoal.ProcessPoolExecutor (forkserver); chunks are views of one
          shoal.empty array: they cross as handles;
  stdlib  concurrent.futures.ProcessPoolExecutor, forkserver (shoal's start
          method; 3.13's default is fork); chunks are views of a plain
          NumPy array: pickled, copied into each worker;
  mpool   multiprocessing.Pool (forkserver), imap, chunksize 1; chunks are
          views of a shoal.empty array, which plain pickle sends by reference;
  ray     Ray tasks on a ray.put array (ray.init(num_cpus=2,
          include_dashboard=False), then the original array is dropped);
          "1 worker" = the same tasks asking for both CPUs each, so one runs
          at a time; ray.init and ray.put times are reported, not in the wall;
  alone   no pool: the kernel in a loop over the chunks in one process; its
          "2 workers" cell is two forked processes doing half the chunks
          each (no pool, no transfer): the kernel's own 2-CPU floor.
Each row runs in a fresh Python process of its own (this file, --_row): the
stdlib and Ray rows never import shoal (its copyreg reducer for NumPy
arrays), and each row's memory is measured alone. Per (row, workers): pool
start (pool created -> every worker has answered a 10 ms task; excluded
from the wall), one warm-up run over the data (not timed; its peak memory is
the row's memory), then N timed runs: wall (median) and time from submission
to the first result (median). A timed run during which other processes (or
the host, as steal time) took more than 10% of the CPUs (/proc/stat minus
this row's process tree) is repeated, up to 2N runs in all, once the machine
is idle again, and left out of the median unless every run was; before each
cell and each repeat the script waits (up to --settle s) for the machine to
go idle; a run too short for that after-the-fact check (under 0.5 s:
the light kernel's) is preceded by the same idle wait, and judged by the
machine's busy share in the 0.25 s just before it. Memory: the
peak over the warm-up run of the
proportional set size (/proc/PID/smaps_rollup) summed over the row's process
and all its descendants (workers, forkserver, Ray's daemons), sampled every
0.1 s, in copies of the array. Results are checked equal across rows.

Scenario 2, tiny tasks: ``map(operator.add, range(T), range(T))``, T =
10,000 (--quick 2,000), on 2 warm workers, chunksize 1 and 100:
shoal.ProcessPoolExecutor vs concurrent.futures.ProcessPoolExecutor, both
forkserver, and a second stdlib pool as the control, all in one process
with their runs interleaved (2N+1 each), the pools made afresh in each of 7
sessions; wall / T per task (median of the runs), and each pool's ratio to
the stdlib's with a 95% interval bootstrapped over sessions.

The machine's floor in the same run: bench/floors.c's "parallel" mode (a
CPU-bound C loop in two processes against one), built with the system cc,
measured before and after scenario 1. The targets are reported, not
asserted, each judged on each kernel; beside the 10x target the report
gives every pool's time above the no-pool floor (the alone row) and the
ceiling stdlib / alone, the ratio a pool that cost nothing would reach,
and a table of every row's time above that floor. Results:
bench/results/process_bench.json and .md (--quick: process_bench_quick.*);
progress to stderr.

The parts: this file holds what the workers run (the kernels, by reference
to __main__) and the orchestrator; process_rows.py runs a row of scenario 1,
process_tiny.py scenario 2, process_measure.py measures on a shared machine
and process_report.py writes the report.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from process_measure import SETTLE_LIMIT, log, machine, parallel_floor, settle, shoal_fingerprint  # noqa: E402
from process_report import report  # noqa: E402
from process_rows import ROWS, row_child  # noqa: E402
from process_tiny import TINY_ROWS, tiny_child  # noqa: E402

PERCENTILE = 99.0


# ================================================================ the work (imported by every worker)

def kernel_sort(chunk):
    """Sort a chunk (a copy), then two reductions over the sorted copy."""
    s = np.sort(chunk)
    return float(s.sum()), float(np.percentile(s, PERCENTILE))


def kernel_light(chunk):
    """Two cheap passes over the chunk in place: its sum and its max."""
    return float(chunk.sum()), float(chunk.max())


KERNELS = {"sort": kernel_sort, "light": kernel_light}
KERNEL_TEXT = {
    "sort": f"np.sort(chunk), then the sorted copy's sum and np.percentile(.., {PERCENTILE:g}): the CPU work dominates",
    "light": "chunk.sum() and chunk.max(), in place: moving the data dominates",
}


def kernel_range(array, lo, hi, which):
    return KERNELS[which](array[lo:hi])


def noop(x=None):
    return x


def pid(_=None):
    time.sleep(0.01)  # long enough that a worker that is up gets one
    return os.getpid()


# What the rows hand to the workers. Defined here, in the module that runs as
# __main__, and nowhere else: forkserver workers import this file again (as
# __mp_main__) to find what the pools pickled by reference to __main__, and
# Ray pickles __main__'s functions by value. A function of another module
# would be pickled as module.name, which Ray's workers cannot import.
WORK = types.SimpleNamespace(kernels=KERNELS, kernel_range=kernel_range, pid=pid)


# ================================================================ the orchestrator

def normalize(R):
    """Results written before the light kernel (one kernel, "kernel" and
    compute = row -> cells) read as the new shape: kernels and compute =
    kernel -> row -> cells."""
    if "kernels" not in R:
        R["kernels"] = {"sort": R.get("kernel", KERNEL_TEXT["sort"])}
        R["compute"] = {"sort": R.get("compute") or {}}
    return R


def run_child(extra, args, timeout):
    cmd = [sys.executable, os.path.abspath(__file__), "--mib", str(args.mib), "--chunks", str(args.chunks),
           "--runs", str(args.runs), "--tasks", str(args.tasks), "--settle", str(args.settle),
           "--max-attempts", str(args.max_attempts), "--kernel", args.kernel] + extra
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=None, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"failed: timed out after {timeout:.0f} s"}
    lines = [line for line in p.stdout.splitlines() if line.strip()]
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        return {"error": f"failed: exit {p.returncode}, no result ({(p.stdout or '')[-200:]!r})"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 128 MiB, 1 timed run, 2,000 tiny tasks")
    ap.add_argument("--mib", type=int, default=None, help="array size in MiB (default 1024; --quick 128)")
    ap.add_argument("--chunks", type=int, default=16)
    ap.add_argument("--runs", type=int, default=None, help="timed runs per cell (default 5; --quick 1)")
    ap.add_argument("--tasks", type=int, default=None, help="tiny tasks per map (default 10,000; --quick 2,000)")
    ap.add_argument("--settle", type=float, default=None, help="seconds to wait at most for the machine to go "
                    "idle before each cell (default 120; --quick 2)")
    ap.add_argument("--max-attempts", type=int, default=None, help="timed runs at most per cell, counting those "
                    "repeated because other processes took over 10%% of the CPUs (default 2 x runs; --quick 2)")
    ap.add_argument("--kernel", default=",".join(KERNELS), help="comma-separated kernels of scenario 1, run in "
                    "this order in each row's process: " + "; ".join(f"{k}: {v}" for k, v in KERNEL_TEXT.items())
                    + " (default: both)")
    ap.add_argument("--only", default="", help="comma-separated rows of scenario 1: " + ",".join(ROWS)
                    + "; 'tiny' for scenario 2")
    ap.add_argument("--output", default=None, help="JSON path (default bench/results/process_bench.json; "
                    "--quick: process_bench_quick.json); the table goes beside it as .md")
    ap.add_argument("--from-json", default=None, metavar="JSON",
                    help="measure nothing: rewrite the .md beside a process_bench JSON from it")
    ap.add_argument("--_row", help=argparse.SUPPRESS)
    ap.add_argument("--_tiny", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.mib = args.mib or (128 if args.quick else 1024)
    args.runs = args.runs or (1 if args.quick else 5)
    args.tasks = args.tasks or (2000 if args.quick else 10000)
    args.settle = args.settle if args.settle is not None else (2.0 if args.quick else 120.0)
    args.max_attempts = args.max_attempts or (2 if args.quick else 2 * args.runs)
    SETTLE_LIMIT[0] = args.settle
    bad = [k for k in args.kernel.split(",") if k not in KERNELS]
    if bad or not args.kernel:
        ap.error(f"--kernel: unknown {','.join(bad) or '(none)'}; known: {','.join(KERNELS)}")

    if args.from_json:
        with open(args.from_json) as f:
            md = report(normalize(json.load(f)))
        with open(os.path.splitext(args.from_json)[0] + ".md", "w") as f:
            f.write("\n".join(md) + "\n")
        print("\n".join(md))
        return

    if args._row or args._tiny:
        out = row_child(args, WORK) if args._row else tiny_child(args, WORK)
        sys.stdout.flush()
        print(json.dumps(out), flush=True)
        return

    # NumPy's OpenBLAS starts spinning threads at import in every process
    # (nothing here calls BLAS); the arena must hold the array.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("SHOAL_ARENA_SIZE", f"{args.mib + 512}MiB")
    only = [s for s in args.only.split(",") if s]
    R = {"machine": machine(), "quick": args.quick, "command": " ".join(["python", os.path.relpath(__file__, ROOT)]
                                                                        + sys.argv[1:]),
         "mib": args.mib, "chunks": args.chunks, "runs": args.runs,
         "kernels": {k: KERNEL_TEXT[k] for k in args.kernel.split(",")},
         "start_method": "forkserver (shoal's default, and the stdlib rows')"}
    R["shoal_at_start"] = shoal_fingerprint()
    m = R["machine"]
    log(f"machine: {m['cpu']}, {m['cores']} cores, {m['ram']}, Python {m['versions']['CPython']}; "
        f"{args.mib} MiB in {args.chunks} chunks, {args.runs} timed run(s)")
    started = time.perf_counter()
    child_timeout = 110 if args.quick else 1800
    R["compute"] = {k: {} for k in R["kernels"]}  # kernel -> row -> the row's process's numbers, that kernel's cells
    if not only or set(only) & set(ROWS):
        settle("the C floor")
        R["floor_before"] = parallel_floor()
        log(f"C parallel floor: {R['floor_before']}")
        for name in ROWS:
            if only and name not in only:
                continue
            waited = settle(name)
            log(f"compute: {name}" + (f" (after {waited:.1f} s for the machine to go idle)" if waited > 1 else ""))
            r = run_child(["--_row", name], args, child_timeout)
            if "na" in r or "error" in r:
                log(f"  {name}: {r.get('na') or r.get('error')}")
            common = {key: v for key, v in r.items() if key != "kernels"}
            for which in R["kernels"]:
                got = r.get("kernels", {}).get(which)
                R["compute"][which][name] = dict(common, **got) if got else (
                    common if "na" in r or "error" in r else dict(common, error="failed: no cells for this kernel"))
        settle("the C floor")
        R["floor_after"] = parallel_floor()
        log(f"C parallel floor: {R['floor_after']}")
        for which, C in R["compute"].items():
            ref = C.get("alone", {}).get("1", {}).get("digest")
            for name, r in C.items():
                for k in ("1", "2"):
                    if ref and k in r and r[k].get("digest") != ref:
                        r[k]["digest_mismatch"] = True
                        log(f"  {name} {which} {k}: results differ from the single process's: "
                            f"{r[k]['digest']} != {ref}")
    R["tiny"] = {}
    if not only or "tiny" in only:
        log("tiny tasks: " + " and ".join(TINY_ROWS) + ", runs interleaved")
        got = run_child(["--_tiny", "both"], args, child_timeout)
        R["tiny"] = got if "error" not in got else {name: got for name in TINY_ROWS}
    R["wall_s"] = time.perf_counter() - started
    R["machine"]["load_end"] = os.getloadavg()
    R["shoal_at_end"] = shoal_fingerprint()
    rows = [r for C in R["compute"].values() for r in C.values()] + list(R["tiny"].values())
    used = [fp for r in rows for fp in r.get("shoal", [])]
    R["shoal_measured"] = used[0] if used else R["shoal_at_start"]
    R["shoal_mixed"] = len({fp.get("sha256") for fp in used}) > 1
    if R["shoal_mixed"]:
        log("shoal was reinstalled while a row that uses it ran: rows may mix two versions")

    path = args.output or os.path.join(HERE, "results", "process_bench_quick.json" if args.quick
                                       else "process_bench.json")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(R, f, indent=1)
        f.write("\n")
    md = report(R)
    with open(os.path.splitext(path)[0] + ".md", "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))
    log(f"raw numbers: {os.path.relpath(path, ROOT)}, table: {os.path.relpath(os.path.splitext(path)[0] + '.md', ROOT)}"
        f" ({R['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
