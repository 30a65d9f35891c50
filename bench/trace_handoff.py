#!/usr/bin/env python3
"""Where a one-way hand-off's time goes, from the kernel's scheduler events.

    python bench/trace_handoff.py [--reps 9] [--size 1GiB]     # as root

Two processes, pinned to a CPU each as bench/suite.py's transfers are, and a
shoal.Channel between them. The consumer sleeps in recv(); the producer
sends, in four scenarios:

  * 1 KiB, 2 ms after the last hand-off (the suite's 1 KiB column);
  * 1 KiB after sleeping as long as writing the large array takes;
  * 1 KiB right after writing a large array (held, not sent);
  * the large array it has just written (the suite's large column).

Each hand-off is split at two scheduler events of the consumer (tracefs,
clock "mono", the clock time.perf_counter reads):

  send -> waking       the producer's send() until the kernel wakes the consumer
  waking -> running    the kernel and the host until the consumer runs
  running -> received  the consumer's side until its recv() has returned

Why: the suite's 1 GiB hand-off costs more than its 1 KiB one, and the split
says whether shoal's work grows with the size or the machine's state before
the send does. Needs root (tracefs) and the host's PID namespace (events
are matched by pid); records only the consumer's events and restores every
tracing setting it changes. The trace's text timestamps are whole
microseconds. Prints medians as a markdown table; raw numbers in
bench/results/handoff_trace.json.
"""
import argparse
import json
import multiprocessing as mp
import os
import pathlib
import platform
import re
import statistics
import sys
import time

import numpy as np

# The default arena (1 GiB) cannot hold a 1 GiB array and its header; the
# consumer, spawned, inherits this.
os.environ.setdefault("SHOAL_ARENA_SIZE", "6GiB")

import shoal  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
TRACING = pathlib.Path("/sys/kernel/tracing")
KiB = 1024


# ------------------------------------------------------------- tracefs

def check_tracing():
    """Exits with the reason if this process cannot trace."""
    if os.geteuid() != 0:
        sys.exit("trace_handoff: needs root (tracefs)")
    if not (TRACING / "trace").exists():
        sys.exit(f"trace_handoff: no tracefs at {TRACING} (as root: mount -t tracefs nodev {TRACING})")


class SchedTrace:
    """The scheduler events of one process (`pid`), recorded into tracefs's
    buffer while in a `with`. Filtered to that process, a run records a
    few events per hand-off, so the default buffer never fills. Every
    setting it changes is put back afterwards, each on its own, whatever
    fails; `text` is what was recorded."""

    FILTERS = {"sched/sched_waking": "pid == {pid}", "sched/sched_switch": "next_pid == {pid}"}

    def __init__(self, pid):
        self.pid = pid
        self.text = ""
        self.saved = {}

    def __enter__(self):
        self.saved = {"trace_clock": re.search(r"\[([^\]]+)\]", self._read("trace_clock")).group(1),
                      "set_event": self._read("set_event").split(),
                      "tracing_on": self._read("tracing_on").strip()}
        for event in self.FILTERS:
            self.saved[event] = self._read(f"events/{event}/filter").strip()
        try:
            self._write("tracing_on", "0")
            self._write("trace_clock", "mono")
            for event, expression in self.FILTERS.items():
                self._write(f"events/{event}/filter", expression.format(pid=self.pid))
            self._write("set_event", " ".join(e.replace("/", ":") for e in self.FILTERS))
            self._write("trace", "")
            self._write("tracing_on", "1")
        except BaseException:
            self._restore()
            raise
        return self

    def __exit__(self, *exc):
        try:
            self._write("tracing_on", "0")
            self.text = self._read("trace")
            overruns = sum(int(m) for f in TRACING.glob("per_cpu/cpu*/stats")
                           for m in re.findall(r"^overrun: (\d+)", f.read_text(), re.M))
            if overruns:
                print(f"trace_handoff: the trace buffer overran ({overruns} events lost)", file=sys.stderr)
        finally:
            self._restore()

    def _restore(self):
        steps = [("set_event", "\n".join(self.saved.get("set_event", [])))]
        steps += [(f"events/{e}/filter", "0" if self.saved.get(e, "none") == "none" else self.saved[e])
                  for e in self.FILTERS]
        steps += [("trace_clock", self.saved.get("trace_clock", "local")), ("trace", ""),
                  ("tracing_on", self.saved.get("tracing_on", "0"))]
        for name, value in steps:
            try:
                self._write(name, value)
            except OSError as e:
                print(f"trace_handoff: could not restore {TRACING / name}: {e}", file=sys.stderr)

    @staticmethod
    def _read(name):
        return (TRACING / name).read_text()

    @staticmethod
    def _write(name, value):
        with open(TRACING / name, "w") as f:
            f.write(value)


# A line of the trace: task-pid, an optional (tgid) column, [cpu], optional
# irq-info flags, the timestamp (seconds, to the microsecond in text), event.
LINE = re.compile(r"^\s*.+?-(\d+)\s+(?:\(\s*[\d-]+\)\s+)?\[(\d+)\]\s+(?:\S+\s+)?([\d.]+): "
                  r"(sched_waking|sched_switch): (.*)$")


