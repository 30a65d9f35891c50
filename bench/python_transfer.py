"""shoal beside CPython's own tools: one-way transfer and ping-pong latency.

    SHOAL_ARENA_SIZE=4GiB python bench/python_transfer.py [--quick]

In one run, side by side:
1. one-way transfer of a float64 array of 1 KiB, 1 MiB, 64 MiB (and 1 GiB
   without --quick), producer -> consumer, (a) between two isolated
   subinterpreters of one process, (b) between two processes: hand-off time
   (from just before send to just after the receiver has the object) and the
   time for the receiver to read one byte per 4 KiB page of what it got,
   beside the same loop over a buffer that was already there (the floor);
2. ping-pong latency of a small int (p50, p99) through each peer;
3. the machine's floors: memcpy of the largest size, touching its pages, and
   shoal's send and recv alone in one interpreter (no waiting).

Raw numbers go to bench/results/python_transfer.json and
bench/results/python_pingpong.json; progress goes to stderr.

Clocks: time.perf_counter is CLOCK_MONOTONIC on Linux, one clock for every
interpreter and process of the machine, so a start taken by the producer and
an end taken by the consumer subtract.

Isolated subinterpreters cannot import NumPy today, so there the producer
makes its array with shoal.empty and fills it through a memoryview, and the
CPython-queue peer sends the same bytes as a `bytes` object (pickled by the
queue, as CPython's queue does for anything not natively shareable).

Workers run this file's worker_main(); its top level imports only the
standard library and shoal so that subinterpreters can import it.
"""

import os
import pickle
import statistics
import sys
import time

import shoal

HERE = os.path.dirname(os.path.abspath(__file__))
PAGE = 4096
KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- workers

def touch(mv, n):
    """Reads one byte per 4 KiB page."""
    s = 0
    for i in range(0, n, PAGE):
        s += mv[i]
    return s


def as_bytes(obj):
    mv = memoryview(obj)
    return mv if mv.format == "B" and mv.ndim == 1 else mv.cast("B")


def endpoint_ops(kind, ep, ep2, side):
    """(send, recv) for one side of a peer: send on ep, receive on ep2."""
    if kind == "pipe":
        conn = ep[0] if side == 0 else ep[1]
        return conn.send, conn.recv
    if kind in ("shoal", "shoal_bytes"):
        return ep.send, ep2.recv
    if kind.startswith("xiq"):
        delay = 0.0 if kind == "xiq_spin" else 10 / 1000   # CPython's default poll
        return ep.put, (lambda: ep2.get(_delay=delay))
    if kind == "mpq":
        return ep.put, ep2.get
    raise ValueError(kind)


def make_payload(kind, nbytes, numpy_ok):
    n = nbytes // 8
    if kind == "shoal":
        buf = shoal.empty((n,), dtype="float64")
        if numpy_ok:
            import numpy as np
            np.asarray(buf)[:] = 1.0
        else:
            fill_bytes(as_bytes(buf), nbytes)
        return buf
    if numpy_ok:
        import numpy as np
        arr = np.full(n, 1.0)
        if kind == "shoal_bytes":
            return arr.tobytes()     # shoal cannot send NumPy arrays yet: their bytes
        return arr
    # subinterpreter, no NumPy: the same bytes as a bytes object
    return bytes(b"\x00\x00\x00\x00\x00\x00\xf0\x3f") * n


