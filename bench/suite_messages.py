"""Scenarios 2 and 3, small messages: ping-pong of a small int (p50, p99),
and throughput, messages per second with 1 producer/1 consumer and 2/2."""

import os
import time

import shoal

import workloads
from suite_common import fmt_t, log
from suite_floors import spin_round_trip_now
from suite_peers import Unavailable, ray_consumer_class
from suite_workers import collect, start, wait_res


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


THROUGHPUT_REPS = 5      # shoal's throughput rows: median of this many runs
THROUGHPUT = {
    "interp": ["shoal", "xiq", "ipe", "tq"],
    "proc": ["shoal", "mpq", "ppe", "ray", "iox", "iox_ev"],
}


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
