"""The report of bench/async_bench.py: the rows, their percentiles, the Markdown table and the target's verdict.

Kept apart from the runs so that ``async_bench.py --from-json`` can rewrite
the report from the raw round trips alone.
"""

import os

ROWS = {
    "shoal_processes": "shoal: two processes, `await ch.asend()` / `await ch.arecv()`",
    "shoal_interpreters": "shoal: two interpreters of one process (isolated subinterpreter), "
                          "`await ch.asend()` / `await ch.arecv()`",
    "to_thread_queue": "two threads' loops, `queue.Queue.put` / `await asyncio.to_thread(queue.get)`",
    "executor_mp_queue": "two processes, `multiprocessing.Queue.put` / "
                         "`await loop.run_in_executor(None, queue.get)`",
    "floor": "floor: two threads' loops, `loop.call_soon_threadsafe` alone",
}
SHOAL_ROWS = ("shoal_processes", "shoal_interpreters")
# Issue 17's target, a ping-pong p50 as the suite's ping-pong rows measure
# it (docs/performance.md): the round trip.
TARGET_ROUND_TRIP_US = 50.0


def histogram(rtts_ns):
    """Round trips (ns) -> [[value, count], ...] ascending, each value kept
    to 3 significant digits (within 0.5%): the record of a round, compact."""
    counts = {}
    for x in rtts_ns:
        v = int(float(f"{x:.3g}"))
        counts[v] = counts.get(v, 0) + 1
    return sorted([v, n] for v, n in counts.items())


def percentile(hist, p):
    """The p-th percentile (nearest rank) of a histogram from histogram()."""
    total = sum(n for _, n in hist)
    rank = max(1, min(total, round(p / 100 * total + 0.5)))
    seen = 0
    for v, n in hist:
        seen += n
        if seen >= rank:
            return v
    raise ValueError("empty histogram")


def summarize(rounds):
    """A row's rounds (each {"rtt_hist_ns": histogram} or {"error": ...}) ->
    its numbers, all rounds pooled; {"error": ...} if any round failed."""
    errors = [r["error"] for r in rounds if "error" in r]
    if errors:
        return {"error": errors[0], "rounds_ok": len(rounds) - len(errors)}
    if not rounds:
        return {"error": "failed: not measured"}
    pooled = {}
    for r in rounds:
        for v, n in r["rtt_hist_ns"]:
            pooled[v] = pooled.get(v, 0) + n
    pooled = sorted([v, n] for v, n in pooled.items())
    out = {f"rtt_p{p}_us": percentile(pooled, p) / 1e3 for p in (50, 90, 99)}
    out["samples"] = sum(n for _, n in pooled)
    out["round_p50s_us"] = [percentile(r["rtt_hist_ns"], 50) / 1e3 for r in rounds]
    return out


def fu(us):
    return f"{us:.1f}" if us < 1000 else f"{us:,.0f}"


def write_report(R, json_path):
    md = report(R)
    with open(os.path.splitext(json_path)[0] + ".md", "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))


def report(R):
    m, sh, rows = R["machine"], R["shoal"], R["rows"]
    floor = rows.get("floor", {}).get("rtt_p50_us")
    L = [f"# Async ping-pong of a small int{' (quick run)' if R['quick'] else ''}", "",
         f"Machine: {m['cpu']}, {m['cores']} vCPUs, {m['platform']}; CPython {m['python']}; load average "
         f"{m['load_start'][0]:.2f} at start, {m.get('load_end', [float('nan')])[0]:.2f} at end; {m['date']}; "
         f"{R.get('wall_s', 0):.0f} s. shoal: imported from {sh.get('path')} (this tree at {sh.get('git_head', '?')})."
         f"{(' Label: ' + R['label'] + '.') if R.get('label') else ''} Command: `{R['command']}`.", "",
         "The pinger awaits on an asyncio loop in the bench's main thread, the echo on an event loop of its own "
         "elsewhere; a round trip is timed from before the send to after the echo's receive. "
         f"{R['rounds']} round(s) through every row in turn, each starting the echo afresh, {R['warmup']} untimed "
         f"then {R['trips']:,} timed round trips; all rounds' samples pooled (each kept to 3 significant digits). *One way* = round trip / 2. "
         "*× floor* = the row's p50 round trip over the floor's, measured in the same run.", "",
         "| row | round trip p50 / p90 / p99 (µs) | one way p50 / p90 / p99 (µs) | × floor | p50 of each round (µs) |",
         "| --- | ---: | ---: | ---: | --- |"]
    for row, text in ROWS.items():
        s = rows.get(row)
        if s is None:
            continue
        if "error" in s:
            L.append(f"| {text} | {s['error']} | | | |")
            continue
        rtt = [s[f"rtt_p{p}_us"] for p in (50, 90, 99)]
        ratio = f"{rtt[0] / floor:.2f}" if floor else "–"
        L.append(f"| {text} | {' / '.join(fu(x) for x in rtt)} | {' / '.join(fu(x / 2) for x in rtt)} | {ratio} | "
                 f"{', '.join(fu(x) for x in s['round_p50s_us'])} |")
    L += ["", "**Target** (issue 17; reported, not asserted): ping-pong p50 <= 50 µs, a round trip as the suite's "
          "ping-pong rows measure it, judged on the shoal rows beside the event loop's own floor.", "",
          "| row | verdict | measured |", "| --- | --- | --- |"]
    for row in SHOAL_ROWS:
        s = rows.get(row)
        if s is None:
            continue
        if "error" in s:
            L.append(f"| {row} | not measured | {s['error']} |")
            continue
        rtt = s["rtt_p50_us"]
        verdict = "met" if rtt <= TARGET_ROUND_TRIP_US else "not met"
        net = (f"; the floor's round trip is {fu(floor)} µs, shoal adds {fu(rtt - floor)} µs" if floor else "")
        L.append(f"| {row} | {verdict} | round trip p50 {fu(rtt)} µs (one way {fu(rtt / 2)} µs){net} |")
    return L
