"""The suite's report: Markdown tables from a run's results (the dict
saved as suite.json), the targets judged MET / NOT MET from them, and the
suite's section of docs/performance.md. Measures nothing and needs neither
shoal nor the peers, so a report can be made again from a saved run."""

import os

from suite_common import GiB, KiB, fmt_ratio, fmt_size, fmt_t, log
from suite_peers import PICKLING, label

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN, END = "<!-- suite-bench:begin -->", "<!-- suite-bench:end -->"


def runs_note(row, sep=" "):
    """'runs: rate (spin round trip before it), ...' for a row with several runs."""
    rates, spins = row.get("all_msgs_per_s"), row.get("all_spin_rt_before_s")
    if not rates or len(rates) < 2:
        return ""
    parts = [f"{r / 1e6:.2f}M" + (f" ({fmt_t(sp)})" if sp else "") for r, sp in zip(rates, spins or [None] * len(rates))]
    return f"{sep}(runs: {', '.join(parts)})"


COMPUTE_LABELS = {
    "subexec": "shoal.SubinterpreterExecutor (array shared)",
    "subinterp": "isolated subinterpreters by hand + shoal.Channel (array shared)",
    "threads": "ThreadPoolExecutor (array shared, one GIL)",
    "processes": "ProcessPoolExecutor (chunks pickled)",
}


def status(row):
    return row.get("na") or row.get("error") or "not run"


WHERE = {"interp": "between two isolated subinterpreters (threads: two threads of one interpreter)",
         "proc": "between two processes"}


