"""The report of bench/frozen_bench.py: the Markdown tables and the targets' verdicts.

Kept apart from the runs so that ``frozen_bench.py --from-json`` can rewrite
the report from raw numbers alone. The constants the two share live here.
"""

import os

WAYS = {
    "freeze": "shoal.freeze(d), the view sent through a Channel (the new path)",
    "thaw": "the plain dict sent through a Channel, rebuilt by each recv (today's path)",
    "pickle": "pickle.dumps(d) once, the bytes sent through a Channel, pickle.loads in each receiver",
    "manager": "multiprocessing.Manager().dict(), its proxy sent through a Channel",
}
KINDS = {
    "subinterpreters": "isolated subinterpreters of one process",
    "processes": "processes",
}
FREEZE_MISSING = "unavailable: the installed shoal has no shoal.freeze: not measured"
MANAGER_CHUNK = 50_000  # entries per Manager dict update()
SMALL = 10  # entries of the small value whose opening is compared
DISTURBED = 0.10  # others' share of the CPUs above which a run counts as disturbed
TARGET_OPEN_S, TARGET_COPIES, TARGET_LOOKUP_RATIO = 20e-6, 1.05, 4.0


def ft(x):
    """A duration."""
    if x is None:
        return "–"
    if x < 1e-3:
        return f"{x * 1e6:.1f} µs"
    return f"{x * 1e3:.1f} ms" if x < 1 else f"{x:.2f} s"


