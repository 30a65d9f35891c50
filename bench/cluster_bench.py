"""An array from a task on one Dask worker to a task on another, with and without shoal.dask; and Ray.

    python bench/cluster_bench.py            # 1 GiB of float64
    python bench/cluster_bench.py --quick    # 8 MiB: a smoke run for CI, results under build/ with --output
    python bench/cluster_bench.py --from-json bench/results/cluster_bench.json   # only rewrite the .md

Rows (``ROWS``), each on a fresh ``distributed.LocalCluster`` of two worker
processes (``processes=True, n_workers=2, threads_per_worker=1``):

  dask_default    worker A makes an ordinary NumPy array; a task on worker B
                  sums it: Dask's default serializers (frames over TCP);
  dask_shoal      A makes the array in the arena (``shoal.empty``, sealed);
                  ``shoal.dask.enable(client, arena=...)``: it crosses as a handle;
  dask_shoal_arrays  A makes an ordinary array as in dask_default, with
                  ``enable(arrays=True)``: copied into the arena once, then a handle;
  ray             a sealed ``shoal.Buffer`` passed to a Ray task (``shoal.ray``:
                  Ray's out-of-band path, copied once into the object store,
                  read in place there by the task).

Measured for each: *bytes over the comm* (what ``Comm.write`` returned for
A's reply to B's request, from distributed's own transfer log; Ray: not a
socket, the object store), *wall* from submitting B's task to its result
(transfer + one sum; the sum alone on A is given as *compute*), and the
memory of copies: the PSS (``/proc/<pid>/smaps_rollup``) of this process
and all its descendants (scheduler, workers, Ray's raylet and workers)
taken inside B's task while it holds the array, less the same taken before
the array was made, in units of the array's size. A row that fails is
reported as such and the others still run.
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from machine import tree_pss  # noqa: E402
import machine  # noqa: E402

ROWS = {
    "dask_default": "Dask, default serializers: an ordinary NumPy array",
    "dask_shoal": "Dask + `shoal.dask`: an array in the arena, as a handle",
    "dask_shoal_arrays": "Dask + `shoal.dask.enable(arrays=True)`: an ordinary array, copied into the arena once",
    "ray": "Ray + `shoal.ray`: a sealed `shoal.Buffer` into a task",
}


def log(msg):
    print(f"cluster_bench: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------- run inside the workers ----


def make_array(n, in_arena):
    import numpy

    if in_arena:
        import shoal

        buffer = shoal.empty((n,), "float64")
        numpy.asarray(buffer).fill(1.0)
        buffer.seal()
        return numpy.asarray(buffer)
    array = numpy.empty(n)
    array.fill(1.0)
    return array


def consume(x, root):
    """B's task: sum the array, then the tree's PSS while it is held."""
    import numpy

    from machine import tree_pss

    started = time.perf_counter()
    total = float(numpy.sum(x))
    return {"sum": total, "sum_s": time.perf_counter() - started, "pss": tree_pss(root)[0]}


def bytes_sent(key, dask_worker=None):
    return sum(e["compressed"] for e in dask_worker.transfer_outgoing_log if key in e["keys"])


# ------------------------------------------------------------- the rows ----


def run_dask(row, n):
    import distributed

    arena = None
    if row != "dask_default":
        import shoal
        import shoal.dask

        arena = shoal.Arena(max(4 << 30, 4 * n * 8), name=f"cluster-bench-{os.getpid()}")
    try:
        # The workers find machine.py on the sys.path multiprocessing gives them (this one's).
        with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                      dashboard_address=None) as cluster, distributed.Client(cluster) as client:
            if arena is not None:
                shoal.dask.enable(client, arrays=row == "dask_shoal_arrays", arena=arena)
            client.run(lambda: 0)  # every worker up, plugins set up
            a, b = sorted(client.scheduler_info()["workers"])
            root = os.getpid()
            baseline = tree_pss(root)[0]
            made = client.submit(make_array, n, row == "dask_shoal", key=f"{row}-made", workers=[a], pure=False)
            distributed.wait(made)
            local = client.submit(consume, made, root, key=f"{row}-local", workers=[a], pure=False).result()
            started = time.perf_counter()
            seen = client.submit(consume, made, root, key=f"{row}-seen", workers=[b], pure=False).result()
            wall = time.perf_counter() - started
            sent = client.run(bytes_sent, made.key, workers=[a])[a]
            assert seen["sum"] == float(n), seen
            return {"bytes": sent, "wall_s": wall, "compute_s": local["sum_s"],
                    "copies": (seen["pss"] - baseline) / (n * 8)}
    finally:
        if arena is not None:
            arena.close()


def run_ray(n):
    import numpy
    import ray

    import shoal
    import shoal.ray

    path = os.pathsep.join(filter(None, [HERE, os.environ.get("PYTHONPATH")]))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": path}})
    try:
        shoal.ray.register()
        task = ray.remote(consume)
        root = os.getpid()
        ray.get(task.remote(numpy.ones(1), root))  # a worker up, imports done
        baseline = tree_pss(root)[0]
        arena = shoal.Arena(max(4 << 30, 4 * n * 8), name=f"cluster-bench-ray-{os.getpid()}")
        buffer = arena.empty((n,), "float64")
        numpy.asarray(buffer).fill(1.0)
        buffer.seal()
        local = consume(numpy.asarray(buffer), root)
        started = time.perf_counter()
        seen = ray.get(task.remote(buffer, root))
        wall = time.perf_counter() - started
        assert seen["sum"] == float(n), seen
        del buffer
        arena.close()
        return {"bytes": None, "wall_s": wall, "compute_s": local["sum_s"], "copies": (seen["pss"] - baseline) / (n * 8)}
    finally:
        ray.shutdown()


def run(row, n):
    return run_ray(n) if row == "ray" else run_dask(row, n)


# ------------------------------------------------------------- report ----


def fmt_bytes(b):
    if b is None:
        return "— (object store)"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if b >= size:
            return f"{b / size:.2f} {unit}"
    return f"{b} B"


def write_report(R, json_path):
    m = R["machine"]
    lines = [
        "# An array between two Dask workers, with and without shoal; and Ray",
        "",
        f"Machine: {m['cpu']}, {m['cores']} vCPUs, {m['platform']}; CPython {m['python']}; "
        f"{m['date']}. shoal at {R['shoal'].get('git_head', '?')}. Command: `{R['command']}`.",
        "",
        f"One array of {fmt_bytes(R['nbytes'])} (float64) made by a task on worker A of a `LocalCluster` of two "
        "worker processes, summed by a task on worker B (Ray: a sealed `shoal.Buffer` passed to a task). "
        "*Bytes over the comm*: what distributed's `Comm.write` returned for A's reply to B. *Wall*: from "
        "submitting B's task to its result; *compute*: the same sum on A's own copy. *Copies*: PSS of the "
        "whole process tree (`/proc/<pid>/smaps_rollup`) while B holds the array, less before it was made, "
        "over the array's size.",
        "",
        "| row | bytes over the comm | wall (s) | compute (s) | copies in memory |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for row, text in ROWS.items():
        r = R["rows"].get(row)
        if r is None:
            continue
        if "error" in r:
            lines.append(f"| {text} | {r['error']} | | | |")
            continue
        lines.append(f"| {text} | {fmt_bytes(r['bytes'])} | {r['wall_s']:.3f} | {r['compute_s']:.3f} | "
                     f"{r['copies']:.2f} |")
    lines += [
        "",
        "Same host, both workers attached to one arena: the array crosses as a handle (a pickled ticket of a "
        "few hundred bytes) and B reads A's pages. Across hosts (not measured here; tests/python/test_dask.py "
        "runs two workers in mount namespaces of their own) it crosses as frames, as Dask's default does, "
        "and B places it in its own arena.",
        "",
    ]
    with open(os.path.splitext(json_path)[0] + ".md", "w") as f:
        f.write("\n".join(lines))


def fingerprint():
    import shoal

    return {"path": os.path.dirname(shoal.__file__), "git_head": machine.git_head(ROOT)}



def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: an 8 MiB array")
    ap.add_argument("--only", default="", help="comma-separated rows: " + ",".join(ROWS))
    ap.add_argument("--output", default=None, help="JSON path (default bench/results/cluster_bench.json; --quick: "
                    "cluster_bench_quick.json); the report goes beside it as .md")
    ap.add_argument("--from-json", default=None, metavar="JSON", help="measure nothing: rewrite the .md from it")
    args = ap.parse_args()
    if args.from_json:
        with open(args.from_json) as f:
            write_report(json.load(f), args.from_json)
        return
    rows = [r for r in args.only.split(",") if r] or list(ROWS)
    bad = [r for r in rows if r not in ROWS]
    if bad:
        ap.error(f"unknown row: {', '.join(bad)}")
    n = (8 << 20) // 8 if args.quick else (1 << 30) // 8
    command = " ".join(["python", os.path.relpath(__file__, ROOT)] + sys.argv[1:])
    R = {"machine": machine.describe(), "quick": args.quick, "command": command, "shoal": fingerprint(), "nbytes": n * 8,
         "rows": {}}
    for row in rows:  # dask_default first: no process has imported shoal.dask yet
        try:
            R["rows"][row] = run(row, n)
        except Exception as e:
            R["rows"][row] = {"error": " ".join(f"failed: {type(e).__name__}: {e}".split())[:400].replace("|", "/")}
        log(f"{row}: {R['rows'][row]}")
    path = args.output or os.path.join(HERE, "results", "cluster_bench_quick.json" if args.quick else "cluster_bench.json")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(R, f, indent=1)
        f.write("\n")
    write_report(R, path)
    log(f"results: {os.path.relpath(path, ROOT)} and .md")


if __name__ == "__main__":
    main()
