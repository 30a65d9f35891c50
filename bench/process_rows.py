"""Scenario 1 of process_bench.py, one row in a process of its own
(process_bench.py --_row NAME): the array filled, then for each kernel and
for 1 and 2 workers, the pool started, a warm-up run (its peak memory) and
the timed runs. A Tool per row: shoal's and the stdlib's executors,
multiprocessing.Pool, Ray, and no pool at all (the floor).

What the workers run is handed in (`work`, process_bench.WORK): functions
of process_bench.py, the __main__ module, which the pools pickle by
reference to __main__ and Ray by value; none is defined here."""

import json
import os
import statistics
import time
import warnings

import numpy as np

from machine import tree_pss
from process_measure import (SHORT_RUN_S, PeakPss, disturbed, log, settle, shoal_fingerprint, start_forkserver,
                             start_until_all_answer, timed_runs)

MiB = 1 << 20

ROWS = {
    "shoal": "shoal.ProcessPoolExecutor (chunks: views of a shoal array, cross as handles)",
    "stdlib": "concurrent.futures.ProcessPoolExecutor, forkserver (chunks: NumPy views, pickled = copied)",
    "mpool": "multiprocessing.Pool, forkserver, imap (chunks: views of a shoal array, pickled by reference)",
    "ray": "Ray tasks on a ray.put array",
    "alone": "no pool: one process loops over the chunks; 2 = two forked processes, half each",
}


def fill(array, chunks, seed=12345):
    """Deterministic uniform [0, 1) data, generated chunk by chunk in place."""
    rng = np.random.default_rng(seed)
    for lo, hi in chunks:
        rng.random(out=array[lo:hi])


