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
"""

import argparse
import json
import operator
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from machine import build_floors, cpu_busy_fraction, tree_pids, tree_pss  # noqa: E402

MiB, GiB = 1 << 20, 1 << 30
T0 = time.monotonic()

ROWS = {
    "shoal": "shoal.ProcessPoolExecutor (chunks: views of a shoal array, cross as handles)",
    "stdlib": "concurrent.futures.ProcessPoolExecutor, forkserver (chunks: NumPy views, pickled = copied)",
    "mpool": "multiprocessing.Pool, forkserver, imap (chunks: views of a shoal array, pickled by reference)",
    "ray": "Ray tasks on a ray.put array",
    "alone": "no pool: one process loops over the chunks; 2 = two forked processes, half each",
}
TINY_ROWS = {
    "shoal": "shoal.ProcessPoolExecutor",
    "stdlib": "concurrent.futures.ProcessPoolExecutor (forkserver)",
    "stdlib_again": "the same, a second pool (control)",
}
TINY_SESSIONS = 7  # fresh pools this many times over the tiny tasks' rounds
PERCENTILE = 99.0


def log(msg):
    el = time.monotonic() - T0
    print(f"[{int(el) // 60:2d}:{int(el) % 60:02d}] {msg}", file=sys.stderr, flush=True)


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
DIGEST_TEXT = {"sort": "sum of the chunks' sums, sum of their percentiles",
               "light": "sum of the chunks' sums, sum of their maxima"}


def kernel_range(array, lo, hi, which):
    return KERNELS[which](array[lo:hi])


def noop(x=None):
    return x


def pid(_=None):
    time.sleep(0.01)  # long enough that a worker that is up gets one
    return os.getpid()


def start_forkserver():
    """Starts multiprocessing's forkserver (every forkserver pool of this
    process forks its workers from it) and returns the seconds it took: the
    pool start reported is then the pool's own, the same for the first pool
    of a process as for the next."""
    from multiprocessing import forkserver
    t = time.perf_counter()
    forkserver.ensure_running()
    return time.perf_counter() - t


def start_until_all_answer(k, pids_of):
    """Calls pids_of(n) -> worker pids of n short tasks until k distinct
    workers have answered: a pool is started when all its workers are."""
    seen = set()
    while len(seen) < k:
        seen.update(pids_of(2 * k))


# ================================================================ machine helpers

SETTLE_LIMIT = [60.0]
LAST_BUSY = [None]  # the machine's busy share over settle()'s last 0.25 s sample


def settle(what, limit_s=None, busy_below=0.05):
    """Waits until the machine is idle (what a previous row stopped, Ray's
    daemons most, goes on using a CPU for seconds); gives up after limit_s."""
    limit_s = SETTLE_LIMIT[0] if limit_s is None else limit_s
    start = time.monotonic()
    busy = None
    while time.monotonic() - start < limit_s:
        busy = LAST_BUSY[0] = cpu_busy_fraction(0.25)
        if busy is None or busy < busy_below:
            return time.monotonic() - start
    log(f"  the machine stayed busy ({busy:.0%}) for {limit_s:.0f} s before {what}: measuring anyway")
    return time.monotonic() - start


class PeakPss:
    """Samples tree_pss() every `period` s on a thread until done()."""

    def __init__(self, period=0.1):
        self.period = period
        self.peak, self.procs = tree_pss()
        self.samples = 1
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()

    def _take(self):
        pss, n = tree_pss()
        self.samples += 1
        if pss > self.peak:
            self.peak, self.procs = pss, n

    def _loop(self):
        while not self._stop.wait(self.period):
            self._take()

    def done(self):
        self._stop.set()
        self._t.join()
        self._take()
        return self.peak, self.procs


def machine_jiffies():
    """(busy, total) jiffies of all CPUs so far (/proc/stat; busy counts
    steal, the time the host gave our vCPUs to someone else)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    total = sum(v[:8])
    return total - v[3] - v[4], total


def tree_jiffies(root=None):
    """CPU jiffies used by this process's tree (and children it reaped)."""
    total = 0
    for p in tree_pids(root or os.getpid()):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        except (OSError, IndexError, ValueError):
            pass
    return total