def consumer_events(text, pid):
    """(time, "waking" | "running") of every event waking `pid` or
    switching to it, in order."""
    out = []
    for line in text.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        ts, event, fields = float(m.group(3)), m.group(4), m.group(5)
        if event == "sched_waking" and re.search(rf"\bpid={pid}\b", fields):
            out.append((ts, "waking"))
        elif event == "sched_switch" and re.search(rf"\bnext_pid={pid}\b", fields):
            out.append((ts, "running"))
    return out


def cpu_model():
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


# ------------------------------------------------------- the two sides

def consumer(channel, results, cpu):
    os.sched_setaffinity(0, {cpu})
    import numpy  # noqa: F401  (received arrays arrive as NumPy arrays)
    results.send(os.getpid())
    while True:
        try:
            item = channel.recv()
        except shoal.ChannelClosed:
            return
        received = time.perf_counter()
        results.send(received)
        del item


def filled(nbytes):
    buf = shoal.empty((nbytes // 8,), dtype="float64")
    np.asarray(buf)[:] = 1.0
    return buf


# The scenarios, in the order they run: what the producer does before
# the send, and what it sends. "after_sleep" sleeps as long as the writes
# of "large" took (their median), so it runs after it.
SCENARIOS = ("after_2ms", "large", "after_write", "after_sleep")


def label(scenario, size, writing_s):
    big = shoal.format_size(size)
    return {"after_2ms": "1 KiB, 2 ms after the last hand-off",
            "after_sleep": f"1 KiB after sleeping {writing_s * 1e3:.0f} ms (as long as writing {big} takes)",
            "after_write": f"1 KiB right after writing {big} (held, not sent)",
            "large": f"{big}, just written"}[scenario]


def hand_off(channel, results, scenario, size, writing_s):
    """One hand-off of `scenario`: (time spent before the send, send
    started, send returned, received)."""
    start = time.perf_counter()
    held = None
    if scenario == "after_2ms":
        payload = filled(KiB)
        time.sleep(0.002)
    elif scenario == "after_sleep":
        time.sleep(writing_s)
        payload = filled(KiB)
    elif scenario == "after_write":
        held = filled(size)
        payload = filled(KiB)
    else:
        payload = filled(size)
    t0 = time.perf_counter()
    channel.send(payload)
    t_sent = time.perf_counter()
    del payload
    received = results.recv(timeout=60)
    del held    # after the hand-off: freeing it takes the lock the consumer's recv takes
    return t0 - start, t0, t_sent, received


def split(events, t0, t_received):
    """The first waking and the first running after it within the hand-off."""
    waking = next((t for t, kind in events if kind == "waking" and t0 <= t <= t_received), None)
    if waking is None:
        return None
    running = next((t for t, kind in events if kind == "running" and waking <= t <= t_received), None)
    if running is None:
        return None
    return {"send_to_waking_s": waking - t0, "waking_to_running_s": running - waking,
            "running_to_received_s": t_received - running, "total_s": t_received - t0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--size", default="1GiB")
    args = ap.parse_args()
    size = shoal.parse_size(args.size)
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        sys.exit("trace_handoff: needs two CPUs (producer and consumer on one each)")
    check_tracing()

    ctx = mp.get_context("spawn")
    channel, results = shoal.Channel(4), shoal.Channel(16)
    # A daemon: if anything below fails, exiting must not wait for a
    # consumer blocked in recv().
    worker = ctx.Process(target=consumer, args=(channel, results, cpus[1]), daemon=True)
    worker.start()
    os.sched_setaffinity(0, {cpus[0]})
    runs = {name: [] for name in SCENARIOS}
    writing_s = 0.0
    try:
        pid = results.recv(timeout=60)
        time.sleep(0.5)
        with SchedTrace(pid) as trace:
            for name in SCENARIOS:
                for _ in range(args.reps + 1):        # the first of each is not counted
                    runs[name].append(hand_off(channel, results, name, size, writing_s))
                if name == "large":
                    writing_s = statistics.median(r[0] for r in runs[name][1:])
    finally:
        channel.close()     # the consumer's recv() raises ChannelClosed: it ends
        worker.join(60)

    events = consumer_events(trace.text, pid)
    out = {"machine": f"{cpu_model()}, {os.cpu_count()} CPUs, "
                      f"{platform.platform()}, {platform.python_implementation()} {platform.python_version()}",
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "size": size,
           "writing_s": writing_s, "scenarios": {}}
    print(f"One-way hand-off between two processes pinned to a CPU each, split by the consumer's scheduler "
          f"events (medians; the trace's timestamps are whole microseconds; {out['machine']}; {out['date']}):\n")
    print("| scenario | hand-offs | send → waking | waking → running | running → received | total |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name in SCENARIOS:
        parts = [split(events, t0, t_received) for _, t0, _, t_received in runs[name][1:]]
        parts = [p for p in parts if p is not None]
        text = label(name, size, writing_s)
        out["scenarios"][name] = {"label": text, "hand_offs": parts}
        if not parts:
            print(f"| {text} | 0 of {args.reps}: no events of pid {pid} found (another PID namespace?) | | | | |")
            continue
        med = {k: statistics.median(p[k] for p in parts) for k in parts[0]}
        print(f"| {text} | {len(parts)} of {args.reps} | " + " | ".join(f"{med[k] * 1e6:.1f} µs" for k in
                                          ("send_to_waking_s", "waking_to_running_s", "running_to_received_s",
                                           "total_s")) + " |")
    path = HERE / "results" / "handoff_trace.json"
    path.write_text(json.dumps(out, indent=1))
    print(f"\nraw numbers: {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