def chunk_bounds(n, count):
    return [(n * i // count, n * (i + 1) // count) for i in range(count)]


def digest(results):
    """Order-fixed sums of the per-chunk results: equal in every row when
    every row computed the same thing."""
    return [float(sum(r[0] for r in results)), float(sum(r[1] for r in results))]


class Tool:
    """One row: start(k) -> a pool of k workers; run() -> (first-result s,
    wall s, results) of the kernel set by use(); stop(). `work`: what the
    workers run (process_bench.WORK)."""

    def __init__(self, work):
        self.work = work
        self.use("sort")

    def use(self, which):
        self.fn, self.which = self.work.kernels[which], which

    def start(self, k):
        raise NotImplementedError

    def stop(self):
        raise NotImplementedError


class ExecutorTool(Tool):
    def __init__(self, work, make, chunks):
        super().__init__(work)
        self.make, self.chunks = make, chunks

    def start(self, k):
        self.pool = self.make(k)
        start_until_all_answer(k, lambda n: list(self.pool.map(self.work.pid, range(n))))

    def run(self):
        t0 = time.perf_counter()
        it = self.pool.map(self.fn, self.chunks)
        first = next(it)
        t1 = time.perf_counter()
        rest = list(it)
        return t1 - t0, time.perf_counter() - t0, [first] + rest

    def stop(self):
        self.pool.shutdown()


class MpPoolTool(Tool):
    def __init__(self, work, chunks):
        super().__init__(work)
        import multiprocessing
        self.ctx = multiprocessing.get_context("forkserver")
        self.chunks = chunks

    def start(self, k):
        self.pool = self.ctx.Pool(k)
        start_until_all_answer(k, lambda n: self.pool.map(self.work.pid, range(n), chunksize=1))

    def run(self):
        t0 = time.perf_counter()
        it = self.pool.imap(self.fn, self.chunks, chunksize=1)
        first = next(it)
        t1 = time.perf_counter()
        rest = list(it)
        return t1 - t0, time.perf_counter() - t0, [first] + rest

    def stop(self):
        self.pool.close()
        self.pool.join()


class RayTool(Tool):
    def __init__(self, work, ray, ref, bounds):
        super().__init__(work)
        self.ray, self.ref, self.bounds = ray, ref, bounds
        self.remote = ray.remote(work.kernel_range)
        self.remote_noop = ray.remote(work.pid)

    def start(self, k):
        # Ray's workers stay up between k=1 and k=2; k=1 asks for both
        # CPUs per task, so that one task runs at a time.
        self.opts = {"num_cpus": 2 // k}
        f = self.remote_noop.options(**self.opts)
        start_until_all_answer(k, lambda n: self.ray.get([f.remote(i) for i in range(n)]))

    def run(self):
        t0 = time.perf_counter()
        f = self.remote.options(**self.opts)
        refs = [f.remote(self.ref, lo, hi, self.which) for lo, hi in self.bounds]
        first = self.ray.get(refs[0])
        t1 = time.perf_counter()
        rest = self.ray.get(refs[1:])
        return t1 - t0, time.perf_counter() - t0, [first] + list(rest)

    def stop(self):
        pass


class AloneTool(Tool):
    """k=1: the kernel in a loop here. k=2: two processes forked before the
    clock starts (this one and a child), half the chunks each, started by a
    byte on a pipe."""

    def __init__(self, work, chunks):
        super().__init__(work)
        self.chunks = chunks

    def start(self, k):
        self.k = k

    def stop(self):
        pass

    def run(self):
        if self.k == 1:
            t0 = time.perf_counter()
            first = self.fn(self.chunks[0])
            t1 = time.perf_counter()
            rest = [self.fn(c) for c in self.chunks[1:]]
            return t1 - t0, time.perf_counter() - t0, [first] + rest
        half = len(self.chunks) // 2
        go_r, go_w = os.pipe()
        res_r, res_w = os.pipe()
        with warnings.catch_warnings():
            # The warm-up run's memory sampler is a thread of this process;
            # the child only runs the kernel and writes to a pipe (no lock it could
            # inherit held: glibc's malloc has fork handlers).
            warnings.simplefilter("ignore", DeprecationWarning)
            child = os.fork()
        if child == 0:
            try:
                os.close(go_w)
                os.read(go_r, 1)
                out = [self.fn(c) for c in self.chunks[half:]]
                os.write(res_w, json.dumps(out).encode())
            finally:
                os._exit(0)
        os.close(go_r)
        os.close(res_w)
        time.sleep(0.05)  # the child is waiting
        t0 = time.perf_counter()
        os.write(go_w, b"g")
        first = self.fn(self.chunks[0])
        t1 = time.perf_counter()
        mine = [first] + [self.fn(c) for c in self.chunks[1:half]]
        data = b""
        while True:
            b = os.read(res_r, 1 << 16)
            if not b:
                break
            data += b
        os.waitpid(child, 0)
        wall = time.perf_counter() - t0
        os.close(go_w)
        os.close(res_r)
        return t1 - t0, wall, mine + [tuple(x) for x in json.loads(data)]


def row_child(args, work):
    """Runs one row of scenario 1 and returns its numbers (process_bench
    prints them as JSON, the child's last line of output)."""
    name = args._row
    n = args.mib * MiB // 8
    shoal_at_start = shoal_fingerprint() if name in ("shoal", "mpool") else None
    bounds = chunk_bounds(n, args.chunks)
    out = {"row": name}
    t = time.perf_counter()
    if name in ("shoal", "mpool"):
        import shoal
        buf = shoal.empty((n,), "float64")
        fill(np.asarray(buf), bounds)
        buf.seal()  # filled: read-only from now on, so its views may be shared (read-only after send)
        array = np.asarray(buf)
    else:
        array = np.empty(n, dtype=np.float64)
        fill(array, bounds)
    out["fill_s"] = time.perf_counter() - t
    chunks = [array[lo:hi] for lo, hi in bounds]
    ray = None
    if name == "shoal":
        import shoal
        tool = ExecutorTool(work, lambda k: shoal.ProcessPoolExecutor(max_workers=k), chunks)
    elif name == "stdlib":
        import concurrent.futures
        import multiprocessing
        ctx = multiprocessing.get_context("forkserver")
        tool = ExecutorTool(work, lambda k: concurrent.futures.ProcessPoolExecutor(max_workers=k, mp_context=ctx),
                            chunks)
    elif name == "mpool":
        tool = MpPoolTool(work, chunks)
    elif name == "alone":
        tool = AloneTool(work, chunks)
    elif name == "ray":
        try:
            import ray
        except Exception as e:
            return {"row": name, "na": f"not available: ray not installed ({type(e).__name__}: {str(e)[:120]})"}
        out["ray_version"] = getattr(ray, "__version__", "?")
        os.environ.setdefault("RAY_DISABLE_IMPORT_WARNING", "1")
        t = time.perf_counter()
        try:
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
                     object_store_memory=max(2 * args.mib * MiB, 512 * MiB))
        except Exception as e:
            return {"row": name, "na": f"not available: ray.init failed ({type(e).__name__}: {str(e)[:200]})"}
        out["ray_init_s"] = time.perf_counter() - t
        t = time.perf_counter()
        ref = ray.put(array)
        out["ray_put_s"] = time.perf_counter() - t
        del chunks, array  # what a careful Ray user does: the store holds the data now
        chunks = array = None
        tool = RayTool(work, ray, ref, bounds)
    else:
        raise SystemExit(f"unknown row {name}")
    if name in ("shoal", "stdlib", "mpool"):
        out["forkserver_start_s"] = start_forkserver()
    out["pss_data_only_bytes"], _ = tree_pss()  # this process (and Ray's daemons), data present, no pool
    out["kernels"] = {}
    try:
        for which in args.kernel.split(","):
            tool.use(which)
            K = out["kernels"][which] = {}
            for k in (1, 2):
                what = f"{name}, {which}, {k} worker(s)"
                waited = settle(what)
                cell = K[str(k)] = {"settle_s": waited}
                t = time.perf_counter()
                tool.start(k)
                cell["start_s"] = time.perf_counter() - t
                cell["pss_idle_bytes"], _ = tree_pss()  # pool started, data present, no work yet
                sampler = PeakPss()
                warm_first, warm_wall, got = tool.run()
                peak, procs = sampler.done()
                cell.update(warm_first_s=warm_first, warm_wall_s=warm_wall, pss_peak_bytes=peak,
                            pss_copies=peak / (args.mib * MiB), pss_processes=procs, pss_samples=sampler.samples)
                cell["digest"] = digest(got)
                cell["settled_before_each_run"] = short = warm_wall < SHORT_RUN_S
                done, kept = timed_runs(tool.run, args.runs, args.max_attempts, what, settle_first=short)
                for _, _, got in (r for r, _ in done):
                    if digest(got) != cell["digest"]:
                        raise RuntimeError(f"{what}: results differ between runs: {digest(got)} != {cell['digest']}")
                walls, firsts = [w for _, w, _ in kept], [f for f, _, _ in kept]
                cell.update(wall_s=statistics.median(walls), first_result_s=statistics.median(firsts),
                            all_wall_s=walls, all_first_result_s=firsts,
                            all_attempts=[{"wall_s": r[1], "others_share": f} for r, f in done],
                            disturbed=sum(disturbed(f) for _, f in done), undisturbed=len(kept) if
                            any(not disturbed(f) for _, f in done) else 0)
                tool.stop()
                log(f"  {name:6s} {which:5s} {k} worker(s): start {cell['start_s']:.2f} s, wall "
                    f"{cell['wall_s']:.3f} s (runs {', '.join(f'{x:.3f}' for x in walls)}), first result "
                    f"{cell['first_result_s']:.3f} s, peak PSS {cell['pss_copies']:.2f} copies ({procs} processes)")
            K["speedup"] = K["1"]["wall_s"] / K["2"]["wall_s"]
    finally:
        if ray is not None or name == "ray":
            import ray as _ray
            t = time.perf_counter()
            _ray.shutdown()
            out["ray_shutdown_s"] = time.perf_counter() - t
    if shoal_at_start is not None:
        out["shoal"] = [shoal_at_start, shoal_fingerprint()]
    return out