class Foreign:
    """The share of the machine's CPU time that went to processes other than
    ours (or to the host, as steal) between start and stop: on this 2-vCPU
    VM others' builds and tests come and go, and a run that shared the CPUs
    with them measures them, not the pool."""

    def __init__(self):
        self.busy, self.total = machine_jiffies()
        self.ours = tree_jiffies()

    def share(self):
        busy, total = machine_jiffies()
        ours = tree_jiffies()
        if total - self.total < 20:
            return None  # under 0.1 s of 2 CPUs: jiffies (10 ms) too coarse to tell
        return max(0.0, ((busy - self.busy) - (ours - self.ours)) / (total - self.total))


DISTURBED = 0.10  # a run in which others took more than this share of the CPUs is repeated


def disturbed(share):
    return share is not None and share > DISTURBED


SHORT_RUN_S = 0.5  # a run shorter than this is preceded by an idle wait (see timed_runs)


def timed_runs(run, runs, max_attempts, what, settle_first=False):
    """Calls run() -> (value, ...) until `runs` undisturbed runs (at most
    max_attempts calls); returns the list of (result, foreign share) and
    which were kept (the undisturbed ones, or all when none was).
    settle_first: wait for the machine to go idle before every run, for
    runs too short for Foreign to tell (under 0.1 s of 2 CPUs) or to tell
    well (a few jiffies); a run Foreign cannot judge is then judged by the
    machine's busy share in the 0.25 s just before it (our pool idle)."""
    done = []
    while len(done) < max_attempts and sum(not disturbed(f) for _, f in done) < runs:
        before = None
        if settle_first:
            settle(what)
            before = LAST_BUSY[0]
        meter = Foreign()
        result = run()
        share = meter.share()
        done.append((result, before if share is None else share))
        if disturbed(done[-1][1]):
            log(f"  {what}: others took {done[-1][1]:.0%} of the CPUs during a run: repeating it once the "
                "machine is idle")
            if not settle_first:  # else the next run settles first anyway
                settle(what)
    kept = [r for r, f in done if not disturbed(f)] or [r for r, _ in done]
    return done, kept


