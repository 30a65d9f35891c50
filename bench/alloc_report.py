#!/usr/bin/env python3
"""Runs the arena allocation benchmark and prints shoal beside malloc.

    python bench/alloc_report.py [--build build] [--min-time 0.5]

Writes Google Benchmark's raw JSON to bench/results/alloc.json (with the
machine it ran on in its "context") and prints one row per block size and
process count: shoal's allocate+free, malloc+free, and their ratio.
"""
import argparse
import json
import pathlib
import platform
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent


def run(binary: pathlib.Path, min_time: float, out: pathlib.Path) -> dict:
    subprocess.run(
        [str(binary), f"--benchmark_min_time={min_time}", "--benchmark_repetitions=3",
         "--benchmark_report_aggregates_only=true",
         f"--benchmark_out={out}", "--benchmark_out_format=json"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads(out.read_text())


def medians(report: dict) -> dict:
    """{(system, bytes, processes): median ns per alloc+free}"""
    table = {}
    for b in report["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        name, *args = b["run_name"].split("/")
        params = dict(a.split(":") for a in args)
        system = "shoal" if "shoal" in name else "malloc"
        table[(system, int(params["bytes"]), int(params["processes"]))] = b["real_time"]
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(HERE.parent / "build"))
    parser.add_argument("--min-time", type=float, default=0.5)
    args = parser.parse_args()
    binary = pathlib.Path(args.build) / "bench" / "alloc_bench"
    if not binary.exists():
        print(f"{binary} is missing: run scripts/setup.sh first", file=sys.stderr)
        return 1
    out = HERE / "results" / "alloc.json"
    out.parent.mkdir(exist_ok=True)
    report = run(binary, args.min_time, out)
    table = medians(report)
    ctx = report["context"]
    print(f"machine: {platform.node()}, {ctx['num_cpus']} CPUs at {ctx['mhz_per_cpu']} MHz, "
          f"{platform.platform()}; median of 3 repetitions")
    print(f"{'block':>9} {'processes':>9} {'shoal ns':>9} {'malloc ns':>9} {'shoal/malloc':>12}")
    for (system, size, procs), shoal_ns in sorted(table.items(), key=lambda kv: (kv[0][2], kv[0][1])):
        if system != "shoal":
            continue
        malloc_ns = table[("malloc", size, procs)]
        label = f"{size // 1024} KiB" if size >= 1024 else f"{size} B"
        if size >= 1 << 20:
            label = f"{size >> 20} MiB"
        print(f"{label:>9} {procs:>9} {shoal_ns:>9.1f} {malloc_ns:>9.1f} {shoal_ns / malloc_ns:>11.1f}x")
    print(f"raw numbers: {out.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
