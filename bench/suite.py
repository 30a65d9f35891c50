"""shoal side by side with what people use today: one command, every scenario.

    bash scripts/bench.sh [--quick]          # installs the peers, then runs this
    python bench/suite.py [--quick] [--update-report] [--only transfer,pingpong,...]

Scenarios (each a table; ratios are peer / shoal):
  1. transfer  one-way hand-off of a float64 array of 1 KiB, 1 MiB, 64 MiB,
               1 GiB, producer -> consumer, between interpreters and between
               processes; the consumer reads one byte per 4 KiB page;
               producer and consumer pinned to a CPU each (plus a shoal
               row left to the kernel's placement);
  2. pingpong  round trip of a small int: p50, p99;
  3. throughput small messages per second, 1 producer/1 consumer and 2/2;
  4. fanout    one array to 8 consumers: time until all 8 have read it, and
               the machine's extra memory (/proc/meminfo Shmem + AnonPages);
  5. compute   CPU-bound pure Python over a shared array: speed-up of 2
               workers over 1.
Plus the machine's floors from a small C helper (bench/floors.c) built with
the system cc in the same run, and the targets with MET / NOT MET.

Peers that cannot be installed or cannot run here get a row saying why.
Raw numbers: bench/results/suite.json (--quick: build/bench-quick/), the
tables in suite.md, the plot transfer.png. Progress goes to stderr.
"""

import argparse
import json
import os
import pickle
import platform
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import shoal  # noqa: E402

import workloads  # noqa: E402
from machine import build_floors, tree_pids  # noqa: E402

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
BEGIN, END = "<!-- suite-bench:begin -->", "<!-- suite-bench:end -->"
T0 = time.monotonic()
STEP = [0, 0]


def log(msg):
    el = time.monotonic() - T0
    print(f"[{int(el) // 60:2d}:{int(el) % 60:02d}] {msg}", file=sys.stderr, flush=True)


def cpu_busy_fraction(window_s):
    """The share of all CPUs' time spent busy over `window_s` (/proc/stat),
    or None where there is no /proc/stat."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)          # idle + iowait
        return sum(v), idle
    try:
        t0, i0 = sample()
        time.sleep(window_s)
        t1, i1 = sample()
    except OSError:
        return None
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def settle(what, limit_s=20.0, busy_below=0.05):
    """Waits until the machine is idle before `what` is measured: processes
    a previous scenario stopped (Ray's daemons, fan-out's readers and the
    pages they free) go on using a CPU for seconds after they are told to,
    and on 2 cores that is half of a 2-worker measurement (seen: 1.50x
    measured 2 s after Ray stopped, 1.93x for the next row). Returns the
    seconds waited; gives up after `limit_s` and says so."""
    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        busy = cpu_busy_fraction(0.25)
        if busy is None or busy < busy_below:
            return time.monotonic() - start
    log(f"  the machine stayed busy ({busy:.0%} of its CPUs) for {limit_s:.0f} s before {what}: measuring anyway")
    return time.monotonic() - start


# ================================================================ launching

class SubinterpWorkers:
    SRC = ("import sys; sys.path.insert(0, {here!r})\n"
           "import workloads\n"
           "workloads.run({spec!r})\n")

    def __init__(self, specs):
        import _interpreters
        self.low = _interpreters
        self.failures = []
        self.interps = [_interpreters.create("isolated") for _ in specs]
        srcs = [self.SRC.format(here=HERE, spec=pickle.dumps(s)) for s in specs]

        def go(i, src):
            f = _interpreters.exec(i, src)
            if f is not None:
                self.failures.append(f.errdisplay)
        self.threads = [threading.Thread(target=go, args=(i, s), daemon=True)
                        for i, s in zip(self.interps, srcs)]
        for t in self.threads:
            t.start()

    def alive(self):
        return not self.failures

    def join(self):
        for t in self.threads:
            t.join(60)
        for t, i in zip(self.threads, self.interps):
            if t.is_alive():
                # still running (a worker stuck after a failure): destroying it
                # would fail, and the process could crash at exit; leave it
                log("  (a subinterpreter is still running: left alive, not destroyed)")
                continue
            try:
                self.low.destroy(i)
            except Exception as e:
                log(f"  (destroying a subinterpreter: {e})")


class ProcessWorkers:
    def __init__(self, specs):
        import multiprocessing as mp
        ctx = mp.get_context("spawn")
        self.procs = [ctx.Process(target=workloads.run, args=(s,), daemon=True) for s in specs]
        for p in self.procs:
            p.start()

    def alive(self):
        return all(p.exitcode in (None, 0) for p in self.procs)

    def join(self):
        for p in self.procs:
            p.join(60)
            if p.is_alive():
                p.kill()


class ThreadWorkers:
    def __init__(self, specs):
        self.threads = [threading.Thread(target=workloads.run, args=(s,), daemon=True) for s in specs]
        for t in self.threads:
            t.start()

    def alive(self):
        return True

    def join(self):
        for t in self.threads:
            t.join(60)


def start(where, specs):
    return {"interp": SubinterpWorkers, "proc": ProcessWorkers, "thread": ThreadWorkers}[where](specs)


TIMEOUT_SCALE = [1.0]     # --quick: a stuck peer fails its row in seconds, not minutes


def wait_res(res, workers, timeout=300.0):
    timeout = max(30.0, timeout * TIMEOUT_SCALE[0]) if TIMEOUT_SCALE[0] < 1 else timeout
    deadline = time.monotonic() + timeout
    while True:
        try:
            m = res.recv(timeout=1.0)
        except TimeoutError:
            if not workers.alive():
                fails = getattr(workers, "failures", [])
                raise RuntimeError("a worker died" + (": " + fails[0][-300:] if fails else ""))
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out after {timeout:.0f} s")
            continue
        if m[0] == "error":
            raise RuntimeError(f"{m[1]}: {m[2]}")
        return m


def collect(res, workers, n, timeout=300.0):
    return [wait_res(res, workers, timeout) for _ in range(n)]


# ================================================================ peers

class Unavailable(Exception):
    """A peer that cannot run here; the message is the table's row."""


PEERS = {
    "shoal": "shoal.Channel",
    "shoal_poll": "shoal.Channel (receiver busy-polls try_recv, like iceoryx2's row)",
    "shoal_free": "shoal.Channel, CPUs not pinned (the kernel places both)",
    "xiq": "CPython cross-interpreter queue (copies each item)",
    "xiq_spin": "CPython cross-interpreter queue (busy poll)",
    "ipe": "InterpreterPoolExecutor",
    "tq": "threads + queue.Queue (no copy, one GIL)",
    "mpq": "multiprocessing.Queue",
    "pipe": "multiprocessing.Pipe",
    "shm": "multiprocessing.shared_memory (name passed by hand)",
    "ppe": "ProcessPoolExecutor",
    "ray": "Ray object store (ray.put / ray.get)",
    "iox": "iceoryx2 publish/subscribe (receiver busy-polls)",
    "iox_ev": "iceoryx2 publish/subscribe + event (receiver sleeps)",
}

PICKLING = ("xiq", "mpq", "ppe", "ipe")


class Env:
    """What this run has: the spawn context, versions, Ray, options."""

    def __init__(self, args):
        import multiprocessing as mp
        self.args = args
        self.quick = args.quick
        self.mp = mp.get_context("spawn")
        self.versions = {}
        self.missing = {}
        self._ray = None
        self.ray_skip = None
        for mod, pkg in (("numpy", "numpy"), ("ray", "ray"), ("iceoryx2", "iceoryx2"), ("matplotlib", "matplotlib")):
            try:
                from importlib.metadata import version
                __import__(mod)
                self.versions[pkg] = version(pkg)
            except Exception as e:
                self.missing[pkg] = f"not installed ({type(e).__name__}: {str(e)[:80]})"
        if self.quick:
            self.ray_skip = "skipped in --quick (Ray takes long to start)"

    def need(self, kind, where):
        if self.args.peers and kind not in self.args.peers.split(","):
            raise Unavailable("not selected (--peers)")
        if kind == "ipe":
            import concurrent.futures as cf
            if not hasattr(cf, "InterpreterPoolExecutor"):
                raise Unavailable(f"not in this Python ({platform.python_version()}; new in 3.14)")
        if kind in ("xiq", "xiq_spin"):
            try:
                import test.support.interpreters.queues  # noqa: F401
            except ImportError as e:
                raise Unavailable(f"not in this Python ({e})")
        if kind == "ray":
            if "ray" in self.missing:
                raise Unavailable("ray " + self.missing["ray"])
            if self.ray_skip:
                raise Unavailable(self.ray_skip)
        if kind.startswith("iox") and "iceoryx2" in self.missing:
            raise Unavailable("iceoryx2 " + self.missing["iceoryx2"])

    def ray(self):
        if self._ray is None:
            import ray
            log("  starting Ray (local, 2 CPUs) ...")
            os.environ.setdefault("RAY_DISABLE_IMPORT_WARNING", "1")
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                     object_store_memory=3 * GiB, configure_logging=False)
            self._ray = ray
        return self._ray

    def stop_ray(self):
        """Ray's idle daemons take about 4% of a core here (measured with
        every process's CPU time over 10 s: 5.9% of one core with Ray up,
        2.1% after shutdown), which the next scenarios would pay for, the
        2-worker compute most: each scenario that uses Ray stops it after."""
        if self._ray is not None:
            log("  stopping Ray ...")
            self._ray.shutdown()
            self._ray = None


