"""A 1M-entry dict shared with 8 subinterpreters and with 2 processes: frozen and read in place, or copied.

    python bench/frozen_bench.py                    # full run: 1,000,000 entries, 3 runs per row
    python bench/frozen_bench.py --quick            # smoke run: 20,000 entries, 1 run, well under a minute
    python bench/frozen_bench.py --entries 200000   # the full mode at a reduced size
    python bench/frozen_bench.py --only thaw,pickle --kinds processes
    python bench/frozen_bench.py --from-json bench/results/frozen_share.json   # only rewrite the .md

The value: ``{f"word{i}": i for i in range(N)}``, N = 1,000,000 (--entries).
The receivers: 8 isolated subinterpreters of one process (shoal.interpreters,
each running bench/frozen_receiver.py's ``serve`` as a Task), or 2 processes
(``python bench/frozen_receiver.py``, children of the row's process). Every
receiver is up and waiting on a shoal.Channel of its own before the clock
starts. The ways of sharing (``WAYS``):

  freeze   ``shoal.freeze(d)`` once, then the view sent through each
           receiver's Channel: it arrives as a view of the same block (the
           new path; with a shoal that has no ``shoal.freeze``, its rows are
           reported as unavailable, with the reason);
  thaw     the plain dict sent through each receiver's Channel: every send
           encodes it, every recv rebuilds it (today's path);
  pickle   ``pickle.dumps(d)`` once, the bytes sent through each Channel,
           each receiver ``pickle.loads`` them;
  manager  (processes only) a ``multiprocessing.Manager().dict()`` (spawn)
           loaded with ``update()`` in chunks of 50,000 (the load is the
           sender's one-time cost), its proxy pickled and sent through each
           Channel; each receiver unpickles the proxy (receivers share the
           row process's authkey).

Each run is a fresh process (--_row): its own default arena, its own
receivers; per run, in order:

(a) time to share: clock t0, the sender's one-time cost (freeze, pickle, the
    Manager's load; nothing for thaw), clock t1, a send to every receiver;
    each receiver notes when its value arrived and when a first lookup
    (``value["word1"]``) returned. Reported: the one-time cost t1 - t0, the
    handover (the slowest receiver's first lookup - t1) and their sum.
(b) memory in copies: the PSS of the row's process and its descendants
    (bench/machine.py's tree_pss: the receivers' processes, the Manager's
    server; 8 subinterpreters are one process) minus a baseline taken with
    the receivers up and idle (and the Manager started) before the dict
    existed, divided by one copy: what building the plain dict in the row's
    process added to that same measure. Read twice once every receiver can
    look up: with the sender's original dict still held, and after the
    sender dropped it and its pickle (gc.collect()); a freezing sender keeps
    its view. The arena gives freed pages back to tmpfs a pass or two
    behind (docs/architecture.md), so the thaw and pickle rows may still
    count the messages their receivers consumed.
(c) lookups: in receiver 0 alone (the others idle), --lookups keys drawn
    from the dict's keys (random.Random(--seed), built and hashed before
    timing), ``s += m[k]`` over all of them in a Python loop: over what it
    received and over a plain dict of the same entries in the same receiver
    (``view.thaw()``, ``dict(d)``, ``proxy.copy()``), interleaved --reps
    times each, medians; the loop without the lookup is timed too. The
    Manager's proxy is timed over --manager-lookups keys (each lookup a
    round trip to its server) and scaled to --lookups.
(d) opening: values queued for receiver 0 (--opens of them) received one
    by one, each receive timed alone: a 10-entry value and the N-entry one
    (only 2 of the N-entry value for thaw and pickle, whose receives take
    seconds).

Before each run's timed part the row waits (up to --settle s) for the
machine to be idle, and the share of the CPUs other processes (or the host,
as steal) took during it is recorded (/proc/stat minus the row's tree); a
timing target missed by the medians but met by the fastest measures while
others took over 10% of the CPUs is reported as bounded by the machine.
Medians over --runs runs. Results: bench/results/frozen_share.json
and .md (--quick: frozen_share_quick.*); progress on stderr.

Targets, judged on the freeze rows, reported, not asserted:
opening (the receive of a frozen view) <= 20 us whatever the size; memory
within 5% of one copy (<= 1.05 copies, the sender's original dropped); a
lookup loop within 4x the plain dict's.
"""

import argparse
import gc
import json
import os
import pickle
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from machine import cpu_busy_fraction, tree_pids, tree_pss  # noqa: E402
import machine  # noqa: E402

