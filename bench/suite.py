"""shoal side by side with what people use today: one command, every scenario.

    bash scripts/bench.sh [--quick]          # installs the peers, then runs this
    python bench/suite.py [--quick] [--update-report] [--only transfer,pingpong,...]
    python bench/suite.py --from-json bench/results/suite.json [--update-report]

Scenarios (each a table; ratios are peer / shoal), one module each:
  1. transfer   (suite_transfer.py) one-way hand-off of a float64 array of
                1 KiB, 1 MiB, 64 MiB, 1 GiB, producer -> consumer, between
                interpreters and between processes; the consumer reads one
                byte per 4 KiB page; producer and consumer pinned to a CPU
                each (plus a shoal row left to the kernel's placement);
  2. pingpong   (suite_messages.py) round trip of a small int: p50, p99;
  3. throughput (suite_messages.py) small messages per second, 1 producer/
                1 consumer and 2/2;
  4. fanout     (suite_fanout.py) one array to 8 consumers: time until all 8
                have read it, and the machine's extra memory;
  5. compute    (suite_compute.py) CPU-bound pure Python over a shared
                array: speed-up of 2 workers over 1.
Plus the machine's floors (suite_floors.py: a small C helper, bench/floors.c,
built with the system cc in the same run), and the targets with MET / NOT
MET (suite_report.py). The peers and the workers that run them:
suite_peers.py, suite_workers.py, workloads.py.

Peers that cannot be installed or cannot run here get a row saying why.
Raw numbers: bench/results/suite.json (--quick: build/bench-quick/), the
tables in suite.md, the plot transfer.png (suite_plot.py). --update-report
also rewrites the suite's section of docs/performance.md, the only file it
writes outside the results folder. Progress goes to stderr.
"""

import argparse
import json
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from suite_common import log, settle  # noqa: E402
from suite_peers import PEERS  # noqa: E402
from suite_plot import plot  # noqa: E402
from suite_report import report, update_report  # noqa: E402

# In the order they run; each module's run_<name>(env) returns the
# scenario's results (suite.json's entry of the same name).
SCENARIOS = [("floors", "suite_floors"), ("transfer", "suite_transfer"), ("pingpong", "suite_messages"),
             ("throughput", "suite_messages"), ("fanout", "suite_fanout"), ("compute", "suite_compute")]


def machine(env):
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {"CPython": platform.python_version(), "shoal": _version("shoal")}
    versions.update(env.versions)
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "versions": versions, "missing": env.missing, "load_start": os.getloadavg(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def _version(pkg):
    try:
        from importlib.metadata import version
        return version(pkg)
    except Exception:
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one-minute smoke run: small sizes, few repetitions, no Ray")
    ap.add_argument("--only", default="", help="comma-separated scenarios: " + ",".join(n for n, _ in SCENARIOS))
    ap.add_argument("--max-size", default=None, help="largest transfer size, e.g. 64MiB (for trying things out)")
    ap.add_argument("--peers", default="", help="comma-separated peers to run, for trying things out "
                    "(default all): " + ",".join(PEERS))
    ap.add_argument("--update-report", action="store_true", help="rewrite the suite's tables in docs/performance.md")
    ap.add_argument("--from-json", default=None, metavar="SUITE_JSON",
                    help="measure nothing: rewrite the tables, plot (and docs/performance.md) from a suite.json")
    ap.add_argument("--out", default=None, help="results folder (default bench/results, --quick: build/bench-quick)")
    args = ap.parse_args()
    if args.update_report and (args.peers or args.only or args.max_size):
        ap.error("--update-report takes a full run: not with --peers, --only or --max-size")
    if args.from_json:
        with open(args.from_json) as f:
            R = json.load(f)
        outdir = args.out or os.path.dirname(os.path.abspath(args.from_json))
        return write_outputs(R, args, outdir)
    R = measure(args)
    # quick runs (CI) write under build/ (ignored by git), full runs under bench/results/
    outdir = args.out or (os.path.join(ROOT, "build", "bench-quick") if args.quick else os.path.join(HERE, "results"))
    write_outputs(R, args, outdir)


def measure(args):
    """Runs the scenarios asked for; returns the results (suite.json)."""
    # Nothing here calls BLAS, but NumPy's OpenBLAS starts worker threads at
    # import that spin for about 0.1 s of CPU (measured: 0.16 s user for
    # `import numpy; sleep(1)`, 0.05 s with one thread); every spawned
    # process imports NumPy, and on 2 cores that spin competes with the
    # measurements. Set before anything is spawned or imported.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("SHOAL_ARENA_SIZE", "6GiB")
    import importlib

    import shoal
    import suite_workers
    from suite_peers import Env

    arena = shoal.default_arena()
    os.environ["SHOAL_ARENA"] = arena.name           # spawned processes attach this arena
    env = Env(args)
    if args.quick:
        suite_workers.TIMEOUT_SCALE[0] = 0.2
    R = {"machine": machine(env), "quick": args.quick, "command": " ".join(["python"] + sys.argv)}
    log(f"machine: {R['machine']['cpu']}, {R['machine']['cores']} cores, {R['machine']['python']}, "
        f"load {R['machine']['load_start'][0]:.2f}; arena {arena.name} ({shoal.format_size(arena.size)})")
    only = [s for s in args.only.split(",") if s]
    todo = [(n, m) for n, m in SCENARIOS if not only or n in only]
    started = time.perf_counter()
    for i, (name, module) in enumerate(todo, 1):
        run = getattr(importlib.import_module(module), f"run_{name}")
        waited = settle(name)
        log(f"[{i}/{len(todo)}] {name}" + (f" (after {waited:.1f} s for the machine to go idle)" if waited > 1 else ""))
        try:
            R[name] = run(env)
        except Exception as e:
            import traceback
            traceback.print_exc()
            R[name] = {"error": f"failed: {type(e).__name__}: {e}"}
        env.stop_ray()
    R["wall_s"] = time.perf_counter() - started
    R["machine"]["load_end"] = os.getloadavg()
    return R


def write_outputs(R, args, outdir):
    os.makedirs(outdir, exist_ok=True)
    png = os.path.join(outdir, "transfer.png")
    md = report(R, R.get("quick", False))
    note = plot(R, png)
    if note:
        md.append("")
        md.append(f"({note})")
    with open(os.path.join(outdir, "suite.json"), "w") as f:
        json.dump(R, f, indent=1)
        f.write("\n")
    with open(os.path.join(outdir, "suite.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))
    log(f"raw numbers: {os.path.relpath(outdir, ROOT)}/suite.json, tables: suite.md, plot: transfer.png")
    if args.update_report:
        update_report(md, png)


if __name__ == "__main__":
    main()