def ray_consumer_class(ray):
    """Defined in a function so that Ray ships it by value."""
    @ray.remote(num_cpus=0)
    class Consumer:
        def take(self, refs):
            import time as _t
            obj = ray.get(refs[0])
            t1 = _t.perf_counter()
            mv = memoryview(obj).cast("B")
            a = _t.perf_counter()
            s = 0
            for i in range(0, mv.nbytes, 4096):
                s += mv[i]
            b = _t.perf_counter()
            return t1, b - a, (type(obj).__name__, mv.nbytes, s), b

        def echo(self, x):
            return x

        def ready(self):
            return True
    return Consumer


# ================================================================ 1. transfer

def transfer_sizes(env):
    if env.args.max_size:
        return [s for s in (KiB, MiB, 64 * MiB, GiB) if s <= shoal.parse_size(env.args.max_size)]
    return [KiB, MiB, 16 * MiB] if env.quick else [KiB, MiB, 64 * MiB, GiB]


def reps_for(env, nbytes, kind):
    """Repetitions of one transfer. Peers that copy take seconds per large
    repetition and differ from shoal by orders of magnitude: a few do.
    Zero-copy peers differ from shoal by microseconds that the host's
    moods move by as much (one repetition in several stands out), so
    their medians take more."""
    if env.quick:
        return 3
    copies = kind in PICKLING or kind == "ray"
    if nbytes <= MiB:
        return 11 if copies else 21
    if nbytes <= 64 * MiB:
        return 5 if copies else 11
    return 2 if copies else 7


def transfer_cpus():
    """Two CPUs this process may use, for a transfer's producer and consumer,
    or (None, None) on one CPU. Pinned, every hand-off crosses cores: left
    to the kernel, a sleeping consumer is sometimes woken on its producer's
    CPU (a context switch: 4-17 µs in a C probe here) and sometimes on the
    other, idle one (a virtual CPU woken by the host: 23-132 µs), so which
    one a size happened to get would decide its time."""
    cpus = sorted(os.sched_getaffinity(0))
    return (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)


def transfer_pair(env, where, kind, sizes, row, pinned=True):
    """Producer and consumer workers of a peer; fills row[size]. Pinned to
    a CPU each unless `pinned` is false."""
    ctl_p, ctl_c, res = shoal.Channel(8), shoal.Channel(8), shoal.Channel(16)
    if kind in ("shoal", "shoal_poll"):
        ep = shoal.Channel(capacity=4)
    elif kind == "xiq":
        import test.support.interpreters.queues as Q
        ep = Q.create(maxsize=4)
    elif kind == "tq":
        import queue
        ep = queue.Queue(4)
    elif kind in ("mpq", "shm"):
        ep = env.mp.Queue(4)
    elif kind in ("iox", "iox_ev"):
        ep = f"shoal-bench-{os.getpid()}-{time.monotonic_ns()}"
    else:
        raise ValueError(kind)
    numpy_ok = where != "interp"
    cpu_p, cpu_c = transfer_cpus() if pinned else (None, None)
    mk = lambda role, ctl, cpu: {"role": role, "kind": kind, "ep": ep, "ctl": ctl, "res": res, "numpy": numpy_ok,
                                 "announce": True, "cpu": cpu}
    workers = start(where, [mk("consumer", ctl_c, cpu_c), mk("producer", ctl_p, cpu_p)])

    def measure(nbytes, reps, write_first=0):
        """`reps` hand-offs of nbytes (the producer writing write_first
        bytes of another array just before, when given): one cell."""
        one_rep = None
        times, touches, ends, same_cpu = [], [], [], 0
        for r in range(reps):
            ctl_c.send(("recv",))
            time.sleep(0.005)                 # the consumer is waiting
            ctl_p.send(("send", nbytes, write_first))
            # Stay off the CPU while the hand-off runs (the producer
            # waits SETTLE_S first): on 2 cores a third runnable process
            # (this one spinning in res.recv) would steal a core from the
            # producer or a busy-polling consumer.
            time.sleep(workloads.SETTLE_S + 0.008)
            got = {m[0]: m for m in collect(res, workers, 2)}
            if got["c"][3][1] != nbytes:
                raise RuntimeError(f"received {got['c'][3][1]} bytes, sent {nbytes}")
            times.append(got["c"][1] - got["p"][1])
            touches.append(got["c"][2])
            ends.append(got["c"][4] - got["p"][1])
            one_rep = got["c"][3][0]
            same_cpu += got["c"][5] == got["p"][2]
            if kind == "shm":
                ctl_p.send(("release",))
                wait_res(res, workers)
        c = cell(times, touches, ends, one_rep)
        c["same_cpu"] = same_cpu
        log(f"  {where:6s} {kind:6s} {fmt_size(nbytes):>7s}"
            + (f" after writing {fmt_size(write_first)}" if write_first else "")
            + f": hand-off {fmt_t(c['handoff_s'])}, touch {fmt_t(c['touch_s'])} ({one_rep}; "
            f"{same_cpu} of {len(times)} on one CPU)")
        return c

    try:
        collect(res, workers, 2, 120)             # both started and connected
        for nbytes in sizes:
            row[str(nbytes)] = measure(nbytes, reps_for(env, nbytes, kind))
        # The smallest size again, sent right after the producer wrote an
        # array of the largest (held, not sent): what the largest one's
        # hand-off follows. Without it the two sizes differ in what came
        # before the send too: 2 ms of sleep against a large write, and right
        # after the same write a 1 KiB hand-off costs what the 1 GiB one does
        # (bench/trace_handoff.py; docs/performance.md, "Reading the hand-off rows").
        if kind == "shoal" and pinned and len(sizes) > 1:
            row["after_write"] = measure(sizes[0], reps_for(env, sizes[-1], kind), write_first=sizes[-1])
            row["after_write"]["write_first"] = sizes[-1]
    finally:
        for c in (ctl_p, ctl_c):
            try:
                c.try_send(("stop",))
            except Exception:
                pass
        workers.join()


def cell(times, touches, ends, typ):
    return {"handoff_s": statistics.median(times), "touch_s": statistics.median(touches),
            "total_s": statistics.median(ends), "all_handoff_s": times, "all_touch_s": touches,
            "received_type": typ, "reps": len(times)}