import frozen_receiver  # noqa: E402
from frozen_receiver import key_of  # noqa: E402

T0 = time.monotonic()
now = time.perf_counter

from frozen_report import (  # noqa: E402
    DISTURBED,
    FREEZE_MISSING,
    KINDS,
    MANAGER_CHUNK,
    SMALL,
    TARGET_COPIES,
    TARGET_LOOKUP_RATIO,
    TARGET_OPEN_S,
    WAYS,
    write_report,
)


def log(msg):
    el = time.monotonic() - T0
    print(f"[{int(el) // 60:2d}:{int(el) % 60:02d}] {msg}", file=sys.stderr, flush=True)


def build_dict(n):
    return {key_of(i): i for i in range(n)}


# ================================================================ the machine

def settle(limit_s, busy_below=0.05):
    """Waits until the machine is idle (up to limit_s); the seconds waited
    and the last busy share seen."""
    start, busy = time.monotonic(), None
    while time.monotonic() - start < limit_s:
        busy = cpu_busy_fraction(0.25)
        if busy is None or busy < busy_below:
            break
    return time.monotonic() - start, busy


def _machine_jiffies():
    """(busy, total) jiffies of all CPUs so far; busy counts steal."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    total = sum(v[:8])
    return total - v[3] - v[4], total


def _tree_jiffies():
    total = 0
    for p in tree_pids():
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        except (OSError, IndexError, ValueError):
            pass  # gone meanwhile
    return total


class OthersShare:
    """The share of the machine's CPU time that went to processes other than
    this row's tree between creation and share(): None when the interval is
    too short for jiffies (10 ms) to tell."""

    def __init__(self):
        (self.busy, self.total), self.ours = _machine_jiffies(), _tree_jiffies()

    def share(self):
        (busy, total), ours = _machine_jiffies(), _tree_jiffies()
        if total - self.total < 20:
            return None
        return max(0.0, ((busy - self.busy) - (ours - self.ours)) / (total - self.total))


class QuietMeter(OthersShare):
    """OthersShare after waiting for an idle machine; a measure too short
    for jiffies to tell is judged by the machine's busy share in the 0.25 s
    just before it (the row idle then)."""

    def __init__(self, busy_before):
        super().__init__()
        self.busy_before = busy_before

    def share(self):
        s = super().share()
        return self.busy_before if s is None else s


def quiet_meter(limit_s):
    _, busy = settle(limit_s)
    return QuietMeter(busy)


# ================================================================ the receivers

class Receivers:
    """`count` receivers of one kind, each serving `way` (frozen_receiver.serve),
    up and waiting on their data channel when the constructor returns."""

    def __init__(self, shoal, kind, way, count, n, authkey, timeout):
        self.kind, self.count, self.timeout = kind, count, timeout
        self.out = shoal.Channel(capacity=4 * count + 8)
        self.ctl = [shoal.Channel(capacity=4) for _ in range(count)]
        self.data = [shoal.Channel(capacity=64) for _ in range(count)]
        self.interps, self.tasks, self.procs = [], [], []
        args = [dict(way=way, index=i, n=n, ctl=self.ctl[i], data=self.data[i], out=self.out, authkey=authkey)
                for i in range(count)]
        if kind == "subinterpreters":
            from shoal import interpreters
            for a in args:
                interp = interpreters.create()
                self.interps.append(interp)
                self.tasks.append(interp.run(frozen_receiver.serve, **a))
        else:
            for a in args:
                p = subprocess.Popen([sys.executable, os.path.join(HERE, "frozen_receiver.py")],
                                     stdin=subprocess.PIPE)
                self.procs.append(p)
                p.stdin.write(pickle.dumps(a))  # the channels by reference
                p.stdin.close()
        self.expect("idle")

    def expect(self, tag, count=None):
        """The next `count` (default: all receivers) messages, which must be
        `tag`s; index -> message. A receiver that failed meanwhile, or
        silence for the timeout, raises."""
        got, deadline = {}, time.monotonic() + self.timeout
        while len(got) < (count or self.count):
            try:
                msg = self.out.recv(timeout=1.0)
            except TimeoutError:
                why = self.failed() or (time.monotonic() > deadline and f"nothing for {self.timeout:.0f} s")
                if why:
                    raise RuntimeError(f"receivers: waiting for {tag!r} (got {sorted(got)}): {why}") from None
                continue
            if msg[0] != tag:
                raise RuntimeError(f"receivers: expected {tag!r}, got {msg!r}")
            got[msg[1]] = msg
        return got

    def failed(self):
        """Why a receiver ended before being told to stop, or None."""
        for i, t in enumerate(self.tasks):
            if t.done() and t.exception() is not None:
                return f"the receiver in subinterpreter {i} raised {t.exception()!r}"
        for i, p in enumerate(self.procs):
            if p.poll():
                return f"receiver process {i} exited with status {p.returncode}"
        return None

    def command(self, index, *cmd):
        self.ctl[index].send(cmd)
        return self.expect(cmd[0], 1)[index][2]

    def stop(self, after_failure=False):
        """Every receiver told to stop and waited for (one still waiting for
        its value, when the sender failed, is woken by its data channel's
        poisoning), its interpreter closed, its process reaped. After a
        failure a receiver that does not stop is only logged: the first
        failure is the one to report."""
        try:
            for d in self.data:
                d.poison()
            for c in self.ctl:
                c.send(("stop",))
            self.expect("stopped")
        except Exception as e:
            if not after_failure:
                raise
            log(f"  while stopping the receivers after a failure: {e}")
        finally:
            for t in self.tasks:
                t.join(self.timeout)
            for i in self.interps:
                i.close()
            for p in self.procs:
                try:
                    p.wait(self.timeout)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


# ================================================================ one run of one row (child process)

class Sender:
    """What the sender does for one way: prepare(d) -> the payload every
    receiver is sent (the sender's one-time cost)."""

    def __init__(self, shoal, way, manager=None):
        self.shoal, self.way, self.manager = shoal, way, manager
        self.proxies = []  # a Manager's dict lives while its proxy here does

    def prepare(self, d):
        if self.way == "freeze":
            return self.shoal.freeze(d)
        if self.way == "thaw":
            return d
        if self.way == "pickle":
            return pickle.dumps(d, protocol=pickle.HIGHEST_PROTOCOL)
        proxy = self.manager.dict()
        items = list(d.items())
        for lo in range(0, len(items), MANAGER_CHUNK):
            proxy.update(items[lo:lo + MANAGER_CHUNK])
        self.proxies.append(proxy)
        return pickle.dumps(proxy)

    def keeps(self, payload):
        """What the sender holds on to once every receiver has its value: a
        freezing sender its view (it goes on reading it); the others
        nothing (their original dict and pickle dropped)."""
        return payload if self.way == "freeze" else None


def share(out, sender, receivers, n, settle_s):
    """(a) and (b): the dict built, handed to every receiver, timed and its
    memory read; what the sender keeps."""
    out["pss_baseline_bytes"] = p0 = tree_pss()[0]
    t = now()
    d = build_dict(n)
    out["build_s"] = now() - t
    gc.collect()
    out["pss_one_copy_bytes"] = one = tree_pss()[0] - p0
    arena = sender.shoal.default_arena()
    arena_used = arena.stats()["used"]

    out["settle_s"], out["busy_before"] = settle(settle_s)
    meter = OthersShare()
    t0 = now()
    payload = sender.prepare(d)
    t1 = now()
    for ch in receivers.data:
        ch.send(payload)
    t_sent = now()
    ready = receivers.expect("ready")
    out["others_share"] = meter.share()
    arrived = [ready[i][2] - t1 for i in range(receivers.count)]
    usable = [ready[i][3] - t1 for i in range(receivers.count)]
    out.update(prepare_s=t1 - t0, sends_s=t_sent - t1, handover_s=max(usable), total_s=max(usable) + (t1 - t0),
               first_ready_s=min(usable), arrived_s=arrived, ready_s=usable,
               receivers_ok=all(msg[4] for msg in ready.values()),
               arena_used_bytes=arena.stats()["used"] - arena_used)
    if sender.way == "pickle":
        out["pickle_bytes"] = len(payload)

    gc.collect()
    out["pss_with_original_bytes"] = p2 = tree_pss()[0]
    kept = sender.keeps(payload)
    del d, payload
    gc.collect()
    out["pss_held_bytes"] = p3 = tree_pss()[0]
    out["copies_with_original"] = (p2 - p0) / one
    out["copies"] = (p3 - p0) / one
    return kept


def lookups(receivers, args, way):
    """(c), in receiver 0."""
    count = args.manager_lookups if way == "manager" else args.lookups
    meter = quiet_meter(args.settle_row)
    lk = receivers.command(0, "lookup", count, args.seed, args.reps)
    lk["others_share"] = meter.share()
    lk["scale"] = args.lookups / count
    return lk


def opening_payload(sender, label, n, view, opens):
    """(what to queue, how many) for the opening measure: a 10-entry value,
    or the N-entry one: the view kept, the Manager's proxy pickled again, or
    for thaw and pickle a new dict of the same entries, queued only twice
    (each of their receives takes seconds)."""
    if label == "small":
        return sender.prepare(build_dict(SMALL)), opens
    if view is not None:
        return view, opens
    if sender.way == "manager":
        return pickle.dumps(sender.proxies[0]), opens
    return sender.prepare(build_dict(n)), 2


def opens(receivers, sender, args, kept):
    """(d), in receiver 0: values queued, then received one by one."""
    out = {}
    for label in ("small", "big"):
        payload, k = opening_payload(sender, label, args.entries, kept, args.opens)
        for _ in range(k):
            receivers.data[0].send(payload)
        del payload
        meter = quiet_meter(args.settle_row)
        out[label] = receivers.command(0, "open", k)
        out[label]["others_share"] = meter.share()
    return out


def row_child(args):
    """One run of one row (way, kind), in a process of its own; its numbers."""
    way, kind = args._row.split(":")
    import shoal
    if way == "freeze" and not hasattr(shoal, "freeze"):
        return {"na": FREEZE_MISSING}
    count = args.subinterpreters if kind == "subinterpreters" else args.processes
    out = {"way": way, "kind": kind, "receivers": count, "entries": args.entries, "pid": os.getpid()}
    manager = authkey = None
    if way == "manager":  # started before the receivers (they need its key) and before the baseline
        import multiprocessing
        t = now()
        manager = multiprocessing.get_context("spawn").Manager()
        out["manager_start_s"] = now() - t
        authkey = bytes(multiprocessing.current_process().authkey)
    receivers = Receivers(shoal, kind, way, count, args.entries, authkey, args.timeout)
    failed = True
    try:
        sender = Sender(shoal, way, manager)
        kept = share(out, sender, receivers, args.entries, args.settle_row)
        out["lookups"] = lk = lookups(receivers, args, way)
        out["opens"] = opens(receivers, sender, args, kept)
        del kept
        failed = False
    finally:
        receivers.stop(after_failure=failed)
        if manager is not None:
            manager.shutdown()
    log(f"  {way}:{kind} N={args.entries:,}: one-time {out['prepare_s']:.3f} s, handover {out['handover_s']:.3f} s, "
        f"memory {out['copies']:.2f} copies ({out['copies_with_original']:.2f} with the original), lookups "
        f"{lk['shared_median_s'] * lk['scale']:.3f} s vs plain {lk['plain_median_s'] * lk['scale']:.3f} s, open big "
        f"{statistics.median(out['opens']['big']['recv_s']) * 1e6:.1f} us, small "
        f"{statistics.median(out['opens']['small']['recv_s']) * 1e6:.1f} us")
    return out


# ================================================================ the orchestrator

def run_child(args, way, kind):
    cmd = [sys.executable, os.path.abspath(__file__), "--_row", f"{way}:{kind}"] + [
        f"--{k.replace('_', '-')}={getattr(args, k)}" for k in
        ("entries", "subinterpreters", "processes", "lookups", "manager_lookups", "reps", "opens", "seed",
         "settle_row", "timeout")]
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=None, text=True, timeout=args.timeout * 6)
    except subprocess.TimeoutExpired:
        return {"error": f"failed: timed out after {args.timeout * 6:.0f} s"}
    lines = [line for line in p.stdout.splitlines() if line.strip()]
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        return {"error": f"failed: exit {p.returncode}, no result ({(p.stdout or '')[-300:]!r})"}


