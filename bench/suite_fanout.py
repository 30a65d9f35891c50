"""Scenario 4, fan-out: one array to 8 consumers; the time until all 8 have
read it, and the extra memory it costs (PSS of the benchmark's processes,
and the machine-wide peak of /proc/meminfo Shmem + AnonPages)."""

import os
import threading
import time

import shoal

from machine import tree_pss
from suite_common import GiB, MiB, fmt_size, fmt_t, log
from suite_peers import Unavailable
from suite_workers import collect, start, wait_res


def meminfo():
    v = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, rest = line.split(":", 1)
            v[k] = int(rest.split()[0]) * 1024
    return v["Shmem"] + v["AnonPages"]


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
        base, base_pss = meminfo(), tree_pss()[0]
        sampler = PeakSampler()
        pctl.send(("send", size))         # shm: one segment, its name sent to each consumer by hand
        ms = collect(res, w, nc + 1, 900)
        time.sleep(0.05)
        pss = tree_pss()[0]                  # every consumer still holds what it got
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
        base, base_pss = meminfo(), tree_pss()[0]
        sampler = PeakSampler()
        arr = np.full(size // 8, 1.0)
        t0 = time.perf_counter()
        ref = ray.put(arr)
        got = ray.get([a.take.remote([ref]) for a in actors], timeout=600)
        time.sleep(0.05)
        pss = tree_pss()[0]
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