# ================================================================ scenario 1, one row (child process)

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
    wall s, results) of the kernel set by use(); stop()."""

    fn, which = kernel_sort, "sort"

    def use(self, which):
        self.fn, self.which = KERNELS[which], which

    def start(self, k):
        raise NotImplementedError

    def stop(self):
        raise NotImplementedError


class ExecutorTool(Tool):
    def __init__(self, make, chunks):
        self.make, self.chunks = make, chunks

    def start(self, k):
        self.pool = self.make(k)
        start_until_all_answer(k, lambda n: list(self.pool.map(pid, range(n))))

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
    def __init__(self, chunks):
        import multiprocessing
        self.ctx = multiprocessing.get_context("forkserver")
        self.chunks = chunks

    def start(self, k):
        self.pool = self.ctx.Pool(k)
        start_until_all_answer(k, lambda n: self.pool.map(pid, range(n), chunksize=1))

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
    def __init__(self, ray, ref, bounds):
        self.ray, self.ref, self.bounds = ray, ref, bounds
        self.remote = ray.remote(kernel_range)
        self.remote_noop = ray.remote(pid)

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

    def __init__(self, chunks):
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


def row_child(args):
    """Runs one row of scenario 1 and prints its JSON as the last line."""
    name = args._row
    n = args.mib * MiB // 8
    shoal_at_start = shoal_fingerprint() if name in ("shoal", "mpool") else None
    bounds = chunk_bounds(n, args.chunks)
    out = {"row": name}
    t = time.perf_counter()
    if name in ("shoal", "mpool"):
        import shoal
        buf = shoal.empty((n,), "float64")
        array = np.asarray(buf)
    else:
        array = np.empty(n, dtype=np.float64)
    fill(array, bounds)
    out["fill_s"] = time.perf_counter() - t
    chunks = [array[lo:hi] for lo, hi in bounds]
    ray = None
    if name == "shoal":
        import shoal
        tool = ExecutorTool(lambda k: shoal.ProcessPoolExecutor(max_workers=k), chunks)
    elif name == "stdlib":
        import concurrent.futures
        import multiprocessing
        ctx = multiprocessing.get_context("forkserver")
        tool = ExecutorTool(lambda k: concurrent.futures.ProcessPoolExecutor(max_workers=k, mp_context=ctx), chunks)
    elif name == "mpool":
        tool = MpPoolTool(chunks)
    elif name == "alone":
        tool = AloneTool(chunks)
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
        tool = RayTool(ray, ref, bounds)
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


# ================================================================ scenario 2, tiny tasks (child process)

def clustered_ratio(ratios_by_session, resamples=4000):
    """Median of the round-by-round ratios, with a 95% interval from a
    bootstrap over sessions (each resample draws whole sessions, then pools
    their rounds): rounds of one session share its pools, so the spread
    between sessions is part of the uncertainty, not just between rounds."""
    import random
    rng = random.Random(0)  # the same interval for the same data
    sessions = [r for r in ratios_by_session if r]
    medians = sorted(statistics.median([x for s in rng.choices(sessions, k=len(sessions)) for x in s])
                     for _ in range(resamples))
    every = [x for s in sessions for x in s]
    return {"median": statistics.median(every), "pairs": len(every), "sessions": len(sessions),
            "ci95": [medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]]}


def tiny_child(args):
    """All pools in this one process, their runs interleaved (A B C, C B A,
    ...): the difference sought is a few µs per task, and this VM drifts by
    more than that over the minutes separate processes would take. The pools
    are made afresh for each session (in a rotating order), because one pool
    keeps its own luck for its life (where its workers landed): two stdlib
    pools measured side by side differed by up to 15%, consistently within a
    session. The second stdlib pool is that control: its ratio to the first
    shows what this measurement can resolve."""
    import concurrent.futures
    import multiprocessing
    import shoal
    ctx = multiprocessing.get_context("forkserver")
    makers = {"shoal": lambda: shoal.ProcessPoolExecutor(max_workers=2),
              "stdlib": lambda: concurrent.futures.ProcessPoolExecutor(max_workers=2, mp_context=ctx),
              "stdlib_again": lambda: concurrent.futures.ProcessPoolExecutor(max_workers=2, mp_context=ctx)}
    T = args.tasks
    rounds = 2 * args.runs + 1
    sessions = min(rounds, TINY_SESSIONS)
    expect = [2 * i for i in range(T)]
    out = {name: {"row": name, "tasks": T, "runs": rounds, "sessions": sessions, "start_s": []} for name in makers}
    walls = {(name, cs): [] for name in makers for cs in (1, 100)}
    attempts = {(name, cs): [] for name in makers for cs in (1, 100)}
    ratios = {(name, cs): [] for name in ("shoal", "stdlib_again") for cs in (1, 100)}
    shoal_at_start = shoal_fingerprint()
    forkserver_s = start_forkserver()

    def once(pool, cs):
        t = time.perf_counter()
        got = list(pool.map(operator.add, range(T), range(T), chunksize=cs))
        wall = time.perf_counter() - t
        if got != expect:
            raise RuntimeError("tiny tasks: wrong results")
        return wall

    for session in range(sessions):
        names = list(makers)
        names = names[session % len(names):] + names[:session % len(names)]
        session_rounds = rounds * (session + 1) // sessions - rounds * session // sessions
        settle("tiny tasks")
        pools = {}
        try:
            for name in names:
                t = time.perf_counter()
                pool = pools[name] = makers[name]()
                start_until_all_answer(2, lambda n: list(pool.map(pid, range(n))))
                out[name]["start_s"].append(time.perf_counter() - t)
            for cs in (1, 100):
                for pool in pools.values():
                    list(pool.map(operator.add, range(T // 10), range(T // 10), chunksize=cs))  # warm
                session_ratios = {name: [] for name in ("shoal", "stdlib_again")}
                for i in range(session_rounds):
                    this_round = {}
                    for name in (names if i % 2 == 0 else names[::-1]):
                        done, got = timed_runs(lambda: once(pools[name], cs), 1, 3,
                                               f"tiny {name}, chunksize {cs}")
                        attempts[name, cs] += done
                        walls[name, cs] += got
                        this_round[name] = statistics.median(got)
                    for name in session_ratios:
                        session_ratios[name].append(this_round[name] / this_round["stdlib"])
                for name, r in session_ratios.items():
                    ratios[name, cs].append(r)
        finally:
            for pool in pools.values():
                pool.shutdown()
    for name in makers:
        out[name]["forkserver_start_s"] = forkserver_s
        out[name]["start_s"] = statistics.median(out[name]["start_s"])
        for cs in (1, 100):
            w = statistics.median(walls[name, cs])
            out[name][f"chunksize_{cs}"] = cell = {
                "wall_s": w, "per_task_us": w / T * 1e6, "all_wall_s": walls[name, cs],
                "all_attempts": [{"wall_s": r, "others_share": f} for r, f in attempts[name, cs]],
                "disturbed": sum(disturbed(f) for _, f in attempts[name, cs])}
            log(f"  tiny {name:12s} chunksize {cs:3d}: {w:.3f} s for {T:,} tasks = {w / T * 1e6:.1f} µs/task "
                f"(median of {len(walls[name, cs])}; "
                f"{min(walls[name, cs]) / T * 1e6:.1f}-{max(walls[name, cs]) / T * 1e6:.1f})")
            if (name, cs) in ratios:
                cell["vs_stdlib"] = ratio = clustered_ratio(ratios[name, cs])
                log(f"  tiny {name}/stdlib chunksize {cs:3d}: {ratio['median']:.3f} (95% CI "
                    f"{ratio['ci95'][0]:.3f}-{ratio['ci95'][1]:.3f}, {ratio['pairs']} rounds in "
                    f"{ratio['sessions']} sessions)")
    out["shoal"]["shoal"] = [shoal_at_start, shoal_fingerprint()]
    return out


# ================================================================ the orchestrator



def parallel_floor():
    """parallel_floor_once, repeated (up to 3 times) while others took over
    10% of the CPUs during it."""
    done, kept = timed_runs(parallel_floor_once, 1, 3, "the C floor")
    out = dict(kept[-1])
    out["others_share"] = [f for _, f in done]
    return out


def parallel_floor_once():
    """floors.c's parallel floor now: (one process doing a CPU-bound C loop)
    / (two processes doing half each), median of 5 rounds; or a reason."""
    try:
        exe = build_floors()
        if not exe:
            return {"na": "no C compiler (cc) on PATH"}
        out = subprocess.run([exe, "0", "0", "parallel"], check=True, capture_output=True, text=True, timeout=120)
        return {"parallel_speedup": json.loads(out.stdout)["parallel_speedup"]}
    except (subprocess.SubprocessError, ValueError, KeyError, OSError) as e:
        return {"error": f"failed: {type(e).__name__}: {str(e)[:200]}"}


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


def shoal_fingerprint():
    """Which shoal is measured: the installed package's files (hash and
    time), beside the tree's commit and whether the installed
    process_pool.py is the tree's. Taken without importing shoal."""
    import hashlib
    import importlib.util
    spec = importlib.util.find_spec("shoal")
    if spec is None or not spec.submodule_search_locations:
        return {"installed": False}
    pkg = list(spec.submodule_search_locations)[0]
    h, newest = hashlib.sha256(), 0.0
    for name in sorted(os.listdir(pkg)):
        path = os.path.join(pkg, name)
        if os.path.isfile(path) and (name.endswith(".py") or name.endswith(".so")):
            with open(path, "rb") as f:
                h.update(name.encode() + f.read())
            newest = max(newest, os.path.getmtime(path))
    out = {"installed": True, "path": pkg, "sha256": h.hexdigest()[:16],
           "installed_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(newest))}
    try:
        out["git_head"] = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                                         text=True, timeout=10).stdout.strip()
        with open(os.path.join(pkg, "process_pool.py"), "rb") as a, \
                open(os.path.join(ROOT, "pymodule", "shoal", "process_pool.py"), "rb") as b:
            out["process_pool_py_as_in_tree"] = a.read() == b.read()
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / (1 << 20):.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    from importlib.metadata import version
    versions = {"CPython": platform.python_version(), "numpy": np.__version__}
    for pkg in ("shoal", "ray"):
        try:
            versions[pkg] = version(pkg)
        except Exception:
            versions[pkg] = "not installed"
    return {"cpu": cpu, "cores": os.cpu_count(), "ram": mem, "platform": platform.platform(),
            "versions": versions, "load_start": os.getloadavg(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


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
            md = report(json.load(f))
        with open(os.path.splitext(args.from_json)[0] + ".md", "w") as f:
            f.write("\n".join(md) + "\n")
        print("\n".join(md))
        return

    if args._row or args._tiny:
        out = row_child(args) if args._row else tiny_child(args)
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


# ================================================================ report

def fs(x):
    if x is None:
        return "–"
    return f"{x * 1e3:.0f} ms" if x < 1 else f"{x:.2f} s"


def mem(cell, R):
    idle = cell.get("pss_idle_bytes")
    return f"{cell['pss_copies']:.2f}" + (f" ({idle / (R['mib'] * MiB):.2f})" if idle else "")


def report(R):
    m, v = R["machine"], R["machine"]["versions"]
    size = f"{R['mib'] / 1024:g} GiB" if R["mib"] >= 1024 else f"{R['mib']} MiB"
    L = [f"# shoal.ProcessPoolExecutor beside process pools{' (quick run)' if R['quick'] else ''}", "",
         f"Machine: {m['cpu']}, {m['cores']} vCPUs, {m['ram']} RAM, {m['platform']}; CPython {v['CPython']}, "
         f"numpy {v['numpy']}, shoal {v['shoal']}, ray {v['ray']}; load average {m['load_start'][0]:.2f} at start, "
         f"{m['load_end'][0]:.2f} at end; {m['date']}; {R['wall_s']:.0f} s. Command: `{R['command']}`.", ""]
    fp = R.get("shoal_measured") or R.get("shoal_at_start", {})
    if fp.get("installed"):
        L[-1:-1] = [f"shoal measured: the package installed in the venv at {fp['installed_at']} (files sha256 "
                    f"{fp['sha256']}; tree at {fp.get('git_head', '?')}, installed process_pool.py "
                    f"{'the same as' if fp.get('process_pool_py_as_in_tree') else 'DIFFERENT from'} the tree's)"
                    + (".  **It was reinstalled while rows using it ran: rows may mix two versions.**"
                       if R.get("shoal_mixed") else ", the same in every row that uses it.")]
    normalize(R)
    K = R["kernels"]
    if any(R["compute"].get(which) for which in K):
        fb = R.get("floor_before", {}).get("parallel_speedup")
        fa = R.get("floor_after", {}).get("parallel_speedup")
        L += [f"**Compute**: a float64 array of {size} (2**{(R['mib'] * MiB // 8).bit_length() - 1} doubles) in "
              f"{R['chunks']} chunks; {len(K)} kernel(s) per chunk, a table each: "
              + "; ".join(f"`{which}` = {text}" for which, text in K.items())
              + (" (both run in the same row process, over the same array, one after the other)" if len(K) > 1 else "")
              + f". Wall = median of {R['runs']} run(s) after a warm-up "
              "run, pool start excluded (reported: pool created until every worker answered a 10 ms task; the "
              "forkserver, shared by a process's pools, is started before it; a fresh pool per cell). First "
              "result = submission until the first chunk's result. Memory = peak over the warm-up run of the PSS "
              "summed over the row's process and all its descendants, sampled every 0.1 s, in copies of the array "
              "(in parentheses: the same "
              "with the pool started and the data in place, before the run; every Python process with NumPy "
              "holds about 30-40 MiB of its own). Workers start "
              "with forkserver in every pool. Each row runs in its own fresh process.", ""]
        for which in K:
            C = R["compute"].get(which) or {}
            if not C:
                continue
            L += [f"*Kernel `{which}`*: {K[which]}.", "",
                  "| row | 1 worker | 2 workers | speed-up | first result (1 / 2) | pool start (1 / 2) | memory in copies: peak (idle), 1 / 2 |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
            repeated, few_samples, settled = [], [], []
            for name, label in ROWS.items():
                r = C.get(name)
                if r is None:
                    continue
                if "na" in r or "error" in r:
                    L.append(f"| {label} | {r.get('na') or r.get('error')} | | | | | |")
                    continue
                a, b = r["1"], r["2"]
                start = f"{fs(a['start_s'])} / {fs(b['start_s'])}"
                if name == "ray":
                    start += f" (+ ray.init {fs(r['ray_init_s'])}, ray.put {fs(r['ray_put_s'])}, once for the row)"
                if name == "alone":
                    start = "–"
                bad = " (results differ!)" if a.get("digest_mismatch") or b.get("digest_mismatch") else ""
                for k, c in (("1", a), ("2", b)):
                    if c.get("disturbed"):
                        repeated.append(f"{name} {k}: {c['disturbed']} of {len(c['all_attempts'])}"
                                        + (" (all: kept, marked †)" if not c.get("undisturbed") else ""))
                    if c.get("pss_samples", 99) < 5:
                        few_samples.append(f"{name} {k} ({c['pss_samples']})")
                    if c.get("settled_before_each_run"):
                        settled.append(f"{name} {k}")
                dag = lambda c: "" if c.get("undisturbed", 1) else " †"  # noqa: E731
                L.append(f"| {label}{bad} | {fs(a['wall_s'])}{dag(a)} | {fs(b['wall_s'])}{dag(b)} | {r['speedup']:.2f}x | "
                         f"{fs(a['first_result_s'])} / {fs(b['first_result_s'])} | {start} | "
                         f"{mem(a, R)} / {mem(b, R)} |")
            L.append(f"| floor: C loop on 2 processes vs 1 (bench/floors.c), before / after | | | "
                     f"{fb if fb is None else f'{fb:.2f}x'} / {fa if fa is None else f'{fa:.2f}x'} | | | |")
            L.append("")
            cells = [(n, k, r[k]) for n, r in C.items() for k in ("1", "2") if k in r]
            if cells:
                same = not any(c.get("digest_mismatch") for _, _, c in cells)
                L.append(f"Results ({DIGEST_TEXT.get(which, 'two order-fixed sums')}) "
                         f"{'identical in every row and cell' if same else 'DIFFER between rows'}: "
                         f"{cells[0][2]['digest'][0]!r}, {cells[0][2]['digest'][1]!r}."
                         + (" Time to first result varies with where a run starts in a cycle that is not the "
                            "pool's: on this machine one call of the kernel in four can take about 130 ms more than "
                            "the others, in any process, over a plain NumPy array too." if which == "sort" else ""))
                L.append("")
            L.append("Timed runs during which other processes (or the host, as steal) took more than 10% of the CPUs "
                     "were repeated, up to a limit, and left out of the median: "
                     + ("; ".join(repeated) if repeated else "none") + "."
                     + (f" Runs too short for that check (warm-up under {SHORT_RUN_S:g} s) each waited for the machine "
                        "to go idle first, and were judged by its busy share in the 0.25 s before the run when "
                        "shorter than 0.1 s of 2 CPUs: " + ", ".join(settled) + "." if settled else "")
                     + (" Memory sampled fewer than 5 times over the warm-up run (it was shorter than 0.5 s), so its "
                        "peak may be missed: " + ", ".join(few_samples) + "." if few_samples else ""))
            L.append("")
        L += targets(R)
        L += above_floor(R)
    T = R.get("tiny") or {}
    if T:
        tasks = next((t["tasks"] for t in T.values() if "tasks" in t), None)
        first = next((t for t in T.values() if "tasks" in t), {})
        L += ["", f"**Tiny tasks**: `list(pool.map(operator.add, range(T), range(T), chunksize=c))`, T = {tasks:,}, "
              f"2 warm workers (forkserver), all pools in one process, their runs interleaved, the pools made "
              f"afresh in each of {first.get('sessions', 1)} sessions; wall / T, median of "
              f"{first.get('runs', R['runs'])} runs each (in parentheses: the fastest and slowest run). The second "
              "stdlib pool is the control: its ratio to the first is what this measurement can resolve.", "",
              "| pool | chunksize 1: per task | chunksize 100: per task | pool start |", "| --- | ---: | ---: | ---: |"]
        tiny_repeated = []
        for name, label in TINY_ROWS.items():
            r = T.get(name)
            if r is None:
                continue
            if "error" in r or "na" in r:
                L.append(f"| {label} | {r.get('na') or r.get('error')} | | |")
                continue
            def per_task(c, digits):
                us = [w / r["tasks"] * 1e6 for w in c["all_wall_s"]]
                return (f"{c['per_task_us']:.{digits}f} µs" + (f" ({min(us):.{digits}f}–{max(us):.{digits}f})"
                                                                 if len(us) > 1 else ""))
            L.append(f"| {label} | {per_task(r['chunksize_1'], 1)} | {per_task(r['chunksize_100'], 2)}"
                     f" | {fs(r['start_s'])} |")
            for cs in (1, 100):
                c = r[f"chunksize_{cs}"]
                if c.get("disturbed"):
                    tiny_repeated.append(f"{name} chunksize {cs}: {c['disturbed']} of {len(c['all_attempts'])}")
        for name in ("shoal", "stdlib_again"):
            ratios = [(cs, T[name][f"chunksize_{cs}"]["vs_stdlib"]) for cs in (1, 100)
                      if "vs_stdlib" in T.get(name, {}).get(f"chunksize_{cs}", {})]
            if ratios:
                L += ["", f"{TINY_ROWS[name]} / stdlib, round by round (the pools ran back to back in each round): "
                      + "; ".join(f"chunksize {cs}: median {r['median']:.3f}, 95% bootstrap interval "
                                  f"{r['ci95'][0]:.3f}–{r['ci95'][1]:.3f} over {r['pairs']} rounds in "
                                  f"{r.get('sessions', 1)} sessions" for cs, r in ratios) + "."]
        verdicts = []
        for cs in (1, 100):
            r = T.get("shoal", {}).get(f"chunksize_{cs}", {}).get("vs_stdlib")
            if r:
                lo, hi = r["ci95"]
                verdicts.append(f"chunksize {cs}: " + ("met, shoal measurably cheaper" if hi < 1 else
                                                       "met, no difference this run can resolve" if lo <= 1 else
                                                       f"not met, shoal {lo:.2f}–{hi:.2f}x the stdlib's"))
        if verdicts:
            L += ["", "Target, per-task overhead no worse than the stdlib pool's: " + "; ".join(verdicts) + "."]
        L += ["", "Runs repeated because other processes took more than 10% of the CPUs: "
              + ("; ".join(tiny_repeated) if tiny_repeated else "none") + "."]
    return L


def normalize(R):
    """Results written before the light kernel (one kernel, "kernel" and
    compute = row -> cells) read as the new shape: kernels and compute =
    kernel -> row -> cells."""
    if "kernels" not in R:
        R["kernels"] = {"sort": R.get("kernel", KERNEL_TEXT["sort"])}
        R["compute"] = {"sort": R.get("compute") or {}}
    return R


def fsd(x):
    """A signed duration."""
    return f"{x * 1e3:+.0f} ms" if abs(x) < 1 else f"{x:+.2f} s"


def ok(r):
    return r is not None and "1" in r and "2" in r


def targets(R):
    size = f"{R['mib'] / 1024:g} GiB" if R["mib"] >= 1024 else f"{R['mib']} MiB"
    floors = [f["parallel_speedup"] for f in (R.get("floor_before", {}), R.get("floor_after", {})) if "parallel_speedup" in f]
    floor_txt = ", ".join(f"{x:.2f}x" for x in floors) or "not measured"
    L = ["**Targets** (reported, not asserted), each judged on each kernel:", "",
         "| target | kernel | verdict | measured |", "| --- | --- | --- | --- |"]
    rows = {"speedup": [], "ray": [], "stdlib": []}
    tenx = {}
    for which in R["kernels"]:
        C = R["compute"].get(which) or {}
        s, ray, std, alone = C.get("shoal"), C.get("ray"), C.get("stdlib"), C.get("alone")
        kern = f"`{which}`"
        if not ok(s):
            rows["speedup"].append(f"| all | {kern} | n/a | the shoal row did not run |")
            continue
        sp = s["speedup"]
        if floors and max(floors) >= 1.9:
            verdict = "MET" if sp >= 1.8 else "NOT MET"
        else:
            verdict = f"n/a (the C floor was below 1.9x; {'≥' if sp >= 1.8 else '<'} 1.8x)"
        own = ""
        if ok(alone):
            own = f"; the kernel's own floor (two forked processes, no pool): {alone['speedup']:.2f}x"
            if alone["speedup"] < 1.8 and sp < 1.8:
                own += " (below 1.8x: out of reach for any pool on this machine)"
        rows["speedup"].append(f"| ≥ 1.8x speed-up on 2 workers where the C floor is ≥ 1.9x | {kern} | {verdict} | "
                               f"{sp:.2f}x; C floor before / after: {floor_txt}{own} |")
        if ok(ray):
            ratio = s["2"]["wall_s"] / ray["2"]["wall_s"]
            r1 = s["1"]["wall_s"] / ray["1"]["wall_s"]
            rows["ray"].append(f"| shoal wall within 10% of Ray's or better (2 workers) | {kern} | "
                               f"{'MET' if ratio <= 1.10 else 'NOT MET'} | shoal / Ray = {ratio:.3f} "
                               f"({fs(s['2']['wall_s'])} vs {fs(ray['2']['wall_s'])}); 1 worker: {r1:.3f} |")
        else:
            rows["ray"].append(f"| shoal wall within 10% of Ray's or better | {kern} | n/a | Ray: "
                               f"{(ray or {}).get('na') or (ray or {}).get('error') or 'not run'} |")
        if ok(std):
            x2 = std["2"]["wall_s"] / s["2"]["wall_s"]
            x1 = std["1"]["wall_s"] / s["1"]["wall_s"]
            tenx[which] = x2
            extra = ""
            if ok(alone):
                a1, a2 = alone["1"]["wall_s"], alone["2"]["wall_s"]
                extra = (f"; ceiling (stdlib / no pool: a pool costing nothing) {std['2']['wall_s'] / a2:.2f}x on 2, "
                         f"{std['1']['wall_s'] / a1:.2f}x on 1; time above the no-pool floor ({fs(a2)} on 2, {fs(a1)} "
                         f"on 1): stdlib {fsd(std['2']['wall_s'] - a2)} / {fsd(std['1']['wall_s'] - a1)}, shoal "
                         f"{fsd(s['2']['wall_s'] - a2)} / {fsd(s['1']['wall_s'] - a1)} (2 / 1 workers)")
            rows["stdlib"].append(f"| ≥ 10x faster than the stdlib pool at {size} | {kern} | "
                                  f"{'MET' if x2 >= 10 else 'NOT MET'} | stdlib / shoal wall = {x2:.2f}x on 2 workers, "
                                  f"{x1:.2f}x on 1{extra} |")
        else:
            rows["stdlib"].append(f"| ≥ 10x faster than the stdlib pool at {size} | {kern} | n/a | stdlib: "
                                  f"{(std or {}).get('na') or (std or {}).get('error') or 'not run'} |")
    L += rows["speedup"] + rows["ray"] + rows["stdlib"]
    if tenx:
        held = [f"`{k}` ({x:.1f}x)" for k, x in tenx.items() if x >= 10]
        not_held = [f"`{k}` ({x:.1f}x)" for k, x in tenx.items() if x < 10]
        verdict = " and ".join(p for p in ((f"met with {', '.join(held)}" if held else ""),
                                           (f"not met with {', '.join(not_held)}" if not_held else "")) if p)
        L += ["", f"The 10x target (2 workers) is {verdict}."]
        costs = []
        for which in tenx:
            C = R["compute"][which]
            if ok(C.get("alone")):
                a2 = C["alone"]["2"]["wall_s"]
                costs.append(f"`{which}`: floor {fs(a2)}, stdlib {fsd(C['stdlib']['2']['wall_s'] - a2)}, shoal "
                             f"{fsd(C['shoal']['2']['wall_s'] - a2)}, ceiling {C['stdlib']['2']['wall_s'] / a2:.1f}x")
        if costs:
            L[-1] += (" On 2 workers the ratio is (floor + the stdlib pool's cost) / (floor + shoal's cost), where "
                      "floor = the kernel on two processes without a pool, and the stdlib pool's cost is pickling and "
                      "copying the chunks; it can be at most the ceiling stdlib / floor, reached by a pool that "
                      "costs nothing: " + "; ".join(costs) + ".")
    return L


def above_floor(R):
    """Every row's wall minus the no-pool row's (alone), per kernel and
    worker count: what each way of getting chunks to workers costs."""
    K = [w for w in R["kernels"] if ok((R["compute"].get(w) or {}).get("alone"))]
    if not K:
        return []
    head = " | ".join(f"`{w}`, {k} worker{'s' if k == '2' else ''}" for w in K for k in ("1", "2"))
    L = ["", "**Time above the no-pool floor** (row's wall minus the alone row's wall, same kernel, same worker "
         "count; the floor itself in the last line):", "",
         f"| row | {head} |", "| --- |" + " ---: |" * (2 * len(K))]
    for name, label in ROWS.items():
        if name == "alone":
            continue
        cells = []
        for w in K:
            r, a = R["compute"][w].get(name), R["compute"][w]["alone"]
            for k in ("1", "2"):
                cells.append(fsd(r[k]["wall_s"] - a[k]["wall_s"]) if ok(r) else "–")
        L.append(f"| {name} | " + " | ".join(cells) + " |")
    L.append("| floor (alone) | " + " | ".join(fs(R["compute"][w]["alone"][k]["wall_s"]) for w in K for k in ("1", "2"))
             + " |")
    return L


if __name__ == "__main__":
    main()