def median_of(runs, get):
    vals = [v for v in (get(r) for r in runs) if v is not None]
    return statistics.median(vals) if vals else None


def summarize(runs):
    """The runs of one row -> medians (each run's own medians first)."""
    ok = [r for r in runs if "na" not in r and "error" not in r]
    if not ok:
        bad = runs[0] if runs else {"error": "not run"}
        return {k: bad[k] for k in ("na", "error") if k in bad}
    lk = lambda r: r["lookups"]  # noqa: E731
    s = {
        "runs": len(ok), "failed_runs": len(runs) - len(ok),
        "prepare_s": median_of(ok, lambda r: r["prepare_s"]),
        "handover_s": median_of(ok, lambda r: r["handover_s"]),
        "total_s": median_of(ok, lambda r: r["total_s"]),
        "first_ready_s": median_of(ok, lambda r: r["first_ready_s"]),
        "copies": median_of(ok, lambda r: r["copies"]),
        "copies_with_original": median_of(ok, lambda r: r["copies_with_original"]),
        "one_copy_bytes": median_of(ok, lambda r: r["pss_one_copy_bytes"]),
        "shared_lookups_s": median_of(ok, lambda r: lk(r)["shared_median_s"] * lk(r)["scale"]),
        "plain_lookups_s": median_of(ok, lambda r: lk(r)["plain_median_s"] * lk(r)["scale"]),
        "loop_alone_s": median_of(ok, lambda r: statistics.median(lk(r)["loop_alone_s"]) * lk(r)["scale"]),
        "lookup_count": ok[0]["lookups"]["count"], "lookup_scale": ok[0]["lookups"]["scale"],
        "sums_agree": all(lk(r)["sums_agree"] for r in ok),
        "receivers_ok": all(r["receivers_ok"] for r in ok),
        "others_share_max": max((r["others_share"] or 0.0) for r in ok),
        "lookup_others_share_max": max((lk(r)["others_share"] or 0.0) for r in ok),
        "open_others_share_max": max((r["opens"][k]["others_share"] or 0.0) for r in ok for k in ("small", "big")),
        "disturbed_runs": sum((r["others_share"] or 0.0) > DISTURBED for r in ok),
    }
    s["lookup_ratio"] = s["shared_lookups_s"] / s["plain_lookups_s"]
    s["lookup_ratio_best"] = min(min(lk(r)["shared_s"]) / min(lk(r)["plain_s"]) for r in ok)
    net_plain = s["plain_lookups_s"] - s["loop_alone_s"]
    s["lookup_ratio_net"] = (s["shared_lookups_s"] - s["loop_alone_s"]) / net_plain if net_plain > 0 else None
    for label in ("small", "big"):
        all_recv = [x for r in ok for x in r["opens"][label]["recv_s"]]
        all_use = [x for r in ok for x in r["opens"][label]["until_first_lookup_s"]]
        s[f"open_{label}"] = {"recv_median_s": statistics.median(all_recv), "recv_max_s": max(all_recv),
                              "recv_min_s": min(all_recv), "usable_median_s": statistics.median(all_use),
                              "count": len(all_recv)}
    for k in ("arena_used_bytes", "pickle_bytes", "manager_start_s"):
        if k in ok[0]:
            s[k] = median_of(ok, lambda r, k=k: r.get(k))
    failures = [r.get("error") or r.get("na") for r in runs if r not in ok]
    if failures:
        s["failure"] = failures[0]
    return s


