#!/usr/bin/env python3
"""Runs the C++ core benchmarks and reports them side by side.

    python bench/core_report.py [--build build] [--min-time 0.5] [--update-report]

Runs build/bench/{alloc,channel,heap}_bench (Google Benchmark), keeps each
one's raw JSON in bench/results/<name>.json (the machine is in its
"context"), and prints markdown tables: allocate+free beside malloc+free,
the channel round trip, and freezing/reading frozen objects. With
--update-report the tables replace the section of docs/performance.md
between <!-- core-bench:begin --> and <!-- core-bench:end -->, so the
report quotes exactly the last run.
"""
import argparse
import json
import pathlib
import platform
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
BEGIN, END = "<!-- core-bench:begin -->", "<!-- core-bench:end -->"


def run(binary: pathlib.Path, min_time: float) -> dict:
    out = HERE / "results" / f"{binary.name.removesuffix('_bench')}.json"
    out.parent.mkdir(exist_ok=True)
    print(f"running {binary.name} ...", file=sys.stderr, flush=True)
    subprocess.run(
        [str(binary), f"--benchmark_min_time={min_time}", "--benchmark_repetitions=3",
         "--benchmark_report_aggregates_only=true",
         f"--benchmark_out={out}", "--benchmark_out_format=json"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads(out.read_text())


def medians(report: dict) -> dict:
    """{run_name: median real time in ns}"""
    unit = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
    return {b["run_name"]: b["real_time"] * unit[b["time_unit"]]
            for b in report["benchmarks"] if b.get("aggregate_name") == "median"}


def size_label(n: int) -> str:
    for shift, name in ((30, "GiB"), (20, "MiB"), (10, "KiB")):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {name}"
    return f"{n} B"


def duration(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.1f} ns"


def alloc_table(m: dict) -> list[str]:
    rows = ["| block | processes | shoal allocate+free | malloc+free | shoal / malloc "
            "| shoal, locked path (another thread's holder) |",
            "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    for procs in (1, 2):
        for size in (64, 4096, 1 << 20):
            key = f"bytes:{size}/processes:{procs}"
            shoal, malloc = m[f"BM_shoal_alloc_free/{key}"], m[f"BM_malloc_free/{key}"]
            locked = m[f"BM_shoal_alloc_free_locked/{key}"]
            rows.append(f"| {size_label(size)} | {procs} | {shoal:.1f} ns | {malloc:.1f} ns | {shoal / malloc:.1f}x "
                        f"| {locked:.1f} ns |")
    return rows


def channel_table(m: dict) -> list[str]:
    rows = ["| between | round trip (send, echo back, receive) |", "| --- | ---: |",
            f"| two threads | {duration(m['BM_channel_round_trip/processes:0/real_time'])} |",
            f"| two processes | {duration(m['BM_channel_round_trip/processes:1/real_time'])} |"]
    sleeper = "BM_channel_one_way_to_sleeper/sender_computes:{}/iterations:300/manual_time"
    if sleeper.format(0) in m:
        rows += ["", "One way to a receiver asleep for 2 ms, between two processes (mean of 300; the "
                 "futex wake itself is part of it):", "",
                 "| the sender, after sending | send to received |", "| --- | ---: |",
                 f"| waits for the next item (spinning, then asleep) | {duration(m[sleeper.format(0)])} |",
                 f"| computes for 200 µs first | {duration(m[sleeper.format(1)])} |"]
    return rows


def heap_table(m: dict) -> list[str]:
    rows = ["| operation | time |", "| --- | ---: |"]
    for n in (1000, 100000):
        rows.append(f"| freeze a dict of {n:,} small items | {duration(m[f'BM_FreezeDict/{n}'])} |")
        rows.append(f"| read it back, every key and value | {duration(m[f'BM_ReadDict/{n}'])} |")
    for n in (1 << 10, 1 << 20, 64 << 20, 1 << 30):
        rows.append(f"| freeze a {size_label(n)} arena buffer as an array (no copy) | "
                    f"{duration(m[f'BM_FreezeArenaBuffer/{n}'])} |")
    for n in (1 << 10, 1 << 20, 64 << 20):
        copied, floor = m[f'BM_FreezeCopiedBuffer/{n}'], m.get(f'BM_Memcpy/{n}')
        beside = f" (memcpy of the same bytes: {duration(floor)}, {copied / floor:.2f}x)" if floor else ""
        rows.append(f"| freeze a {size_label(n)} buffer from process memory (one copy) | "
                    f"{duration(copied)}{beside} |")
    for n in (1 << 10, 1 << 30):
        rows.append(f"| open an object and view its {size_label(n)} array | {duration(m[f'BM_ReadArray/{n}'])} |")
    return rows


def machine(report: dict) -> str:
    ctx = report["context"]
    return (f"{ctx['num_cpus']} CPUs at {ctx['mhz_per_cpu']} MHz, {platform.platform()}, "
            f"{time.strftime('%Y-%m-%d')}; medians of 3 repetitions")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(ROOT / "build"))
    parser.add_argument("--min-time", type=float, default=0.5)
    parser.add_argument("--update-report", action="store_true")
    args = parser.parse_args()
    bench_dir = pathlib.Path(args.build) / "bench"
    binaries = [bench_dir / f"{name}_bench" for name in ("alloc", "channel", "heap")]
    missing = [str(b) for b in binaries if not b.exists()]
    if missing:
        print(f"missing {', '.join(missing)}: run scripts/setup.sh first", file=sys.stderr)
        return 1
    reports = [run(b, args.min_time) for b in binaries]
    alloc, channel, heap = (medians(r) for r in reports)
    lines = [f"Machine: {machine(reports[0])}. Raw numbers: `bench/results/{{alloc,channel,heap}}.json`.", "",
             "Allocate+free of one block, beside malloc+free:", "", *alloc_table(alloc), "",
             "A small item through two channels and back:", "", *channel_table(channel), "",
             "Frozen objects:", "", *heap_table(heap)]
    text = "\n".join(lines)
    print(text)
    if args.update_report:
        readme = ROOT / "docs" / "performance.md"
        content = readme.read_text()
        start, end = content.index(BEGIN) + len(BEGIN), content.index(END)
        readme.write_text(content[:start] + "\n" + text + "\n" + content[end:])
        print(f"updated {readme.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
