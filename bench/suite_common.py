"""What every part of bench/suite.py shares: units, the progress log on
stderr, number formats for the tables and the log, and waiting for the
machine to go idle before a measurement."""

import sys
import time

from machine import cpu_busy_fraction

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
T0 = time.monotonic()


def log(msg):
    el = time.monotonic() - T0
    print(f"[{int(el) // 60:2d}:{int(el) % 60:02d}] {msg}", file=sys.stderr, flush=True)


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