def fingerprint():
    """Which shoal is measured (without importing it here)."""
    import importlib.util
    spec = importlib.util.find_spec("shoal")
    out = {"path": list(spec.submodule_search_locations)[0] if spec else None}
    out["git_head"] = machine.git_head(ROOT)
    try:
        out["has_freeze"] = subprocess.run([sys.executable, "-c", "import shoal; print(hasattr(shoal, 'freeze'))"],
                                           capture_output=True, text=True, timeout=60).stdout.strip() == "True"
    except (OSError, subprocess.SubprocessError):
        pass
    return out



def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 20,000 entries, 1 run, short waits")
    ap.add_argument("--entries", type=int, default=None, help="entries of the dict (default 1,000,000; --quick 20,000)")
    ap.add_argument("--runs", type=int, default=None, help="runs per row, each a fresh process (default 3; --quick 1)")
    ap.add_argument("--subinterpreters", type=int, default=8)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--lookups", type=int, default=None,
                    help="random lookups timed (default 1,000,000; --quick 20,000)")
    ap.add_argument("--manager-lookups", type=int, default=None, help="lookups timed through the Manager's proxy, "
                    "scaled to --lookups (default 20,000; --quick 2,000)")
    ap.add_argument("--reps", type=int, default=None,
                    help="lookup loops per mapping, interleaved (default 5; --quick 2)")
    ap.add_argument("--opens", type=int, default=None, help="queued values received one by one (default 20; --quick 5)")
    ap.add_argument("--seed", type=int, default=23)
    ap.add_argument("--settle", type=float, default=None, help="seconds to wait at most for an idle machine before "
                    "each run (default 60; --quick 1)")
    ap.add_argument("--settle-row", type=float, default=None, help="the same, inside the run just before the clock "
                    "starts (default 10; --quick 0.5)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds a receiver may take for any one step "
                    "(default 300; --quick 30)")
    ap.add_argument("--only", default="", help="comma-separated ways: " + ",".join(WAYS))
    ap.add_argument("--kinds", default=",".join(KINDS), help="comma-separated receivers: " + ",".join(KINDS))
    ap.add_argument("--output", default=None, help="JSON path (default bench/results/frozen_share.json; --quick: "
                    "frozen_share_quick.json); the report goes beside it as .md")
    ap.add_argument("--from-json", default=None, metavar="JSON", help="measure nothing: rewrite the .md from it")
    ap.add_argument("--_row", help=argparse.SUPPRESS)
    args = ap.parse_args()
    q = args.quick
    args.entries = args.entries or (20_000 if q else 1_000_000)
    args.runs = args.runs or (1 if q else 3)
    args.lookups = args.lookups or (20_000 if q else 1_000_000)
    args.manager_lookups = min(args.manager_lookups or (2_000 if q else 20_000), args.lookups)
    args.reps = args.reps or (2 if q else 5)
    args.opens = args.opens or (5 if q else 20)
    args.settle = args.settle if args.settle is not None else (1.0 if q else 60.0)
    args.settle_row = args.settle_row if args.settle_row is not None else (0.5 if q else 10.0)
    args.timeout = args.timeout or (30.0 if q else 300.0)

    if args.from_json:
        with open(args.from_json) as f:
            R = json.load(f)
        R["rows"] = {row: summarize(runs) for row, runs in R["raw"].items()}  # the runs are the record
        write_report(R, args.from_json)
        return
    if args._row:
        try:
            out = row_child(args)
        except Exception as e:  # the traceback to stderr, the reason into the report
            import traceback
            traceback.print_exc()
            out = {"error": f"failed: {type(e).__name__}: {e}"[:400]}
        sys.stdout.flush()
        print(json.dumps(out), flush=True)
        return

    ways = [w for w in (args.only.split(",") if args.only else WAYS)]
    kinds = [k for k in args.kinds.split(",") if k]
    bad = [w for w in ways if w not in WAYS] + [k for k in kinds if k not in KINDS]
    if bad:
        ap.error(f"unknown way or kind: {', '.join(bad)}")
    # Sparse: room for every receiver's message of today's path in flight at once.
    os.environ.setdefault("SHOAL_ARENA_SIZE", "4GiB" if args.entries > 100_000 else "1GiB")
    command = " ".join(["python", os.path.relpath(__file__, ROOT)] + sys.argv[1:])
    R = {"machine": machine.describe(), "quick": q, "command": command,
         "shoal": fingerprint(), "entries": args.entries, "runs": args.runs, "lookups": args.lookups,
         "manager_lookups": args.manager_lookups, "reps": args.reps, "opens": args.opens, "seed": args.seed,
         "receivers": {"subinterpreters": args.subinterpreters, "processes": args.processes},
         "ways": {w: WAYS[w] for w in ways}, "rows": {}, "raw": {}}
    if "freeze" in ways and not R["shoal"].get("has_freeze"):
        log("NOTE: shoal.freeze is missing from the installed shoal: the freeze "
            "rows are reported as unavailable; the other ways are measured")
    log(f"{args.entries:,} entries, {args.runs} run(s) per row, receivers: {args.subinterpreters} subinterpreters, "
        f"{args.processes} processes")
    started = time.perf_counter()
    for kind in kinds:
        for way in ways:
            if way == "manager" and kind == "subinterpreters":
                continue
            runs = []
            for i in range(args.runs):
                waited, busy = settle(args.settle)
                log(f"{way}:{kind} run {i + 1}/{args.runs}" + (f" (waited {waited:.0f} s for an idle machine, "
                                                              f"busy {busy:.0%})" if waited > 1 else ""))
                r = run_child(args, way, kind)
                runs.append(r)
                if "na" in r or "error" in r:
                    log(f"  {way}:{kind}: {r.get('na') or r.get('error')}")
                    break  # unavailable or broken: the same in the next run
            R["raw"][f"{way}:{kind}"] = runs
            R["rows"][f"{way}:{kind}"] = summarize(runs)
    R["wall_s"] = time.perf_counter() - started
    R["machine"]["load_end"] = os.getloadavg()
    path = args.output or os.path.join(HERE, "results", "frozen_share_quick.json" if q else "frozen_share.json")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(R, f, indent=1)
        f.write("\n")
    write_report(R, path)
    md = os.path.splitext(path)[0] + ".md"
    log(f"raw numbers: {os.path.relpath(path, ROOT)}; report: {os.path.relpath(md, ROOT)} ({R['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