def transfer_driver(env, kind, sizes, row):
    """ProcessPoolExecutor and Ray: the driver is the producer."""
    import numpy as np
    if kind in ("ppe", "ipe"):
        import concurrent.futures as cf
        pool = (cf.ProcessPoolExecutor(1, mp_context=env.mp) if kind == "ppe"
                else cf.InterpreterPoolExecutor(1))
        pool.submit(workloads.echo, 0).result()            # started, warm
        call = lambda arr, t0: pool.submit(workloads.ppe_consume, arr).result()
        close = pool.shutdown
    else:
        ray = env.ray()
        actor = ray_consumer_class(ray).remote()
        ray.get(actor.ready.remote())

        def call(arr, t0):
            ref = ray.put(arr)
            return ray.get(actor.take.remote([ref]))
        close = lambda: ray.kill(actor)
    try:
        for nbytes in sizes:
            times, touches, ends, typ = [], [], [], None
            for r in range(reps_for(env, nbytes, kind)):
                arr = np.full(nbytes // 8, 1.0)
                if kind == "ipe":
                    arr = arr.tobytes()      # isolated interpreters cannot import NumPy: the bytes
                t0 = time.perf_counter()
                t1, tt, info, tend = call(arr, t0)
                del arr
                times.append(t1 - t0)
                touches.append(tt)
                ends.append(tend - t0)
                typ = info[0]
                if info[1] != nbytes:
                    raise RuntimeError(f"received {info[1]} bytes, sent {nbytes}")
            row[str(nbytes)] = cell(times, touches, ends, typ)
            log(f"  {'interp' if kind == 'ipe' else 'proc':6s} {kind:6s} {fmt_size(nbytes):>7s}: hand-off {fmt_t(row[str(nbytes)]['handoff_s'])}, "
                f"touch {fmt_t(row[str(nbytes)]['touch_s'])} ({typ})")
    finally:
        close()


TRANSFER = {
    "interp": ["shoal", "xiq", "ipe", "tq", "shoal_free"],
    "proc": ["shoal", "mpq", "shm", "ppe", "ray", "iox", "iox_ev", "shoal_poll", "shoal_free"],
}


def run_transfer(env):
    sizes = transfer_sizes(env)
    out = {"sizes": sizes, "pinned_cpus": [c for c in transfer_cpus() if c is not None]}
    for where, kinds in TRANSFER.items():
        out[where] = {}
        for kind in kinds:
            row = out[where][kind] = {}
            try:
                env.need(kind, where)
                if kind in ("ppe", "ray", "ipe"):
                    transfer_driver(env, kind, sizes, row)
                elif kind == "shoal_free":
                    transfer_pair(env, where, "shoal", sizes, row, pinned=False)
                else:
                    transfer_pair(env, "thread" if kind == "tq" else where, kind, sizes, row)
            except Unavailable as e:
                row["na"] = str(e)
                log(f"  {where:6s} {kind:6s}: {e}")
            except Exception as e:
                row["error"] = f"failed: {type(e).__name__}: {e}"[:300]
                log(f"  {where:6s} {kind:6s}: FAILED {e}")
    return out


# ================================================================ 2. ping-pong

PINGPONG = {
    "interp": ["shoal", "xiq", "xiq_spin", "ipe", "tq"],
    "proc": ["shoal", "mpq", "pipe", "shm", "ppe", "ray", "iox", "iox_ev"],
}


def pair_endpoints(env, kind, where, name=""):
    if kind == "shoal":
        return shoal.Channel(capacity=64), shoal.Channel(capacity=64)
    if kind in ("xiq", "xiq_spin"):
        import test.support.interpreters.queues as Q
        return Q.create(maxsize=64), Q.create(maxsize=64)
    if kind == "tq":
        import queue
        return queue.Queue(64), queue.Queue(64)
    if kind == "mpq":
        return env.mp.Queue(64), env.mp.Queue(64)
    if kind == "pipe":
        p = env.mp.Pipe()
        return p, p
    if kind in ("iox", "iox_ev"):
        base = f"shoal-bench-{os.getpid()}-{time.monotonic_ns()}{name}"
        return base + "-a", base + "-b"
    raise ValueError(kind)


def pingpong_driver(env, kind, n):
    if kind in ("ppe", "ipe"):
        import concurrent.futures as cf
        pool = (cf.ProcessPoolExecutor(1, mp_context=env.mp) if kind == "ppe"
                else cf.InterpreterPoolExecutor(1))
        pool.submit(workloads.echo, 0).result()
        f, close = (lambda i: pool.submit(workloads.echo, i).result()), pool.shutdown
    else:
        ray = env.ray()
        actor = ray_consumer_class(ray).remote()
        ray.get(actor.ready.remote())
        f, close = (lambda i: ray.get(actor.echo.remote(i))), (lambda: ray.kill(actor))
    lat = []
    try:
        for i in range(n + n // 10):
            a = time.perf_counter()
            if f(i) != i:
                raise RuntimeError("wrong echo")
            if i >= n // 10:
                lat.append(time.perf_counter() - a)
    finally:
        close()
    return lat


def run_pingpong(env):
    n = 300 if env.quick else 3000
    out = {"n": n}
    for where, kinds in PINGPONG.items():
        out[where] = {}
        for kind in kinds:
            row = out[where][kind] = {}
            try:
                env.need(kind, where)
                if kind == "shm":
                    raise Unavailable("n/a: shared memory alone carries no messages")
                count = n if kind != "xiq" else max(30, n // 20)
                count = count if kind not in ("ray", "ppe", "ipe") else max(100, n // 5)
                if kind in ("ppe", "ray", "ipe"):
                    lat = pingpong_driver(env, kind, count)
                else:
                    a, b = pair_endpoints(env, kind, where)
                    ctl, res = shoal.Channel(4), shoal.Channel(4)
                    bor = where == "interp" and kind == "pipe"
                    specs = [{"role": "pong", "kind": kind, "ep": b, "ep2": a, "ctl": None, "res": res,
                              "numpy": False, "borrowed_fds": bor},
                             {"role": "ping", "kind": kind, "ep": a, "ep2": b, "ctl": ctl, "res": res,
                              "numpy": False, "borrowed_fds": bor}]
                    w = start("thread" if kind == "tq" else where, specs)
                    try:
                        wait_res(res, w, 60)                    # pong ready
                        if kind.startswith("iox"):
                            time.sleep(0.3)
                        ctl.send(("go", count, max(10, count // 10)))
                        lat = wait_res(res, w, 600)[1]
                    finally:
                        w.join()
                lat.sort()
                row.update({"n": len(lat), "p50_s": pct(lat, 50), "p99_s": pct(lat, 99), "min_s": lat[0]})
                log(f"  {where:6s} {kind:8s}: p50 {fmt_t(row['p50_s'])}, p99 {fmt_t(row['p99_s'])} (n={len(lat)})")
            except Unavailable as e:
                row["na"] = str(e)
                log(f"  {where:6s} {kind:8s}: {e}")
            except Exception as e:
                row["error"] = f"failed: {type(e).__name__}: {e}"[:300]
                log(f"  {where:6s} {kind:8s}: FAILED {e}")
    return out


def pct(s, p):
    k = (len(s) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


# ================================================================ 3. throughput

THROUGHPUT_REPS = 5      # shoal's throughput rows: median of this many runs
THROUGHPUT = {
    "interp": ["shoal", "xiq", "ipe", "tq"],
    "proc": ["shoal", "mpq", "ppe", "ray", "iox", "iox_ev"],
}


def runs_note(row, sep=" "):
    """'runs: rate (spin round trip before it), ...' for a row with several runs."""
    rates, spins = row.get("all_msgs_per_s"), row.get("all_spin_rt_before_s")
    if not rates or len(rates) < 2:
        return ""
    parts = [f"{r / 1e6:.2f}M" + (f" ({fmt_t(sp)})" if sp else "") for r, sp in zip(rates, spins or [None] * len(rates))]
    return f"{sep}(runs: {', '.join(parts)})"


def throughput_once(env, kind, where, P, C, count):
    """One run of P producers and C consumers sending `count` small ints
    each; returns the row (msgs, seconds, msgs_per_s)."""
    a, _ = pair_endpoints(env, kind, where)
    ctl, res = shoal.Channel(8), shoal.Channel(64)
    specs = [{"role": "tp_consumer", "kind": kind, "ep": a, "res": res, "ctl": None,
              "stops": 1 if kind.startswith("iox") else P, "numpy": False, "nsub": C, "npub": P}
             for _ in range(C)]
    # iceoryx2: the consumer receives on ep2 (=a) and never sends
    for s in specs:
        s["ep2"] = a
    pspecs = [{"role": "tp_producer", "kind": kind, "ep": a, "ep2": a, "res": res, "ctl": ctl,
               "numpy": False, "nsub": C, "npub": P} for _ in range(P)]
    if kind.startswith("iox"):
        # each side needs a second service it does not use
        for s in specs:
            s["ep"] = a + "-unused-c"
        for s in pspecs:
            s["ep2"] = a + "-unused-p"
    w = start("thread" if kind == "tq" else where, specs + pspecs)
    try:
        collect(res, w, P + C, 60)
        if kind.startswith("iox"):
            time.sleep(0.3)
        for _ in range(P):
            ctl.send(("go", count, C))
        ms = collect(res, w, P + C, 600)
    finally:
        w.join()
    t0 = min(m[1] for m in ms if m[0] == "tp_p")
    t1 = max(m[1] for m in ms if m[0] == "tp_c")
    got = sum(m[2] for m in ms if m[0] == "tp_c")
    if not kind.startswith("iox") and got != P * count:
        raise RuntimeError(f"received {got} of {P * count}")
    row = {"msgs": got, "seconds": t1 - t0, "msgs_per_s": got / (t1 - t0)}
    if kind.startswith("iox") and got != count:
        row["note"] = f"{got} of {count} received (the subscriber buffer overflowed)"
    return row


def floor_now(mode, key, roundtrips=0, timeout=60):
    """One of floors.c's single measurements ("spin", "parallel") taken
    now, or None where it cannot be."""
    try:
        exe = build_floors()
        if not exe:
            return None
        out = subprocess.run([exe, "0", str(roundtrips), mode], check=True, capture_output=True, text=True,
                             timeout=timeout)
        return json.loads(out.stdout)[key]
    except (subprocess.SubprocessError, ValueError, KeyError):
        return None


def spin_round_trip_now():
    """The C spin round trip between two processes, measured now (2,000
    round trips): how far apart the machine has placed our two CPUs at this
    moment. On this project's virtual machines it moves between about 0.1
    and several tenths of a microsecond over minutes, and small-message
    throughput moves with it."""
    return floor_now("spin", "spin_rt_p50_s", roundtrips=2000, timeout=30)


def parallel_floor_now():
    """floors.c's parallel floor measured now: the speed-up a CPU-bound C
    loop gets from the two CPUs at this moment (the host's other work
    moves it), or None."""
    return floor_now("parallel", "parallel_speedup")


def run_throughput(env):
    count = 3000 if env.quick else 30000
    reps = 1 if env.quick else THROUGHPUT_REPS
    out = {"count_per_producer": count, "shoal_reps": reps}
    for where, kinds in THROUGHPUT.items():
        out[where] = {}
        for kind in kinds:
            out[where][kind] = {}
            for pc in ((1, 1), (2, 2)):
                key = f"{pc[0]}/{pc[1]}"
                row = out[where][kind][key] = {}
                try:
                    env.need(kind, where)
                    if kind in ("ppe", "ray", "ipe"):
                        raise Unavailable("n/a: a task or actor call per message (see ping-pong)")
                    if kind.startswith("iox") and pc != (1, 1):
                        raise Unavailable("n/a: publish/subscribe gives every subscriber every message, not a work queue")
                    if kind == "shoal":
                        # shoal's rows are the targets: the median of a few
                        # runs, each beside the spin round trip just before it
                        runs = []
                        for _ in range(reps):
                            spin = spin_round_trip_now()
                            one = throughput_once(env, kind, where, *pc, count)
                            one["spin_rt_before_s"] = spin
                            runs.append(one)
                        runs.sort(key=lambda r: r["msgs_per_s"])
                        row.update(runs[len(runs) // 2])
                        row["all_msgs_per_s"] = [r["msgs_per_s"] for r in runs]
                        row["all_spin_rt_before_s"] = [r["spin_rt_before_s"] for r in runs]
                    else:
                        row.update(throughput_once(env, kind, where, *pc, count))
                    log(f"  {where:6s} {kind:6s} {key}: {row['msgs_per_s']:,.0f} msgs/s"
                        + (f" (runs: {', '.join(f'{x:,.0f}' for x in row['all_msgs_per_s'])})" if "all_msgs_per_s" in row else ""))
                except Unavailable as e:
                    row["na"] = str(e)
                    log(f"  {where:6s} {kind:6s} {key}: {e}")
                except Exception as e:
                    row["error"] = f"failed: {type(e).__name__}: {e}"[:300]
                    log(f"  {where:6s} {kind:6s} {key}: FAILED {e}")
    return out


# ================================================================ 4. fan-out

def meminfo():
    v = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, rest = line.split(":", 1)
            v[k] = int(rest.split()[0]) * 1024
    return v["Shmem"] + v["AnonPages"]


def tree_pss():
    """Proportional set size of this process and all its descendants: each
    shared page counted once in total, whatever the number of mappers."""
    total = 0
    for p in tree_pids():
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
    return total


class PeakSampler:
    def __init__(self):
        self.peak = meminfo()
        self.stop = False
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        while not self.stop:
            self.peak = max(self.peak, meminfo())
            time.sleep(0.01)

    def done(self):
        self.stop = True
        self.t.join()
        return max(self.peak, meminfo())


FANOUT = {
    "interp": ["shoal", "xiq", "tq"],
    "proc": ["shoal", "mpq", "shm", "ray", "iox_ev"],   # 8 busy-polling receivers on 2 cores: no
}
COPYING = ("xiq", "mpq")


def run_fanout(env):
    nc = 8
    full = 64 * MiB if env.quick else GiB
    scaled = 16 * MiB if env.quick else 256 * MiB
    if env.args.max_size:
        full = min(full, shoal.parse_size(env.args.max_size))
        scaled = min(scaled, full)
    out = {"consumers": nc, "size": full, "scaled_size": scaled}
    for where, kinds in FANOUT.items():
        out[where] = {}
        for kind in kinds:
            row = out[where][kind] = {}
            size = scaled if kind in COPYING else full
            row["size"] = size
            try:
                env.need(kind, where)
                if kind == "ray":
                    fanout_ray(env, size, nc, row)
                else:
                    fanout_one(env, where, kind, size, nc, row)
                log(f"  {where:6s} {kind:6s} {fmt_size(size)} x{nc}: all read in {fmt_t(row['time_s'])}, "
                    f"extra memory {fmt_size(row['extra_bytes'])} = {row['copies']:.2f} copies")
            except Unavailable as e:
                row["na"] = str(e)
                log(f"  {where:6s} {kind:6s}: {e}")
            except Exception as e:
                row["error"] = f"failed: {type(e).__name__}: {e}"[:300]
                log(f"  {where:6s} {kind:6s}: FAILED {e}")
    return out


def fanout_one(env, where, kind, size, nc, row):
    import queue
    res = shoal.Channel(64)
    ctls = [shoal.Channel(4) for _ in range(nc)]
    fresh = None
    if kind == "shoal":
        # an arena of its own: no page that an earlier scenario left resident
        fresh = shoal.Arena(size + 64 * MiB)
        eps = [shoal.Channel(2, arena=fresh) for _ in range(nc)]
    elif kind == "xiq":
        import test.support.interpreters.queues as Q
        eps = [Q.create(maxsize=2) for _ in range(nc)]
    elif kind == "tq":
        eps = [queue.Queue(2) for _ in range(nc)]
    elif kind.startswith("iox"):
        eps = f"shoal-bench-{os.getpid()}-{time.monotonic_ns()}-fan"   # one service, 8 subscribers
    else:
        eps = [env.mp.Queue(2) for _ in range(nc)]
    wh = "thread" if kind == "tq" else where
    numpy_ok = where != "interp"
    cons = [{"role": "consumer", "kind": kind, "ep": eps if kind.startswith("iox") else eps[i], "ctl": c, "res": res,
             "numpy": numpy_ok, "hold": True, "announce": True, "nsub": nc}
            for i, c in enumerate(ctls)]
    pctl = shoal.Channel(4)
    prod = {"role": "producer", "kind": kind, "ep": eps, "ctl": pctl, "res": res, "numpy": numpy_ok,
            "arena": fresh.name if fresh else None, "announce": True, "nsub": nc}
    w = start(wh, cons + [prod])
    try:
        collect(res, w, nc + 1, 120)                      # all started, imports done
        time.sleep(0.2)
        for c in ctls:
            c.send(("recv",))
        base, base_pss = meminfo(), tree_pss()
        sampler = PeakSampler()
        pctl.send(("send", size))         # shm: one segment, its name sent to each consumer by hand
        ms = collect(res, w, nc + 1, 900)
        time.sleep(0.05)
        pss = tree_pss()                  # every consumer still holds what it got
        peak = sampler.done()
        t0 = [m for m in ms if m[0] == "p"][0][1]
        t_end = max(m[4] for m in ms if m[0] == "c")
        extra = pss - base_pss
        row.update({"time_s": t_end - t0, "extra_bytes": extra, "copies": extra / size,
                    "machine_extra_peak_bytes": peak - base, "machine_copies": (peak - base) / size,
                    "received_type": [m for m in ms if m[0] == "c"][0][3][0]})
        for c in ctls:
            c.send(("drop",))
        collect(res, w, nc, 120)
        if kind == "shm":
            pctl.send(("release",))
            wait_res(res, w)
    finally:
        for c in ctls + [pctl]:
            try:
                c.try_send(("stop",))
            except Exception:
                pass
        w.join()
        if fresh is not None:
            fresh.close()


def fanout_ray(env, size, nc, row):
    """Ray: the driver puts the array once; 8 actors get it (zero-copy reads
    from the object store) and hold it."""
    import numpy as np
    ray = env.ray()

    @ray.remote(num_cpus=0)
    class Holder:
        def ready(self):
            import numpy  # noqa: F401
            return True

        def take(self, refs):
            import time as _t
            self.obj = ray.get(refs[0])
            mv = memoryview(self.obj).cast("B")
            s = 0
            for i in range(0, mv.nbytes, 4096):
                s += mv[i]
            return _t.perf_counter(), mv.nbytes

        def drop(self):
            self.obj = None
            return True

    actors = [Holder.remote() for _ in range(nc)]
    try:
        ray.get([a.ready.remote() for a in actors], timeout=300)
        time.sleep(0.5)
        base, base_pss = meminfo(), tree_pss()
        sampler = PeakSampler()
        arr = np.full(size // 8, 1.0)
        t0 = time.perf_counter()
        ref = ray.put(arr)
        got = ray.get([a.take.remote([ref]) for a in actors], timeout=600)
        time.sleep(0.05)
        pss = tree_pss()
        peak = sampler.done()
        if any(n != size for _, n in got):
            raise RuntimeError("a consumer got the wrong size")
        extra = pss - base_pss
        row.update({"time_s": max(t for t, _ in got) - t0, "extra_bytes": extra, "copies": extra / size,
                    "machine_extra_peak_bytes": peak - base, "machine_copies": (peak - base) / size,
                    "received_type": "ndarray",
                    "note": "Ray allocates its object store when it starts (3 GiB here), so the store's "
                            "copy of the array may not show as extra memory"})
        ray.get([a.drop.remote() for a in actors])
        del ref, arr
    finally:
        for a in actors:
            ray.kill(a)


# ================================================================ 5. compute

def run_compute(env):
    import numpy as np
    n = 1_000_000 if env.quick else 16_000_000
    reps = 1 if env.quick else 5
    buf = shoal.empty((n,), dtype="float64")
    arr = np.asarray(buf)
    arr[:] = np.arange(n) % 7
    expect = float(np.sum(arr * arr))
    out = {"elements": n, "work": "sum of squares in pure Python over float64 chunks"}
    settle("compute's floor")
    out["parallel_floor"] = parallel_floor_now()

    def timed(run_k):
        res = {}
        settle("a compute row")
        for k in (1, 2):
            # Warm twice: the first 2-worker repetitions after a warm-up
            # still ran slower (198, 204, then 172-181 ms in one run), in
            # every row alike.
            run_k(k)
            run_k(k)
            ts = []
            for _ in range(reps):
                a = time.perf_counter()
                got = run_k(k)
                ts.append(time.perf_counter() - a)
                if abs(got - expect) > 1e-6 * expect:
                    raise RuntimeError(f"wrong sum {got} != {expect}")
            res[k] = ts
        return {"t1_s": statistics.median(res[1]), "t2_s": statistics.median(res[2]),
                "speedup": statistics.median(res[1]) / statistics.median(res[2]),
                "all_t1_s": res[1], "all_t2_s": res[2]}

    def chunks(k):
        step = n // k
        return [(i * step, n if i == k - 1 else (i + 1) * step) for i in range(k)]

    rows = out["rows"] = {}
    # shoal's two rows: SubinterpreterExecutor, and isolated subinterpreters
    # by hand + shoal channels (what the executor builds on). Both are set
    # up first, then measured in two passes in opposite orders, each row's
    # repetitions pooled: whichever ran first after the set-up ran slower
    # (executor first: 1.70-1.86x, by hand second: 1.85-1.96x; swapped:
    # by hand 1.86-1.89x, executor 1.86-1.97x).
    runners, cleanups = {}, []
    try:
        if not hasattr(shoal, "SubinterpreterExecutor"):
            rows["subexec"] = {"na": "not available in this build (issue 5)"}
        else:
            pools = {k: shoal.SubinterpreterExecutor(max_workers=k) for k in (1, 2)}
            cleanups.append(lambda: [p.shutdown() for p in pools.values()])
            for k, p in pools.items():
                list(p.map(workloads.echo, range(k * 2)))     # started, warm
            runners["subexec"] = lambda k: sum(pools[k].map(
                workloads.sum_squares_range, *zip(*[(buf, lo, hi) for lo, hi in chunks(k)])))
        res = shoal.Channel(8)
        ctls = [shoal.Channel(4) for _ in range(2)]
        w = start("interp", [{"role": "compute", "ctl": c, "res": res} for c in ctls])

        def stop_by_hand():
            for c in ctls:
                c.send(("stop",))
            w.join()
        cleanups.append(stop_by_hand)

        def by_hand(k):
            for c, (lo, hi) in zip(ctls, chunks(k)):
                c.send(("work", buf, lo, hi))
            return sum(m[1] for m in collect(res, w, k, 600))
        runners["subinterp"] = by_hand
        passes = {name: [] for name in runners}
        order = list(runners)
        for _ in range(1 if env.quick else 2):
            for name in order:
                passes[name].append(timed(runners[name]))
            order.reverse()
        for name, got in passes.items():
            t1 = [t for g in got for t in g["all_t1_s"]]
            t2 = [t for g in got for t in g["all_t2_s"]]
            rows[name] = {"t1_s": statistics.median(t1), "t2_s": statistics.median(t2),
                          "speedup": statistics.median(t1) / statistics.median(t2), "all_t1_s": t1, "all_t2_s": t2}
    except Exception as e:
        for name in ("subexec", "subinterp"):
            rows.setdefault(name, {"error": f"failed: {type(e).__name__}: {e}"[:300]})
    finally:
        for cleanup in reversed(cleanups):
            cleanup()
    rows = out["rows"] = {k: rows[k] for k in ("subexec", "subinterp") if k in rows}
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
    mv = memoryview(arr)
    try:
        tps = {k: ThreadPoolExecutor(k) for k in (1, 2)}
        rows["threads"] = timed(lambda k: sum(tps[k].map(workloads.sum_squares, [mv[lo:hi] for lo, hi in chunks(k)])))
        for p in tps.values():
            p.shutdown()
    except Exception as e:
        rows["threads"] = {"error": f"failed: {type(e).__name__}: {e}"[:300]}
    try:
        pps = {k: ProcessPoolExecutor(k, mp_context=env.mp) for k in (1, 2)}
        for k, p in pps.items():
            list(p.map(workloads.pid, range(4 * k)))
        rows["processes"] = timed(lambda k: sum(pps[k].map(
            workloads.sum_squares_bytes, [mv[lo:hi].tobytes() for lo, hi in chunks(k)])))
        for p in pps.values():
            p.shutdown()
    except Exception as e:
        rows["processes"] = {"error": f"failed: {type(e).__name__}: {e}"[:300]}
    del mv, arr, buf
    for k, r in rows.items():
        log(f"  {k:10s}: " + (f"1 worker {fmt_t(r['t1_s'])}, 2 workers {fmt_t(r['t2_s'])}, "
                              f"speed-up {r['speedup']:.2f}x" if "speedup" in r else r.get("na") or r.get("error")))
    return out


COMPUTE_LABELS = {
    "subexec": "shoal.SubinterpreterExecutor (array shared)",
    "subinterp": "isolated subinterpreters by hand + shoal.Channel (array shared)",
    "threads": "ThreadPoolExecutor (array shared, one GIL)",
    "processes": "ProcessPoolExecutor (chunks pickled)",
}


# ================================================================ floors



def run_floors(env):
    size = 64 * MiB if env.quick else GiB
    try:
        exe = build_floors()
        if not exe:
            return {"na": "no C compiler (cc) on PATH"}
        out = subprocess.run([exe, str(size), "5000" if env.quick else "20000"], check=True,
                             capture_output=True, text=True, timeout=120)
        r = json.loads(out.stdout)
        r["shoal_alone"] = shoal_alone([KiB, size])
        r["queue_alone"] = queue_alone([KiB, size])
        log(f"  futex round trip {fmt_t(r['futex_rt_p50_s'])}, spin {fmt_t(r['spin_rt_p50_s'])}, memcpy "
            f"{fmt_size(size)} {fmt_t(r['memcpy_s'])}, touch {fmt_t(r['touch_shm_s'])}")
        return r
    except subprocess.CalledProcessError as e:
        return {"error": f"failed: {(e.stderr or '')[:300]}"}


def shoal_alone(sizes):
    """shoal's own send and recv of an arena buffer in one interpreter, with
    nothing waiting: what a hand-off costs before any wake-up."""
    import numpy as np
    ch = shoal.Channel(capacity=2)
    out = {}
    for size in sizes:
        sends, recvs = [], []
        for _ in range(5):
            buf = shoal.empty((size // 8,), dtype="float64")
            np.asarray(buf)[:] = 1.0
            a = time.perf_counter()
            ch.send(buf)
            b = time.perf_counter()
            got = ch.recv()
            c = time.perf_counter()
            del got, buf
            sends.append(b - a)
            recvs.append(c - b)
        out[str(size)] = {"send_s": statistics.median(sends), "recv_s": statistics.median(recvs)}
    return out


def queue_alone(sizes):
    """queue.Queue put and get of a NumPy array just filled, as shoal_alone
    does it: no copy and no shared memory, only the cache and TLB state a
    producer leaves after writing `size` bytes. Beside shoal_alone it shows
    how much of a large hand-off is that state, not the hand-off."""
    import queue
    import numpy as np
    q = queue.Queue()
    out = {}
    for size in sizes:
        array = np.empty(size // 8, dtype="float64")
        puts, gets = [], []
        for _ in range(5):
            array[:] = 1.0
            a = time.perf_counter()
            q.put(array)
            b = time.perf_counter()
            q.get()
            c = time.perf_counter()
            puts.append(b - a)
            gets.append(c - b)
        del array
        out[str(size)] = {"put_s": statistics.median(puts), "get_s": statistics.median(gets)}
    return out


# ================================================================ reporting

def fmt_t(s):
    if s is None:
        return "–"
    if s < 1e-6:
        return f"{s * 1e9:.0f} ns"
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def fmt_size(b):
    for unit, v in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if abs(b) >= v:
            x = b / v
            return f"{x:.0f} {unit}" if abs(x - round(x)) < 0.05 else f"{x:.2f} {unit}"
    return f"{b} B"


def fmt_ratio(x):
    if x is None:
        return ""
    if x >= 100:
        return f"{x:,.0f}x"
    return f"{x:.1f}x" if x >= 10 else f"{x:.2f}x"


def status(row):
    return row.get("na") or row.get("error") or "not run"


def label(kind):
    return PEERS[kind]


WHERE = {"interp": "between two isolated subinterpreters (threads: two threads of one interpreter)",
         "proc": "between two processes"}


def report(R, env):
    L = []
    m = R["machine"]
    L.append(f"Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}; {m['python']}; load average "
             f"{m['load_start'][0]:.2f} at start, {m['load_end'][0]:.2f} at end; {m['date']}. "
             f"{'Quick run (--quick)' if env.quick else 'Full run'} in {R['wall_s']:.0f} s. Versions: "
             + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
             + "".join(f"; {k}: {v}" for k, v in m["missing"].items()) + ".")
    # Judged by the load before the run: the suite's own workers raise the
    # load average by the end, which says nothing about other work.
    if m["load_start"][0] > 0.5 * m["cores"]:
        L.append("")
        L.append(f"*The machine was busy (load average above half its {m['cores']} cores): other work shared "
                 f"the CPUs during this run, so latencies and speed-ups are noisy.*")
    L.append("")
    L += targets(R, env)
    fl = R.get("floors", {})
    # floors
    L.append("")
    L.append("**Floors of this machine**, same run (C: bench/floors.c, built with the system cc; round trips "
             "stop after 3 s, so a small n means the machine was too busy to spin):")
    L.append("")
    if "futex_rt_p50_s" in fl:
        L.append("| floor | time | beside shoal |")
        L.append("| --- | ---: | --- |")
        pp = R.get("pingpong", {})
        sp = lambda w: pp.get(w, {}).get("shoal", {}).get("p50_s")
        L.append(f"| futex round trip, two processes (p50 of {fl['futex_n']:,}) | {fmt_t(fl['futex_rt_p50_s'])} | "
                 f"shoal ping-pong p50: {fmt_t(sp('interp'))} interpreters, {fmt_t(sp('proc'))} processes |")
        L.append(f"| spin round trip, two processes (p50 of {fl['spin_n']:,}) | {fmt_t(fl['spin_rt_p50_s'])} | |")
        big = fl["bytes"]
        tr = R.get("transfer", {})
        sh = lambda w, k: tr.get(w, {}).get("shoal", {}).get(str(big), {}).get(k)
        first = lambda w: (tr.get(w, {}).get("shoal", {}).get(str(big), {}).get("all_touch_s") or [None])[0]
        L.append(f"| memcpy {fmt_size(big)} (pages present) | {fmt_t(fl['memcpy_s'])} | "
                 f"shoal hand-off of {fmt_size(big)}: {fmt_t(sh('interp', 'handoff_s'))} interpreters, "
                 f"{fmt_t(sh('proc', 'handoff_s'))} processes |")
        L.append(f"| read 1 byte per page of {fmt_size(big)} of /dev/shm, freshly mapped | {fmt_t(fl['touch_shm_s'])} | "
                 f"shoal receiver's read (first repetition): {fmt_t(first('interp'))} interpreters, "
                 f"{fmt_t(first('proc'))} processes |")
        L.append(f"| same over fresh anonymous pages | {fmt_t(fl['touch_anon_s'])} | |")
        if "wake_after_write_s" in fl:
            pinned_wake = (("asleep on the other CPU", "; both pinned, as the transfers are")
                           if fl.get("wake_pinned", 1) else ("asleep (one CPU here)", ""))
            L.append(f"| futex wake of a process {pinned_wake[0]} while the waker wrote 1 KiB, then "
                     f"paused 2 ms (median of 7{pinned_wake[1]}) | {fmt_t(fl['wake_after_write_1KiB_s'])} | shoal hand-off of 1 KiB: "
                     f"{fmt_t(tr_handoff(R, 'interp', KiB))} interpreters, "
                     f"{fmt_t(tr_handoff(R, 'proc', KiB))} processes |")
            L.append(f"| same after writing {fmt_size(big)} | {fmt_t(fl['wake_after_write_s'])} | shoal hand-off of "
                     f"{fmt_size(big)}: {fmt_t(sh('interp', 'handoff_s'))} interpreters, "
                     f"{fmt_t(sh('proc', 'handoff_s'))} processes |")
        for sz, v in fl.get("shoal_alone", {}).items():
            L.append(f"| shoal alone: send / recv of a {fmt_size(int(sz))} arena buffer, one interpreter, nothing "
                     f"waiting (Python) | {fmt_t(v['send_s'])} / {fmt_t(v['recv_s'])} | what a hand-off costs "
                     f"before any wake-up |")
        for sz, v in fl.get("queue_alone", {}).items():
            L.append(f"| queue.Queue alone: put / get of a {fmt_size(int(sz))} NumPy array just filled, one thread "
                     f"(no copy, no shared memory) | {fmt_t(v['put_s'])} / {fmt_t(v['get_s'])} | the cache and TLB "
                     f"state a producer leaves, without shoal |")
    else:
        L.append(status(fl))
    # transfer
    tr = R.get("transfer")
    if tr:
        sizes = tr["sizes"]
        for where in ("interp", "proc"):
            L.append("")
            L.append(f"**1. One-way transfer of a float64 array {WHERE[where]}**: median time from just before "
                     f"the send to the receiver holding the array (x shoal); below it, the receiver reading one "
                     f"byte per page (median; the first repetition beside it when it stands out: later ones may "
                     f"find the pages already mapped, as when an allocator reuses a block). Receivers wait as their peer makes them: shoal's spins "
                     f"50 µs, then sleeps on a futex (so this includes a wake-up), or, in its 'busy-polls' row, "
                     f"polls try_recv(); iceoryx2's busy-polls a core, or, in its '+ event' row, sleeps on an event "
                     f"listener. "
                     + ("Producer and consumer run pinned to a CPU each (but in the executor and Ray rows, "
                        "whose workers are the pool's), so every hand-off crosses cores; the 'CPUs not pinned' row "
                        "is shoal with the kernel placing both, and says how often it ran them on one CPU. "
                        if len(tr.get("pinned_cpus") or []) == 2 else
                        "This machine has one CPU for this process: nothing is pinned, producer and consumer share "
                        "it. " if "pinned_cpus" in tr else "")
                     + ("The row below shoal's sends the smallest array right after the producer wrote one of "
                        "the largest size (held, not sent): the same work before the send as in the last column, "
                        "only the size sent differs." if tr[where].get("shoal", {}).get("after_write") else ""))
            L.append("")
            L.append("| peer | " + " | ".join(fmt_size(s) for s in sizes) + " |")
            L.append("| --- |" + " ---: |" * len(sizes))
            base = tr[where].get("shoal", {})
            for kind, row in tr[where].items():
                cells = []
                for s in sizes:
                    c = row.get(str(s))
                    if c is None:
                        cells.append(status(row))
                        continue
                    b = base.get(str(s), {}).get("handoff_s")
                    r = f" ({fmt_ratio(c['handoff_s'] / b)})" if b and kind != "shoal" else ""
                    first = c["all_touch_s"][0]
                    cold = f" (1st: {fmt_t(first)})" if first > 2 * c["touch_s"] else ""
                    one_cpu = (f"<br>{c['same_cpu']} of {c['reps']} on one CPU"
                               if c.get("same_cpu") or (kind == "shoal_free" and "same_cpu" in c) else "")
                    cells.append(f"{fmt_t(c['handoff_s'])}{r}<br>read {fmt_t(c['touch_s'])}{cold}{one_cpu}")
                if all(c == cells[0] for c in cells) and str(sizes[0]) not in row:
                    cells = [cells[0]] + [""] * (len(cells) - 1)
                L.append(f"| {label(kind)} | " + " | ".join(cells) + " |")
                aw = row.get("after_write")
                if aw:
                    b = base.get(str(sizes[0]), {}).get("handoff_s")
                    r = f" ({fmt_ratio(aw['handoff_s'] / b)})" if b else ""
                    L.append(f"| {label(kind)}: {fmt_size(sizes[0])} sent right after the producer wrote "
                             f"{fmt_size(aw['write_first'])} (held, not sent), as before the "
                             f"{fmt_size(aw['write_first'])} send | {fmt_t(aw['handoff_s'])}{r}<br>read "
                             f"{fmt_t(aw['touch_s'])} |" + " |" * (len(sizes) - 1))
    pp = R.get("pingpong")
    if pp:
        L.append("")
        L.append(f"**2. Ping-pong of a small int** (round trip; n={pp['n']} per peer, fewer for slow ones):")
        L.append("")
        L.append("| between | peer | p50 | p99 | p50 / shoal |")
        L.append("| --- | --- | ---: | ---: | ---: |")
        for where in ("interp", "proc"):
            b = pp[where].get("shoal", {}).get("p50_s")
            for kind, row in pp[where].items():
                w = "threads" if kind == "tq" else ("interpreters" if where == "interp" else "processes")
                if "p50_s" not in row:
                    L.append(f"| {w} | {label(kind)} | {status(row)} | | |")
                    continue
                r = fmt_ratio(row["p50_s"] / b) if b and kind != "shoal" else ""
                L.append(f"| {w} | {label(kind)} | {fmt_t(row['p50_s'])} | {fmt_t(row['p99_s'])} | {r} |")
    tp = R.get("throughput")
    if tp:
        L.append("")
        reps = tp.get("shoal_reps", 1)
        L.append(f"**3. Small-message throughput** (small ints, {tp['count_per_producer']:,} per producer; "
                 f"shoal / peer in brackets"
                 + (f"; shoal's rows: the median of {reps} runs, each run's rate listed with the C spin round trip "
                    f"measured just before it, which tells how far apart the machine had placed the two CPUs "
                    f"at that moment (on a virtual machine it changes over minutes, and every cross-core "
                    f"hand-off with it)" if reps > 1 else "") + "):")
        L.append("")
        L.append("| between | peer | 1 producer / 1 consumer | 2 / 2 |")
        L.append("| --- | --- | ---: | ---: |")
        for where in ("interp", "proc"):
            for kind, rows in tp[where].items():
                w = "threads" if kind == "tq" else ("interpreters" if where == "interp" else "processes")
                cells = []
                for key in ("1/1", "2/2"):
                    row = rows[key]
                    b = tp[where].get("shoal", {}).get(key, {}).get("msgs_per_s")
                    if "msgs_per_s" in row:
                        r = f" ({fmt_ratio(b / row['msgs_per_s'])})" if b and kind != "shoal" else ""
                        cells.append(f"{row['msgs_per_s']:,.0f} msgs/s{r}" + (f" — {row['note']}" if row.get("note") else "")
                                     + runs_note(row, "<br>"))
                    else:
                        cells.append(status(row))
                L.append(f"| {w} | {label(kind)} | " + " | ".join(cells) + " |")
    fo = R.get("fanout")
    if fo:
        L.append("")
        L.append(f"**4. Fan-out: one array to {fo['consumers']} consumers**: time from the send until all have read "
                 f"one byte per page; extra memory while all of them hold it: the proportional set size (PSS) of "
                 f"the benchmark's processes, each shared page counted once, in copies of the array; beside it "
                 f"the machine-wide peak of /proc/meminfo Shmem + AnonPages (includes everything else running). "
                 f"Peers that copy send {fmt_size(fo['scaled_size'])} instead of {fmt_size(fo['size'])} "
                 f"to keep the machine under 12 GiB.")
        L.append("")
        fl = R.get("floors", {})
        if fl.get("touch_shm_s") and fl.get("bytes") == fo["size"]:
            cores = min(R["machine"]["cores"], fo["consumers"])
            L.append(f"Floor for the time: {fo['consumers']} readers each mapping {fmt_size(fo['size'])} afresh "
                     f"({fmt_t(fl['touch_shm_s'])} each, C) on {cores} cores: "
                     f"{fmt_t(fl['touch_shm_s'] * fo['consumers'] / cores)}.")
        L.append("")
        L.append("| between | peer | array | time | extra memory (PSS) | copies | machine-wide peak |")
        L.append("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
        for where in ("interp", "proc"):
            for kind, row in fo[where].items():
                w = "threads" if kind == "tq" else ("interpreters" if where == "interp" else "processes")
                if "time_s" not in row:
                    L.append(f"| {w} | {label(kind)} | | {status(row)} | | | |")
                    continue
                L.append(f"| {w} | {label(kind)} | {fmt_size(row['size'])} | {fmt_t(row['time_s'])} | "
                         f"{fmt_size(row['extra_bytes'])} | {row['copies']:.2f} | "
                         f"{row['machine_copies']:.2f} copies" + (f" ({row['note']})" if row.get("note") else "") + " |")
    cp = R.get("compute")
    if cp:
        L.append("")
        L.append(f"**5. Parallel compute over a shared array** ({cp['work']}, {cp['elements']:,} elements), "
                 f"speed-up of 2 workers over 1:")
        L.append("")
        L.append("| workers | 1 worker | 2 workers | speed-up |")
        L.append("| --- | ---: | ---: | ---: |")
        for k, r in cp["rows"].items():
            if "speedup" in r:
                L.append(f"| {COMPUTE_LABELS[k]} | {fmt_t(r['t1_s'])} | {fmt_t(r['t2_s'])} | {r['speedup']:.2f}x |")
            else:
                L.append(f"| {COMPUTE_LABELS[k]} | {status(r)} | | |")
        floor = cp.get("parallel_floor") or R.get("floors", {}).get("parallel_speedup")
        if floor:
            L.append(f"| floor: a CPU-bound C loop in two processes against one (floors.c), just before | | | "
                     f"{floor:.2f}x |")
    return L


def tr_handoff(R, where, size):
    """shoal's median hand-off of `size` bytes in this run, or None."""
    return R.get("transfer", {}).get(where, {}).get("shoal", {}).get(str(size), {}).get("handoff_s")


def targets(R, env):
    """Each target with MET / NOT MET from the measured numbers, or NOT MEASURED."""
    tr, pp, tp, fo, cp = (R.get(k, {}) for k in ("transfer", "pingpong", "throughput", "fanout", "compute"))
    rows = []

    def add(name, ok, measured):
        verdict = "NOT MEASURED" if ok is None else ("MET" if ok else "NOT MET")
        rows.append((name, verdict, measured))

    sizes = tr.get("sizes", [])
    big = sizes[-1] if sizes else None
    bigl = fmt_size(big) if big else "?"
    # the targets are set at 1 GiB: a run that stops short shows its numbers, judges nothing
    q = f" (this run stops at {bigl}: not judged)" if big != GiB else ""
    judged = big == GiB
    # 1. hand-off of the largest within 2x of 1 KiB
    for where, wl in (("interp", "interpreters"), ("proc", "processes")):
        s = tr.get(where, {}).get("shoal", {})
        a, b = s.get(str(KiB), {}).get("handoff_s"), s.get(str(big), {}).get("handoff_s")
        # Beside it, the same cache state without shoal (floors, queue_alone).
        qa = R.get("floors", {}).get("queue_alone", {})
        qa_small, qa_big = qa.get(str(KiB), {}).get("put_s"), qa.get(str(big), {}).get("put_s")
        asides = []
        if qa_small and qa_big:
            asides.append(f"a queue.Queue put of a just-filled array alone: {fmt_t(qa_big)} at {bigl} vs "
                          f"{fmt_t(qa_small)} at 1 KiB")
        # The machine's own floor for the same two states, in C (floors.c).
        fl = R.get("floors", {})
        w_small, w_big = fl.get("wake_after_write_1KiB_s"), fl.get("wake_after_write_s")
        if w_small and w_big and fl.get("bytes") == big:
            asides.append(f"a C futex wake right after writing: {fmt_t(w_big)} at {bigl} vs {fmt_t(w_small)} "
                          f"at 1 KiB = {w_big / w_small:.2f}x")
        aside = f" ({'; '.join(asides)})" if asides else ""
        add(f"1 GiB hand-off within 2x of 1 KiB, {wl}: 1 KiB sent 2 ms after the last hand-off{q}",
            None if not (a and b and judged) else b <= 2 * a,
            (f"{fmt_t(b)} vs {fmt_t(a)} = {b / a:.2f}x" + aside) if a and b else "–")
        # The same, with the same work before both sends (transfer_pair):
        # only the size sent differs.
        aw = s.get("after_write", {}).get("handoff_s")
        add(f"1 GiB hand-off within 2x of 1 KiB, {wl}: 1 KiB sent right after writing {bigl}, "
            f"as the {bigl} one is{q}", None if not (aw and b and judged) else b <= 2 * aw,
            f"{fmt_t(b)} vs {fmt_t(aw)} = {b / aw:.2f}x" if aw and b else "–")
    # 2. >= 1000x faster than pickling peers at 1 GiB
    ratios, missing = [], []
    for where in ("interp", "proc"):
        base = tr.get(where, {}).get("shoal", {}).get(str(big), {}).get("handoff_s")
        for kind in PICKLING:
            c = tr.get(where, {}).get(kind, {}).get(str(big), {}).get("handoff_s")
            if kind in tr.get(where, {}):
                if c and base:
                    ratios.append((f"{kind} {c / base:,.0f}x"))
                else:
                    missing.append(kind)
    if ratios:
        worst = min(float(r.split()[1].rstrip("x").replace(",", "")) for r in ratios)
        add(f"≥1000x faster than pickling peers at 1 GiB{q}", worst >= 1000 if judged else None, ", ".join(ratios))
    else:
        add("≥1000x faster than pickling peers at 1 GiB", None, "–")
    # 3. faster than Ray and iceoryx2 at every size; a busy-polling peer
    # against shoal's busy-polling row, when there is one (like for like)
    for kind in ("ray", "iox", "iox_ev"):
        row = tr.get("proc", {}).get(kind, {})
        base_kind = "shoal_poll" if kind == "iox" and tr.get("proc", {}).get("shoal_poll", {}).get(str(KiB)) else "shoal"
        base = tr.get("proc", {}).get(base_kind, {})
        pairs = [(row[str(s)]["handoff_s"], base.get(str(s), {}).get("handoff_s")) for s in sizes if str(s) in row]
        pairs = [(p, b) for p, b in pairs if b]
        if not pairs:
            add(f"faster than {label(kind)} at every size", None, status(row))
        else:
            against = " (peer / shoal)" if base_kind == "shoal" else " (peer / shoal busy-polling too)"
            add(f"faster than {label(kind)} at every size", all(b < p for p, b in pairs),
                ", ".join(f"{p / b:.1f}x" for p, b in pairs) + against)
    # 4. ping-pong
    for where, lim, wl in (("interp", 2e-6, "interpreters"), ("proc", 3e-6, "processes")):
        p = pp.get(where, {}).get("shoal", {}).get("p50_s")
        add(f"ping-pong p50 ≤ {lim * 1e6:.0f} µs between {wl}", None if p is None else p <= lim, fmt_t(p))
    # 5. throughput
    trow = tp.get("interp", {}).get("shoal", {}).get("1/1", {})
    t = trow.get("msgs_per_s")
    add("≥1M small msgs/s 1/1 between interpreters", None if t is None else t >= 1e6,
        (f"{t:,.0f} msgs/s" + runs_note(trow)) if t else "–")
    # 6. fan-out memory
    cs = [(w, fo.get(w, {}).get("shoal", {}).get("copies")) for w in ("interp", "proc")]
    cs = [(w, c) for w, c in cs if c is not None]
    add("fan-out memory within 5% of one copy", None if not cs else all(c <= 1.05 for _, c in cs),
        ", ".join(f"{c:.3f} copies ({'interpreters' if w == 'interp' else 'processes'})" for w, c in cs) or "–")
    # 7. speed-up
    r = cp.get("rows", {}).get("subexec", {})
    hand = cp.get("rows", {}).get("subinterp", {}).get("speedup")
    note = f"; subinterpreters by hand: {hand:.2f}x" if hand else ""
    floor = cp.get("parallel_floor") or R.get("floors", {}).get("parallel_speedup")
    if floor:
        note += f"; the machine's floor just before, a C loop on both CPUs: {floor:.2f}x"
    add("2-core speed-up ≥ 1.9x (SubinterpreterExecutor)", None if "speedup" not in r else r["speedup"] >= 1.9,
        (f"{r['speedup']:.2f}x" if "speedup" in r else status(r)) + note)
    L = ["**Targets**, judged from this run's medians:", "", "| target | verdict | measured |",
         "| --- | --- | --- |"]
    L += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    R["targets"] = [{"target": a, "verdict": b, "measured": c} for a, b, c in rows]
    return L


def plot(R, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not installed: no plot"
    tr = R.get("transfer")
    if not tr:
        return "no transfer results: no plot"
    sizes = tr["sizes"]
    fig, ax = plt.subplots(figsize=(8, 5.5))
    styles = {"interp": "-", "proc": "--"}
    for where in ("interp", "proc"):
        for kind, row in tr[where].items():
            pts = [(s, row[str(s)]["handoff_s"]) for s in sizes if str(s) in row]
            if not pts:
                continue
            w = "threads" if kind == "tq" else ("interpreters" if where == "interp" else "processes")
            ax.plot([p[0] for p in pts], [p[1] for p in pts], styles[where], marker="o",
                    lw=2.5 if kind == "shoal" else 1.3, label=f"{label(kind)} ({w})")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(sizes, [fmt_size(s) for s in sizes])
    ax.set_xlabel("array size")
    ax.set_ylabel("one-way hand-off time (s), median")
    m = R["machine"]
    ax.set_title(f"One-way transfer of a float64 array\n{m['cpu']}, {m['cores']} cores, {m['python']}, load {m['load_start'][0]:.1f}",
                 fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


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


def update_report(md_lines, png):
    path = os.path.join(ROOT, "docs", "performance.md")
    png_rel = os.path.relpath(png, os.path.dirname(path))
    text = open(path).read()
    if BEGIN not in text or END not in text:
        log("docs/performance.md has no suite-bench markers: not updated")
        return
    body = "\n".join([BEGIN, f"![one-way transfer time vs size]({png_rel})", ""] + md_lines + [END])
    a, b = text.index(BEGIN), text.index(END) + len(END)
    open(path, "w").write(text[:a] + body + text[b:])
    log("docs/performance.md updated")


SCENARIOS = [("floors", run_floors), ("transfer", run_transfer), ("pingpong", run_pingpong),
             ("throughput", run_throughput), ("fanout", run_fanout), ("compute", run_compute)]


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
    only = [s for s in args.only.split(",") if s]
    if args.from_json:
        with open(args.from_json) as f:
            R = json.load(f)
        args.quick = R.get("quick", False)
        env = Env(args)
        outdir = args.out or os.path.dirname(os.path.abspath(args.from_json))
        return write_outputs(R, env, args, outdir)

    # Nothing here calls BLAS, but NumPy's OpenBLAS starts worker threads at
    # import that spin for about 0.1 s of CPU (measured: 0.16 s user for
    # `import numpy; sleep(1)`, 0.05 s with one thread); every spawned
    # process imports NumPy, and on 2 cores that spin competes with the
    # measurements. Set before anything is spawned or imported.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("SHOAL_ARENA_SIZE", "6GiB")
    arena = shoal.default_arena()
    os.environ["SHOAL_ARENA"] = arena.name           # spawned processes attach this arena
    env = Env(args)
    if args.quick:
        TIMEOUT_SCALE[0] = 0.2
    R = {"machine": machine(env), "quick": args.quick, "command": " ".join(["python"] + sys.argv)}
    log(f"machine: {R['machine']['cpu']}, {R['machine']['cores']} cores, {R['machine']['python']}, "
        f"load {R['machine']['load_start'][0]:.2f}; arena {arena.name} ({shoal.format_size(arena.size)})")
    todo = [(n, f) for n, f in SCENARIOS if not only or n in only]
    started = time.perf_counter()
    for i, (name, fn) in enumerate(todo, 1):
        waited = settle(name)
        log(f"[{i}/{len(todo)}] {name}" + (f" (after {waited:.1f} s for the machine to go idle)" if waited > 1 else ""))
        try:
            R[name] = fn(env)
        except Exception as e:
            import traceback
            traceback.print_exc()
            R[name] = {"error": f"failed: {type(e).__name__}: {e}"}
        env.stop_ray()
    R["wall_s"] = time.perf_counter() - started
    R["machine"]["load_end"] = os.getloadavg()

    # quick runs (CI) write under build/ (ignored by git), full runs under bench/results/
    outdir = args.out or (os.path.join(ROOT, "build", "bench-quick") if args.quick else os.path.join(HERE, "results"))
    write_outputs(R, env, args, outdir)


def write_outputs(R, env, args, outdir):
    os.makedirs(outdir, exist_ok=True)
    png = os.path.join(outdir, "transfer.png")
    md = report(R, env)
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