def write_report(R, json_path):
    md = report(R)
    with open(os.path.splitext(json_path)[0] + ".md", "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))


def report(R):
    m, n = R["machine"], R["entries"]
    sh = R["shoal"]
    L = [f"# A {n:,}-entry dict shared with subinterpreters and processes{' (quick run)' if R['quick'] else ''}", "",
         f"Machine: {m['cpu']}, {m['cores']} vCPUs, {m['platform']}; CPython {m['python']}; load average "
         f"{m['load_start'][0]:.2f} at start, {m.get('load_end', [float('nan')])[0]:.2f} at end; {m['date']}; "
         f"{R.get('wall_s', 0):.0f} s. shoal: imported from {sh.get('path')} (this tree at {sh.get('git_head', '?')}); "
         f"shoal.freeze {'present' if sh.get('has_freeze') else 'MISSING (the freeze rows are unavailable)'}. "
         f"Command: `{R['command']}`.", "",
         f"The value: `{{f\"word{{i}}\": i for i in range({n:,})}}`. Each receiver is up and waiting on a "
         "shoal.Channel of its own before the clock starts; every run is a fresh process. Medians over "
         f"{R['runs']} run(s).", "",
         "Columns: *one-time* = the sender's cost before the first send (freezing, pickling, loading the Manager; "
         "nothing for thaw); *handover* = from the end of that until the slowest receiver's first lookup returned "
         "(the sends, each receive, unpickling, a first lookup); *memory* = PSS of the row's process and its "
         "descendants over a baseline with the receivers idle, in copies of one plain dict measured the same way, "
         "the sender's original dropped (in parentheses: still held; the arena returns freed pages a pass or two "
         "behind, so thaw and pickle may still count the messages consumed"
         + ("; at this run's size each receiver's fixed costs weigh on it too" if R["entries"] < 200_000 else "")
         + "); *lookups* = "
         f"{R['lookups']:,} random lookups `s += m[k]` in a Python loop in one receiver, over what it received / over "
         "a plain dict of the same entries in the same receiver (ratio; in parentheses the ratio net of the loop "
         "alone); *open* = a value already queued for a receiver, from its receive until a first lookup returned "
         f"(unpickling included), median (N entries / {SMALL} entries).", ""]
    for kind, label in KINDS.items():
        rows = {k.split(":")[0]: v for k, v in R["rows"].items() if k.endswith(":" + kind)}
        if not rows:
            continue
        L += [f"**{R['receivers'][kind]} {label}**", "",
              "| way | one-time | handover | total | memory in copies | lookups: shared / plain (ratio) "
              "| open: N / 10 |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        notes = []
        for way, text in WAYS.items():
            s = rows.get(way)
            if s is None:
                continue
            if "na" in s or "error" in s:
                L.append(f"| {way}: {text} | {s.get('na') or s.get('error')} | | | | | |")
                continue
            net = f"; {s['lookup_ratio_net']:.1f}x net" if s.get("lookup_ratio_net") else ""
            scaled = (f" ‡" if s["lookup_scale"] != 1 else "")
            once = "none (each send encodes)" if way == "thaw" else ft(s["prepare_s"])
            L.append(f"| {way}: {text} | {once} | {ft(s['handover_s'])} | {ft(s['total_s'])} | "
                     f"{s['copies']:.2f} ({s['copies_with_original']:.2f}) | {ft(s['shared_lookups_s'])}{scaled} / "
                     f"{ft(s['plain_lookups_s'])} ({s['lookup_ratio']:.2f}x{net}) | "
                     f"{ft(s['open_big']['usable_median_s'])} / {ft(s['open_small']['usable_median_s'])} |")
            if s["lookup_scale"] != 1:
                notes.append(f"‡ {way}: the loops timed over {s['lookup_count']:,} keys (through the proxy each "
                             f"lookup is a round trip to the Manager's server), all three scaled by "
                             f"{s['lookup_scale']:g}.")
            if way == "manager":
                notes.append(f"{way}: the one-time cost is loading the Manager's dict (update() in chunks of "
                             f"{MANAGER_CHUNK:,}); starting the Manager took {ft(s.get('manager_start_s'))}, "
                             "before the baseline, not in the columns.")
            if s["failed_runs"]:
                notes.append(f"**{way}: {s['failed_runs']} run(s) failed ({s['failure']}); the columns are the "
                             f"{s['runs']} that did not.**")
            if not s["receivers_ok"] or not s["sums_agree"]:
                notes.append(f"**{way}: a receiver saw a wrong length or value, or the two lookup loops' sums "
                             "differed.**")
            if s["disturbed_runs"]:
                notes.append(f"{way}: in {s['disturbed_runs']} of {s['runs']} run(s) other processes took over "
                             f"{DISTURBED:.0%} of the CPUs during the handover (at most {s['others_share_max']:.0%}).")
        L += [""] + ([" ".join(notes), ""] if notes else [])
        f = rows.get("freeze", {})
        extra = []
        if "arena_used_bytes" in f:
            extra.append(f"freezing (and the views in flight) took {f['arena_used_bytes'] / 2**20:.1f} MiB of the "
                         "arena")
        one = next((s["one_copy_bytes"] for s in rows.values() if "one_copy_bytes" in s), None)
        if one:
            extra.append(f"one plain copy measured {one / 2**20:.1f} MiB of PSS")
        p = rows.get("pickle", {})
        if "pickle_bytes" in p:
            extra.append(f"the pickle is {p['pickle_bytes'] / 2**20:.1f} MiB")
        if extra:
            L += ["Sizes: " + "; ".join(extra) + ".", ""]
    L += targets(R)
    return L


def verdict(met, best_met, share):
    """met; bounded by the machine when only the fastest measures met the
    target while other processes took over 10% of the CPUs; else not met."""
    busy = share is not None and share > DISTURBED
    if met:
        return "met"
    if best_met and busy:
        return (f"bounded by the machine (the fastest measures met it; others took up to {share:.0%} of the CPUs "
                "meanwhile)")
    return "not met" + (f" (others took up to {share:.0%} of the CPUs meanwhile)" if busy else "")


def targets(R):
    L = ["**Targets** (reported, not asserted), judged on the freeze rows:", "",
         "| target | receivers | verdict | measured |", "| --- | --- | --- | --- |"]
    for kind in KINDS:
        s = R["rows"].get(f"freeze:{kind}")
        if s is None:
            continue
        who = f"{R['receivers'][kind]} {kind}"
        if "na" in s or "error" in s:
            for t in ("opening ≤ 20 µs whatever the size", "memory within 5% of one copy",
                      "a lookup within 4x a plain dict's"):
                L.append(f"| {t} | {who} | not measured | {s.get('na') or s.get('error')} |")
            continue
        big, small = s["open_big"], s["open_small"]
        worst = max(big["recv_median_s"], small["recv_median_s"])
        best = max(big["recv_min_s"], small["recv_min_s"])
        v = verdict(worst <= TARGET_OPEN_S, best <= TARGET_OPEN_S, s["open_others_share_max"])
        L.append(f"| opening ≤ 20 µs whatever the size | {who} | {v} | "
                 f"receive of a queued view, median (fastest–slowest) of {big['count']}: {R['entries']:,} entries "
                 f"{ft(big['recv_median_s'])} ({ft(big['recv_min_s'])}–{ft(big['recv_max_s'])}), {SMALL} entries "
                 f"{ft(small['recv_median_s'])} ({ft(small['recv_min_s'])}–{ft(small['recv_max_s'])}); up to a first "
                 f"lookup {ft(big['usable_median_s'])} / {ft(small['usable_median_s'])} |")
        L.append(f"| memory within 5% of one copy | {who} | {'met' if s['copies'] <= TARGET_COPIES else 'not met'} | "
                 f"{s['copies']:.3f} copies, the sender's original dropped ({s['copies_with_original']:.3f} with it) |")
        net = f"; net of the loop alone {s['lookup_ratio_net']:.2f}x" if s.get("lookup_ratio_net") else ""
        v = verdict(s["lookup_ratio"] <= TARGET_LOOKUP_RATIO, s["lookup_ratio_best"] <= TARGET_LOOKUP_RATIO,
                    s["lookup_others_share_max"])
        L.append(f"| a lookup within 4x a plain dict's | {who} | {v} | "
                 f"loop over the view / over `view.thaw()` = {s['lookup_ratio']:.2f}x ({ft(s['shared_lookups_s'])} / "
                 f"{ft(s['plain_lookups_s'])}; the loop alone {ft(s['loop_alone_s'])}){net}; fastest loop / "
                 f"fastest loop {s['lookup_ratio_best']:.2f}x |")
    return L


