"""Scenario 1, transfer: one-way hand-off of a float64 array of 1 KiB to
1 GiB, producer -> consumer, between interpreters and between processes;
the consumer reads one byte per 4 KiB page. Producer and consumer are
pinned to a CPU each (plus a shoal row left to the kernel's placement)."""

import os
import statistics
import time

import shoal

import workloads
from suite_common import GiB, KiB, MiB, fmt_size, fmt_t, log
from suite_peers import PICKLING, Unavailable, ray_consumer_class
from suite_workers import collect, start, wait_res


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