def fill_bytes(mv, nbytes):
    chunk = bytes(b"\x00\x00\x00\x00\x00\x00\xf0\x3f") * min(nbytes // 8, 2 * MiB)
    for off in range(0, nbytes, len(chunk)):
        piece = min(len(chunk), nbytes - off)
        mv[off:off + piece] = chunk[:piece]


def worker_main(spec):
    if isinstance(spec, bytes):
        spec = pickle.loads(spec)
    role, kind, ep, ctl, res = spec["role"], spec["kind"], spec["ep"], spec["ctl"], spec["res"]
    ep2 = spec.get("ep2", ep)
    numpy_ok = spec["numpy"]
    try:
        if role == "producer":
            send, _ = endpoint_ops(kind, ep, ep2, 0)
            while True:
                cmd = ctl.recv()
                if cmd[0] == "stop":
                    break
                payload = make_payload(kind, cmd[1], numpy_ok)
                t0 = time.perf_counter()
                send(payload)
                del payload
                res.send(("p", t0))
        elif role == "consumer":
            _, recv = endpoint_ops(kind, ep, ep2, 1)
            while True:
                cmd = ctl.recv()
                if cmd[0] == "stop":
                    break
                if cmd[0] == "floor":
                    nbytes = cmd[1]
                    there = bytearray(b"\x01") * nbytes     # written: every page present
                    mv = memoryview(there)
                    times = []
                    for _ in range(3):
                        a = time.perf_counter()
                        touch(mv, nbytes)
                        times.append(time.perf_counter() - a)
                    del mv, there
                    res.send(("floor", statistics.median(times)))
                    continue
                obj = recv()
                t1 = time.perf_counter()
                mv = as_bytes(obj)
                a = time.perf_counter()
                s = touch(mv, mv.nbytes)
                b = time.perf_counter()
                info = (type(obj).__name__, mv.nbytes, s)
                del mv, obj
                res.send(("c", t1, b - a, info))
        elif role == "ping":
            send, recv = endpoint_ops(kind, ep, ep2, 0)
            cmd = ctl.recv()
            n, warm = cmd[1], cmd[2]
            lat = []
            for i in range(n + warm):
                a = time.perf_counter()
                send(i)
                x = recv()
                b = time.perf_counter()
                if x != i:
                    raise RuntimeError(f"ping got {x} for {i}")
                if i >= warm:
                    lat.append(b - a)
            send(-1)
            res.send(("lat", lat))
        elif role == "pong":
            send, recv = endpoint_ops(kind, ep, ep2, 1)
            while True:
                x = recv()
                if x == -1:
                    break
                send(x)
    except BaseException as e:  # reported, never silent
        res.send(("error", role, f"{type(e).__name__}: {e}"))
        raise
    finally:
        if kind == "pipe" and spec.get("borrowed_fds"):
            # A Connection pickled into a subinterpreter is the same fd number
            # as the main interpreter's: leave closing it to the main one.
            for conn in ep:
                conn._handle = None


# ---------------------------------------------------------------- launching

class SubinterpWorkers:
    SRC = ("import sys; sys.path.insert(0, {here!r})\n"
           "import python_transfer as m\n"
           "m.worker_main({spec!r})\n")

    def __init__(self, specs):
        import _interpreters
        import threading
        self.low = _interpreters
        self.failures = []
        self.interps = [_interpreters.create("isolated") for _ in specs]
        srcs = [self.SRC.format(here=HERE, spec=pickle.dumps(s)) for s in specs]

        def run(i, src):
            f = _interpreters.exec(i, src)
            if f is not None:
                self.failures.append(f.errdisplay)
        self.threads = [threading.Thread(target=run, args=(i, s), daemon=True)
                        for i, s in zip(self.interps, srcs)]
        for t in self.threads:
            t.start()

    def alive(self):
        return all(t.is_alive() for t in self.threads)

    def join(self):
        for t in self.threads:
            t.join(60)
        for i in self.interps:
            try:
                self.low.destroy(i)
            except Exception as e:
                log(f"destroy: {e}")


class ProcessWorkers:
    def __init__(self, specs):
        import multiprocessing as mp
        ctx = mp.get_context("spawn")
        self.procs = [ctx.Process(target=worker_main, args=(s,)) for s in specs]
        for p in self.procs:
            p.start()

    def alive(self):
        return all(p.is_alive() for p in self.procs)

    def join(self):
        for p in self.procs:
            p.join(60)
            if p.is_alive():
                p.kill()


def make_endpoint(kind, scenario, mpctx):
    """The data path of a peer, or a reason it cannot run here."""
    if kind in ("shoal", "shoal_bytes"):
        return shoal.Channel(capacity=4)
    if kind.startswith("xiq"):
        if scenario == "processes":
            raise NotImplementedError("n/a: CPython's cross-interpreter queue works within one process only")
        import test.support.interpreters.queues as Q
        return Q.create(maxsize=4)
    if kind == "mpq":
        if scenario == "subinterpreters":
            try:
                q = mpctx.Queue(4)
                pickle.dumps(q)
            except Exception as e:
                raise NotImplementedError(f"cannot run: multiprocessing.Queue cannot reach a subinterpreter "
                                          f"({type(e).__name__}: {e})")
        return mpctx.Queue(4)
    if kind == "pipe":
        if scenario == "subinterpreters":
            try:
                a, b = mpctx.Pipe()
                pickle.dumps(a)
            except Exception as e:
                raise NotImplementedError(f"cannot run: multiprocessing.Pipe cannot reach a subinterpreter "
                                          f"({type(e).__name__}: {e})")
            return (a, b)
        return mpctx.Pipe()
    raise ValueError(kind)


def start(scenario, specs):
    return SubinterpWorkers(specs) if scenario == "subinterpreters" else ProcessWorkers(specs)


def wait_res(res, workers, timeout=300.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            m = res.recv(timeout=1.0)
        except TimeoutError:
            if not workers.alive():
                fails = getattr(workers, "failures", [])
                raise RuntimeError("a worker died" + (": " + fails[0][-400:] if fails else ""))
            if time.monotonic() > deadline:
                raise RuntimeError("timed out")
            continue
        if m[0] == "error":
            raise RuntimeError(f"{m[1]}: {m[2]}")
        return m


# ---------------------------------------------------------------- the scenarios

TRANSFER_PEERS = [
    ("shoal", "shoal: array made with shoal.empty (zero copy)"),
    ("shoal_np", "shoal: ordinary NumPy array sent as a Buffer"),
    ("shoal_bytes", "shoal: the array's bytes (one copy into the arena)"),
    ("xiq", "CPython cross-interpreter queue (pickle, stock 10 ms poll)"),
    ("xiq_spin", "CPython cross-interpreter queue (pickle, busy poll)"),
    ("mpq", "multiprocessing.Queue"),
    ("pipe", "multiprocessing.Pipe"),
]


def reps_for(nbytes):
    return 15 if nbytes <= MiB else (5 if nbytes <= 64 * MiB else 3)


def run_transfer(scenario, sizes, mpctx):
    out = {}
    for kind, label in TRANSFER_PEERS:
        row = {"label": label}
        out[kind] = row
        if kind == "shoal_np":
            try:
                import numpy as np
                shoal.Channel(capacity=1).send(np.zeros(4))
                row["note"] = "sends now: not measured by this version of the script"
            except TypeError as e:
                row["na"] = f"n/a: not supported yet ({e})"
            log(f"{scenario}: {label}: {row.get('na', row.get('note'))}")
            continue
        try:
            ep = make_endpoint(kind, scenario, mpctx)
        except NotImplementedError as e:
            row["na"] = str(e)
            log(f"{scenario}: {label}: {e}")
            continue
        numpy_ok = scenario == "processes"
        ctl_p, ctl_c, res = shoal.Channel(8), shoal.Channel(8), shoal.Channel(16)
        mk = lambda role, ctl: {"role": role, "kind": kind, "ep": ep, "ctl": ctl, "res": res, "numpy": numpy_ok,
                                "borrowed_fds": scenario == "subinterpreters"}
        t_start = time.perf_counter()
        workers = start(scenario, [mk("producer", ctl_p), mk("consumer", ctl_c)])
        try:
            for nbytes in sizes:
                reps = reps_for(nbytes)
                ctl_c.send(("floor", nbytes))
                floor = wait_res(res, workers)[1]
                handoff, touches, info = [], [], None
                for r in range(reps):
                    ctl_c.send(("recv",))
                    time.sleep(0.005)            # the consumer is waiting in recv
                    ctl_p.send(("send", nbytes))
                    got = {}
                    while len(got) < 2:
                        m = wait_res(res, workers)
                        got[m[0]] = m
                    handoff.append(got["c"][1] - got["p"][1])
                    touches.append(got["c"][2])
                    info = got["c"][3]
                    if info[1] != nbytes:
                        raise RuntimeError(f"received {info[1]} bytes, sent {nbytes}")
                row[str(nbytes)] = {"handoff_s": handoff, "touch_s": touches, "floor_touch_s": floor,
                                    "handoff_median_s": statistics.median(handoff),
                                    "touch_median_s": statistics.median(touches),
                                    "received_type": info[0], "reps": reps}
                log(f"{scenario}: {kind:11s} {fmt_size(nbytes):>7s}: hand-off "
                    f"{fmt_t(statistics.median(handoff))}, touch {fmt_t(statistics.median(touches))} "
                    f"(floor {fmt_t(floor)}), got {info[0]}")
            ctl_p.send(("stop",))
            ctl_c.send(("stop",))
        except Exception as e:
            row["error"] = f"failed: {e}"
            log(f"{scenario}: {label}: FAILED {e}")
            for c in (ctl_p, ctl_c):
                try:
                    c.try_send(("stop",))
                except Exception:
                    pass
        workers.join()
        row["wall_s"] = time.perf_counter() - t_start
    return out


PING_PEERS = [
    ("shoal", "shoal.Channel"),
    ("xiq", "CPython cross-interpreter queue (stock 10 ms poll)"),
    ("xiq_spin", "CPython cross-interpreter queue (busy poll)"),
    ("mpq", "multiprocessing.Queue"),
    ("pipe", "multiprocessing.Pipe"),
]


def run_pingpong(scenario, n, mpctx):
    out = {}
    for kind, label in PING_PEERS:
        row = {"label": label}
        out[kind] = row
        try:
            if kind == "pipe":
                ep = make_endpoint(kind, scenario, mpctx)
                ep_a = ep_b = ep
            else:
                ep_a = make_endpoint(kind, scenario, mpctx)    # ping -> pong
                ep_b = make_endpoint(kind, scenario, mpctx)    # pong -> ping
        except NotImplementedError as e:
            row["na"] = str(e)
            log(f"{scenario} ping-pong: {label}: {e}")
            continue
        count = n if kind != "xiq" else max(50, n // 20)
        ctl, res = shoal.Channel(4), shoal.Channel(4)
        if kind == "pipe":
            b = scenario == "subinterpreters"
            specs = [{"role": "ping", "kind": kind, "ep": ep_a, "ctl": ctl, "res": res, "numpy": False, "borrowed_fds": b},
                     {"role": "pong", "kind": kind, "ep": ep_a, "ctl": None, "res": res, "numpy": False, "borrowed_fds": b}]
        else:
            # each side sends on its first endpoint and receives on its second
            specs = [{"role": "ping", "kind": kind, "ep": ep_a, "ep2": ep_b, "ctl": ctl, "res": res, "numpy": False},
                     {"role": "pong", "kind": kind, "ep": ep_b, "ep2": ep_a, "ctl": None, "res": res, "numpy": False}]
        workers = start(scenario, specs)
        try:
            ctl.send(("go", count, max(10, count // 10)))
            lat = wait_res(res, workers, timeout=600)[1]
            lat.sort()
            row.update({"n": len(lat), "p50_s": pct(lat, 50), "p99_s": pct(lat, 99),
                        "min_s": lat[0], "max_s": lat[-1]})
            log(f"{scenario} ping-pong: {kind:9s} p50 {fmt_t(row['p50_s'])} p99 {fmt_t(row['p99_s'])} (n={len(lat)})")
        except Exception as e:
            row["error"] = f"failed: {e}"
            log(f"{scenario} ping-pong: {label}: FAILED {e}")
        workers.join()
    return out


def pct(sorted_vals, p):
    k = (len(sorted_vals) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (k - lo)


# ---------------------------------------------------------------- floors

def measure_floors(largest):
    import numpy as np
    n = largest // 8
    out = {"bytes": largest}
    src = np.full(n, 1.0)
    dst = np.empty_like(src)
    dst[:] = 0.0                                    # pages present
    t = []
    for _ in range(3):
        a = time.perf_counter(); np.copyto(dst, src); t.append(time.perf_counter() - a)
    out["memcpy_prefaulted_s"] = statistics.median(t)
    t = []
    for _ in range(3):
        a = time.perf_counter(); c = src.copy(); t.append(time.perf_counter() - a); del c
    out["numpy_copy_fresh_s"] = statistics.median(t)
    mv = memoryview(dst).cast("B")
    t = []
    for _ in range(3):
        a = time.perf_counter(); touch(mv, largest); t.append(time.perf_counter() - a)
    out["touch_present_pages_s"] = statistics.median(t)
    del mv
    t = []
    for _ in range(3):
        fresh = np.empty(n)
        m = memoryview(fresh).cast("B")
        a = time.perf_counter(); touch(m, largest); t.append(time.perf_counter() - a)
        del m, fresh
    out["touch_fresh_pages_s"] = statistics.median(t)
    del src, dst
    # shoal alone, one interpreter, nothing waiting: send, recv, and the one copy for bytes
    ch = shoal.Channel(capacity=4)
    for label, mk in (("arena_buffer", lambda s: shoal.empty((s // 8,), dtype="float64")),
                      ("bytes", lambda s: b"\x01" * s)):
        for size in (KiB, largest):
            sends, recvs = [], []
            for _ in range(5 if size <= MiB else 3):
                x = mk(size)
                a = time.perf_counter(); ch.send(x); b = time.perf_counter()
                del x
                y = ch.recv(); c = time.perf_counter()
                del y
                sends.append(b - a); recvs.append(c - b)
            out[f"shoal_send_{label}_{size}_s"] = statistics.median(sends)
            out[f"shoal_recv_{label}_{size}_s"] = statistics.median(recvs)
    return out


# ---------------------------------------------------------------- report

def fmt_t(s):
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def fmt_size(b):
    for unit, v in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if b >= v:
            return f"{b // v} {unit}"
    return f"{b} B"


def machine():
    import platform
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import numpy
        npv = numpy.__version__
    except ImportError:
        npv = None
    return {"cpu": cpu, "cores": os.cpu_count(), "python": sys.version.split()[0],
            "implementation": platform.python_implementation(), "platform": platform.platform(),
            "numpy": npv, "shoal_arena_size": shoal.format_size(shoal.default_arena().size),
            "xi_queue_module": "test.support.interpreters.queues (over _interpqueues)",
            "loadavg_at_start": os.getloadavg(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}


def print_transfer(scenario, res, sizes):
    print(f"\n### One-way transfer between two {scenario}: median hand-off (x shoal), "
          f"receiver's page touch / floor (the first repetition when it stands out)\n")
    print("| peer | " + " | ".join(fmt_size(s) for s in sizes) + " |")
    print("| --- |" + " ---: |" * len(sizes))
    base = res.get("shoal", {})
    for kind, row in res.items():
        if "na" in row or ("error" in row and not any(str(s) in row for s in sizes)):
            print(f"| {row['label']} | {row.get('na') or row.get('error')} |" + " |" * (len(sizes) - 1))
            continue
        cells = []
        for s in sizes:
            c = row.get(str(s))
            if c is None:
                cells.append(row.get("error", "not run"))
                continue
            h = c["handoff_median_s"]
            b = base.get(str(s), {}).get("handoff_median_s")
            ratio = f" ({h / b:.0f}x)" if b and kind != "shoal" else ""
            first = c["touch_s"][0]
            first_note = f" (1st rep {fmt_t(first)})" if first > 2 * c["touch_median_s"] else ""
            hfirst = c["handoff_s"][0]
            hfirst_note = f" (1st rep {fmt_t(hfirst)})" if hfirst > 4 * h else ""
            cells.append(f"{fmt_t(h)}{ratio}{hfirst_note}<br>touch {fmt_t(c['touch_median_s'])} / "
                         f"{fmt_t(c['floor_touch_s'])}{first_note}")
        print(f"| {row['label']} | " + " | ".join(cells) + " |")


def print_pingpong(scenario, res):
    print(f"\n### Ping-pong of a small int between two {scenario} (round trip)\n")
    print("| peer | p50 | p99 | p50 / shoal |")
    print("| --- | ---: | ---: | ---: |")
    b = res.get("shoal", {}).get("p50_s")
    for kind, row in res.items():
        if "p50_s" not in row:
            print(f"| {row['label']} | {row.get('na') or row.get('error')} | | |")
            continue
        r = f"{row['p50_s'] / b:.1f}x" if b else "-"
        print(f"| {row['label']} | {fmt_t(row['p50_s'])} | {fmt_t(row['p99_s'])} | {r} |")


def main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="stop at 64 MiB, fewer ping-pongs")
    ap.add_argument("--pings", type=int, default=None)
    args = ap.parse_args()
    sizes = [KiB, MiB, 64 * MiB] + ([] if args.quick else [GiB])
    pings = args.pings or (1000 if args.quick else 3000)

    os.environ.setdefault("SHOAL_ARENA_SIZE", "4GiB")
    arena = shoal.default_arena()
    os.environ["SHOAL_ARENA"] = arena.name           # spawned processes attach this arena
    import multiprocessing as mp
    mpctx = mp.get_context("spawn")

    started = time.perf_counter()
    mach = machine()
    log(f"machine: {mach}")
    log("floors")
    floors = measure_floors(sizes[-1])
    transfer, ping = {}, {}
    for scenario in ("subinterpreters", "processes"):
        log(f"transfer: {scenario}")
        transfer[scenario] = run_transfer(scenario, sizes, mpctx)
    for scenario in ("subinterpreters", "processes"):
        log(f"ping-pong: {scenario}")
        ping[scenario] = run_pingpong(scenario, pings, mpctx)
    wall = time.perf_counter() - started

    cmd = " ".join([os.path.basename(sys.executable)] + sys.argv)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    mach["loadavg_at_end"] = os.getloadavg()
    common = {"machine": mach, "command": cmd, "quick": args.quick, "wall_s": wall}
    with open(os.path.join(HERE, "results", "python_transfer.json"), "w") as f:
        json_dump({**common, "sizes": sizes, "floors": floors, "transfer": transfer}, f)
    with open(os.path.join(HERE, "results", "python_pingpong.json"), "w") as f:
        json_dump({**common, "pings": pings, "pingpong": ping}, f)

    print(f"Machine: {mach['cpu']}, {mach['cores']} cores, {mach['platform']}; "
          f"{mach['implementation']} {mach['python']}, NumPy {mach['numpy']}; shoal arena "
          f"{mach['shoal_arena_size']}; {mach['date']}. Run time {wall:.0f} s. Load average "
          f"{mach['loadavg_at_start'][0]:.2f} at start, {mach['loadavg_at_end'][0]:.2f} at end.")
    big = fmt_size(sizes[-1])
    print(f"\n### Floors ({big})\n")
    print("| operation | time |\n| --- | ---: |")
    for k, label in (("memcpy_prefaulted_s", f"memcpy {big} (np.copyto, destination pages present)"),
                     ("numpy_copy_fresh_s", f"np.copy of {big} (fresh destination)"),
                     ("touch_present_pages_s", f"read 1 byte per 4 KiB page of {big}, pages present"),
                     ("touch_fresh_pages_s", f"same over a fresh np.empty (page faults)")):
        print(f"| {label} | {fmt_t(floors[k])} |")
    for label in ("arena_buffer", "bytes"):
        for size in (KiB, sizes[-1]):
            print(f"| shoal send / recv alone, one interpreter, {fmt_size(size)} {label.replace('_', ' ')} | "
                  f"{fmt_t(floors[f'shoal_send_{label}_{size}_s'])} / {fmt_t(floors[f'shoal_recv_{label}_{size}_s'])} |")
    for scenario in ("subinterpreters", "processes"):
        print_transfer(scenario, transfer[scenario], sizes)
    for scenario in ("subinterpreters", "processes"):
        print_pingpong(scenario, ping[scenario])


def json_dump(obj, f):
    import json
    json.dump(obj, f, indent=1, sort_keys=False)
    f.write("\n")


if __name__ == "__main__":
    main()
