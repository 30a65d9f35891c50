"""Measuring on a shared machine, for process_bench.py: progress lines,
waiting for the machine to go idle, the share of the CPUs others took
during a run (a disturbed run is repeated), the peak PSS of a process
tree, a pool's start, and what was measured (the machine, the installed
shoal, the C parallel floor). Runs in the orchestrator and in the rows'
processes, never in a pool's workers."""

import json
import os
import platform
import subprocess
import sys
import threading
import time

import numpy as np

from machine import build_floors, cpu_busy_fraction, tree_pids, tree_pss

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T0 = time.monotonic()


def log(msg):
    el = time.monotonic() - T0
    print(f"[{int(el) // 60:2d}:{int(el) % 60:02d}] {msg}", file=sys.stderr, flush=True)


# ================================================================ pools


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


# ================================================================ the C floor, the machine, the shoal measured


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