def report(R, quick):
    L = []
    m = R["machine"]
    L.append(f"Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}; {m['python']}; load average "
             f"{m['load_start'][0]:.2f} at start, {m['load_end'][0]:.2f} at end; {m['date']}. "
             f"{'Quick run (--quick)' if quick else 'Full run'} in {R['wall_s']:.0f} s. Versions: "
             + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
             + "".join(f"; {k}: {v}" for k, v in m["missing"].items()) + ".")
    # Judged by the load before the run: the suite's own workers raise the
    # load average by the end, which says nothing about other work.
    if m["load_start"][0] > 0.5 * m["cores"]:
        L.append("")
        L.append(f"*The machine was busy (load average above half its {m['cores']} cores): other work shared "
                 f"the CPUs during this run, so latencies and speed-ups are noisy.*")
    L.append("")
    L += targets(R)
    fl = R.get("floors", {})
    # floors
    L.append("")
    L.append("**Floors of this machine**, same run (C: bench/floors.c, built with the system cc; round trips "
             "stop after 3 s, so a small n means the machine was too busy to spin):")
    L.append("")
    if "futex_rt_p50_s" in fl:
        L.append("| floor | time | beside shoal |")
        L.append("| --- | ---: | --- |")
        pp = R.get("pingpong", {})
        sp = lambda w: pp.get(w, {}).get("shoal", {}).get("p50_s")
        L.append(f"| futex round trip, two processes (p50 of {fl['futex_n']:,}) | {fmt_t(fl['futex_rt_p50_s'])} | "
                 f"shoal ping-pong p50: {fmt_t(sp('interp'))} interpreters, {fmt_t(sp('proc'))} processes |")
        L.append(f"| spin round trip, two processes (p50 of {fl['spin_n']:,}) | {fmt_t(fl['spin_rt_p50_s'])} | |")
        big = fl["bytes"]
        tr = R.get("transfer", {})
        sh = lambda w, k: tr.get(w, {}).get("shoal", {}).get(str(big), {}).get(k)
        first = lambda w: (tr.get(w, {}).get("shoal", {}).get(str(big), {}).get("all_touch_s") or [None])[0]
        L.append(f"| memcpy {fmt_size(big)} (pages present) | {fmt_t(fl['memcpy_s'])} | "
                 f"shoal hand-off of {fmt_size(big)}: {fmt_t(sh('interp', 'handoff_s'))} interpreters, "
                 f"{fmt_t(sh('proc', 'handoff_s'))} processes |")
        L.append(f"| read 1 byte per page of {fmt_size(big)} of /dev/shm, freshly mapped | {fmt_t(fl['touch_shm_s'])} | "
                 f"shoal receiver's read (first repetition): {fmt_t(first('interp'))} interpreters, "
                 f"{fmt_t(first('proc'))} processes |")
        L.append(f"| same over fresh anonymous pages | {fmt_t(fl['touch_anon_s'])} | |")
        if "wake_after_write_s" in fl:
            pinned_wake = (("asleep on the other CPU", "; both pinned, as the transfers are")
                           if fl.get("wake_pinned", 1) else ("asleep (one CPU here)", ""))
            L.append(f"| futex wake of a process {pinned_wake[0]} while the waker wrote 1 KiB, then "
                     f"paused 2 ms (median of 7{pinned_wake[1]}) | {fmt_t(fl['wake_after_write_1KiB_s'])} | shoal hand-off of 1 KiB: "
                     f"{fmt_t(tr_handoff(R, 'interp', KiB))} interpreters, "
                     f"{fmt_t(tr_handoff(R, 'proc', KiB))} processes |")
            L.append(f"| same after writing {fmt_size(big)} | {fmt_t(fl['wake_after_write_s'])} | shoal hand-off of "
                     f"{fmt_size(big)}: {fmt_t(sh('interp', 'handoff_s'))} interpreters, "
                     f"{fmt_t(sh('proc', 'handoff_s'))} processes |")
        for sz, v in fl.get("shoal_alone", {}).items():
            L.append(f"| shoal alone: send / recv of a {fmt_size(int(sz))} arena buffer, one interpreter, nothing "
                     f"waiting (Python) | {fmt_t(v['send_s'])} / {fmt_t(v['recv_s'])} | what a hand-off costs "
                     f"before any wake-up |")
        for sz, v in fl.get("queue_alone", {}).items():
            L.append(f"| queue.Queue alone: put / get of a {fmt_size(int(sz))} NumPy array just filled, one thread "
                     f"(no copy, no shared memory) | {fmt_t(v['put_s'])} / {fmt_t(v['get_s'])} | the cache and TLB "
                     f"state a producer leaves, without shoal |")
    else:
        L.append(status(fl))
    # transfer
    tr = R.get("transfer")
    if tr:
        sizes = tr["sizes"]
        for where in ("interp", "proc"):
            L.append("")
            L.append(f"**1. One-way transfer of a float64 array {WHERE[where]}**: median time from just before "
                     f"the send to the receiver holding the array (x shoal); below it, the receiver reading one "
                     f"byte per page (median; the first repetition beside it when it stands out: later ones may "
                     f"find the pages already mapped, as when an allocator reuses a block). Receivers wait as their peer makes them: shoal's spins "
                     f"50 µs, then sleeps on a futex (so this includes a wake-up), or, in its 'busy-polls' row, "
                     f"polls try_recv(); iceoryx2's busy-polls a core, or, in its '+ event' row, sleeps on an event "
                     f"listener. "
                     + ("Producer and consumer run pinned to a CPU each (but in the executor and Ray rows, "
                        "whose workers are the pool's), so every hand-off crosses cores; the 'CPUs not pinned' row "
                        "is shoal with the kernel placing both, and says how often it ran them on one CPU. "
                        if len(tr.get("pinned_cpus") or []) == 2 else
                        "This machine has one CPU for this process: nothing is pinned, producer and consumer share "
                        "it. " if "pinned_cpus" in tr else "")
                     + ("The row below shoal's sends the smallest array right after the producer wrote one of "
                        "the largest size (held, not sent): the same work before the send as in the last column, "
                        "only the size sent differs." if tr[where].get("shoal", {}).get("after_write") else ""))
            L.append("")
            L.append("| peer | " + " | ".join(fmt_size(s) for s in sizes) + " |")
            L.append("| --- |" + " ---: |" * len(sizes))
            base = tr[where].get("shoal", {})
            for kind, row in tr[where].items():
                cells = []
                for s in sizes:
                    c = row.get(str(s))
                    if c is None:
                        cells.append(status(row))
                        continue
                    b = base.get(str(s), {}).get("handoff_s")
                    r = f" ({fmt_ratio(c['handoff_s'] / b)})" if b and kind != "shoal" else ""
                    first = c["all_touch_s"][0]
                    cold = f" (1st: {fmt_t(first)})" if first > 2 * c["touch_s"] else ""
                    one_cpu = (f"<br>{c['same_cpu']} of {c['reps']} on one CPU"
                               if c.get("same_cpu") or (kind == "shoal_free" and "same_cpu" in c) else "")
                    cells.append(f"{fmt_t(c['handoff_s'])}{r}<br>read {fmt_t(c['touch_s'])}{cold}{one_cpu}")
                if all(c == cells[0] for c in cells) and str(sizes[0]) not in row:
                    cells = [cells[0]] + [""] * (len(cells) - 1)
                L.append(f"| {label(kind)} | " + " | ".join(cells) + " |")
                aw = row.get("after_write")
                if aw:
                    b = base.get(str(sizes[0]), {}).get("handoff_s")
                    r = f" ({fmt_ratio(aw['handoff_s'] / b)})" if b else ""
                    L.append(f"| {label(kind)}: {fmt_size(sizes[0])} sent right after the producer wrote "
                             f"{fmt_size(aw['write_first'])} (held, not sent), as before the "
                             f"{fmt_size(aw['write_first'])} send | {fmt_t(aw['handoff_s'])}{r}<br>read "
                             f"{fmt_t(aw['touch_s'])} |" + " |" * (len(sizes) - 1))
    pp = R.get("pingpong")
    if pp:
        L.append("")
        L.append(f"**2. Ping-pong of a small int** (round trip; n={pp['n']} per peer, fewer for slow ones):")
        L.append("")
        L.append("| between | peer | p50 | p99 | p50 / shoal |")
        L.append("| --- | --- | ---: | ---: | ---: |")
        for where in ("interp", "proc"):
            b = pp[where].get("shoal", {}).get("p50_s")
            for kind, row in pp[where].items():
                w = "threads" if kind == "tq" else ("interpreters" if where == "interp" else "processes")
                if "p50_s" not in row:
                    L.append(f"| {w} | {label(kind)} | {status(row)} | | |")
                    continue
                r = fmt_ratio(row["p50_s"] / b) if b and kind != "shoal" else ""
                L.append(f"| {w} | {label(kind)} | {fmt_t(row['p50_s'])} | {fmt_t(row['p99_s'])} | {r} |")
    tp = R.get("throughput")
    if tp:
        L.append("")
        reps = tp.get("shoal_reps", 1)
        L.append(f"**3. Small-message throughput** (small ints, {tp['count_per_producer']:,} per producer; "
                 f"shoal / peer in brackets"
                 + (f"; shoal's rows: the median of {reps} runs, each run's rate listed with the C spin round trip "
                    f"measured just before it, which tells how far apart the machine had placed the two CPUs "
                    f"at that moment (on a virtual machine it changes over minutes, and every cross-core "
                    f"hand-off with it)" if reps > 1 else "") + "):")
        L.append("")
        L.append("| between | peer | 1 producer / 1 consumer | 2 / 2 |")
        L.append("| --- | --- | ---: | ---: |")
        for where in ("interp", "proc"):
            for kind, rows in tp[where].items():
                w = "threads" if kind == "tq" else ("interpreters" if where == "interp" else "processes")
                cells = []
                for key in ("1/1", "2/2"):
                    row = rows[key]
                    b = tp[where].get("shoal", {}).get(key, {}).get("msgs_per_s")
                    if "msgs_per_s" in row:
                        r = f" ({fmt_ratio(b / row['msgs_per_s'])})" if b and kind != "shoal" else ""
                        cells.append(f"{row['msgs_per_s']:,.0f} msgs/s{r}" + (f" — {row['note']}" if row.get("note") else "")
                                     + runs_note(row, "<br>"))
                    else:
                        cells.append(status(row))
                L.append(f"| {w} | {label(kind)} | " + " | ".join(cells) + " |")
    fo = R.get("fanout")
    if fo:
        L.append("")
        L.append(f"**4. Fan-out: one array to {fo['consumers']} consumers**: time from the send until all have read "
                 f"one byte per page; extra memory while all of them hold it: the proportional set size (PSS) of "
                 f"the benchmark's processes, each shared page counted once, in copies of the array; beside it "
                 f"the machine-wide peak of /proc/meminfo Shmem + AnonPages (includes everything else running). "
                 f"Peers that copy send {fmt_size(fo['scaled_size'])} instead of {fmt_size(fo['size'])} "
                 f"to keep the machine under 12 GiB.")
        L.append("")
        fl = R.get("floors", {})
        if fl.get("touch_shm_s") and fl.get("bytes") == fo["size"]:
            cores = min(R["machine"]["cores"], fo["consumers"])
            L.append(f"Floor for the time: {fo['consumers']} readers each mapping {fmt_size(fo['size'])} afresh "
                     f"({fmt_t(fl['touch_shm_s'])} each, C) on {cores} cores: "
                     f"{fmt_t(fl['touch_shm_s'] * fo['consumers'] / cores)}.")
        L.append("")
        L.append("| between | peer | array | time | extra memory (PSS) | copies | machine-wide peak |")
        L.append("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
        for where in ("interp", "proc"):
            for kind, row in fo[where].items():
                w = "threads" if kind == "tq" else ("interpreters" if where == "interp" else "processes")
                if "time_s" not in row:
                    L.append(f"| {w} | {label(kind)} | | {status(row)} | | | |")
                    continue
                L.append(f"| {w} | {label(kind)} | {fmt_size(row['size'])} | {fmt_t(row['time_s'])} | "
                         f"{fmt_size(row['extra_bytes'])} | {row['copies']:.2f} | "
                         f"{row['machine_copies']:.2f} copies" + (f" ({row['note']})" if row.get("note") else "") + " |")
    cp = R.get("compute")
    if cp:
        L.append("")
        L.append(f"**5. Parallel compute over a shared array** ({cp['work']}, {cp['elements']:,} elements), "
                 f"speed-up of 2 workers over 1:")
        L.append("")
        L.append("| workers | 1 worker | 2 workers | speed-up |")
        L.append("| --- | ---: | ---: | ---: |")
        for k, r in cp["rows"].items():
            if "speedup" in r:
                L.append(f"| {COMPUTE_LABELS[k]} | {fmt_t(r['t1_s'])} | {fmt_t(r['t2_s'])} | {r['speedup']:.2f}x |")
            else:
                L.append(f"| {COMPUTE_LABELS[k]} | {status(r)} | | |")
        floor = cp.get("parallel_floor") or R.get("floors", {}).get("parallel_speedup")
        if floor:
            L.append(f"| floor: a CPU-bound C loop in two processes against one (floors.c), just before | | | "
                     f"{floor:.2f}x |")
    return L


def tr_handoff(R, where, size):
    """shoal's median hand-off of `size` bytes in this run, or None."""
    return R.get("transfer", {}).get(where, {}).get("shoal", {}).get(str(size), {}).get("handoff_s")


def targets(R):
    """Each target with MET / NOT MET from the measured numbers, or NOT MEASURED."""
    tr, pp, tp, fo, cp = (R.get(k, {}) for k in ("transfer", "pingpong", "throughput", "fanout", "compute"))
    rows = []

    def add(name, ok, measured):
        verdict = "NOT MEASURED" if ok is None else ("MET" if ok else "NOT MET")
        rows.append((name, verdict, measured))

    sizes = tr.get("sizes", [])
    big = sizes[-1] if sizes else None
    bigl = fmt_size(big) if big else "?"
    # the targets are set at 1 GiB: a run that stops short shows its numbers, judges nothing
    q = f" (this run stops at {bigl}: not judged)" if big != GiB else ""
    judged = big == GiB
    # 1. hand-off of the largest within 2x of 1 KiB
    for where, wl in (("interp", "interpreters"), ("proc", "processes")):
        s = tr.get(where, {}).get("shoal", {})
        a, b = s.get(str(KiB), {}).get("handoff_s"), s.get(str(big), {}).get("handoff_s")
        # Beside it, the same cache state without shoal (floors, queue_alone).
        qa = R.get("floors", {}).get("queue_alone", {})
        qa_small, qa_big = qa.get(str(KiB), {}).get("put_s"), qa.get(str(big), {}).get("put_s")
        asides = []
        if qa_small and qa_big:
            asides.append(f"a queue.Queue put of a just-filled array alone: {fmt_t(qa_big)} at {bigl} vs "
                          f"{fmt_t(qa_small)} at 1 KiB")
        # The machine's own floor for the same two states, in C (floors.c).
        fl = R.get("floors", {})
        w_small, w_big = fl.get("wake_after_write_1KiB_s"), fl.get("wake_after_write_s")
        if w_small and w_big and fl.get("bytes") == big:
            asides.append(f"a C futex wake right after writing: {fmt_t(w_big)} at {bigl} vs {fmt_t(w_small)} "
                          f"at 1 KiB = {w_big / w_small:.2f}x")
        aside = f" ({'; '.join(asides)})" if asides else ""
        add(f"1 GiB hand-off within 2x of 1 KiB, {wl}: 1 KiB sent 2 ms after the last hand-off{q}",
            None if not (a and b and judged) else b <= 2 * a,
            (f"{fmt_t(b)} vs {fmt_t(a)} = {b / a:.2f}x" + aside) if a and b else "–")
        # The same, with the same work before both sends (transfer_pair):
        # only the size sent differs.
        aw = s.get("after_write", {}).get("handoff_s")
        add(f"1 GiB hand-off within 2x of 1 KiB, {wl}: 1 KiB sent right after writing {bigl}, "
            f"as the {bigl} one is{q}", None if not (aw and b and judged) else b <= 2 * aw,
            f"{fmt_t(b)} vs {fmt_t(aw)} = {b / aw:.2f}x" if aw and b else "–")
    # 2. >= 1000x faster than pickling peers at 1 GiB
    ratios, missing = [], []
    for where in ("interp", "proc"):
        base = tr.get(where, {}).get("shoal", {}).get(str(big), {}).get("handoff_s")
        for kind in PICKLING:
            c = tr.get(where, {}).get(kind, {}).get(str(big), {}).get("handoff_s")
            if kind in tr.get(where, {}):
                if c and base:
                    ratios.append((f"{kind} {c / base:,.0f}x"))
                else:
                    missing.append(kind)
    if ratios:
        worst = min(float(r.split()[1].rstrip("x").replace(",", "")) for r in ratios)
        add(f"≥1000x faster than pickling peers at 1 GiB{q}", worst >= 1000 if judged else None, ", ".join(ratios))
    else:
        add("≥1000x faster than pickling peers at 1 GiB", None, "–")
    # 3. faster than Ray and iceoryx2 at every size; a busy-polling peer
    # against shoal's busy-polling row, when there is one (like for like)
    for kind in ("ray", "iox", "iox_ev"):
        row = tr.get("proc", {}).get(kind, {})
        base_kind = "shoal_poll" if kind == "iox" and tr.get("proc", {}).get("shoal_poll", {}).get(str(KiB)) else "shoal"
        base = tr.get("proc", {}).get(base_kind, {})
        pairs = [(row[str(s)]["handoff_s"], base.get(str(s), {}).get("handoff_s")) for s in sizes if str(s) in row]
        pairs = [(p, b) for p, b in pairs if b]
        if not pairs:
            add(f"faster than {label(kind)} at every size", None, status(row))
        else:
            against = " (peer / shoal)" if base_kind == "shoal" else " (peer / shoal busy-polling too)"
            add(f"faster than {label(kind)} at every size", all(b < p for p, b in pairs),
                ", ".join(f"{p / b:.1f}x" for p, b in pairs) + against)
    # 4. ping-pong
    for where, lim, wl in (("interp", 2e-6, "interpreters"), ("proc", 3e-6, "processes")):
        p = pp.get(where, {}).get("shoal", {}).get("p50_s")
        add(f"ping-pong p50 ≤ {lim * 1e6:.0f} µs between {wl}", None if p is None else p <= lim, fmt_t(p))
    # 5. throughput
    trow = tp.get("interp", {}).get("shoal", {}).get("1/1", {})
    t = trow.get("msgs_per_s")
    add("≥1M small msgs/s 1/1 between interpreters", None if t is None else t >= 1e6,
        (f"{t:,.0f} msgs/s" + runs_note(trow)) if t else "–")
    # 6. fan-out memory
    cs = [(w, fo.get(w, {}).get("shoal", {}).get("copies")) for w in ("interp", "proc")]
    cs = [(w, c) for w, c in cs if c is not None]
    add("fan-out memory within 5% of one copy", None if not cs else all(c <= 1.05 for _, c in cs),
        ", ".join(f"{c:.3f} copies ({'interpreters' if w == 'interp' else 'processes'})" for w, c in cs) or "–")
    # 7. speed-up
    r = cp.get("rows", {}).get("subexec", {})
    hand = cp.get("rows", {}).get("subinterp", {}).get("speedup")
    note = f"; subinterpreters by hand: {hand:.2f}x" if hand else ""
    floor = cp.get("parallel_floor") or R.get("floors", {}).get("parallel_speedup")
    if floor:
        note += f"; the machine's floor just before, a C loop on both CPUs: {floor:.2f}x"
    add("2-core speed-up ≥ 1.9x (SubinterpreterExecutor)", None if "speedup" not in r else r["speedup"] >= 1.9,
        (f"{r['speedup']:.2f}x" if "speedup" in r else status(r)) + note)
    L = ["**Targets**, judged from this run's medians:", "", "| target | verdict | measured |",
         "| --- | --- | --- |"]
    L += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    R["targets"] = [{"target": a, "verdict": b, "measured": c} for a, b, c in rows]
    return L


def update_report(md_lines, png):
    path = os.path.join(ROOT, "docs", "performance.md")
    png_rel = os.path.relpath(png, os.path.dirname(path))
    text = open(path).read()
    if BEGIN not in text or END not in text:
        log("docs/performance.md has no suite-bench markers: not updated")
        return
    body = "\n".join([BEGIN, f"![one-way transfer time vs size]({png_rel})", ""] + md_lines + [END])
    a, b = text.index(BEGIN), text.index(END) + len(END)
    open(path, "w").write(text[:a] + body + text[b:])
    log("docs/performance.md updated")
