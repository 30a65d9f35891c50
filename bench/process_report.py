"""The report of process_bench.py: the Markdown tables, the targets judged
from a run's results (the dict saved as process_bench.json) and the time
each row spends above the no-pool floor. Measures nothing, so --from-json
makes it again from a saved run."""

from process_measure import SHORT_RUN_S
from process_rows import MiB, ROWS
from process_tiny import TINY_ROWS

DIGEST_TEXT = {"sort": "sum of the chunks' sums, sum of their percentiles",
               "light": "sum of the chunks' sums, sum of their maxima"}


def fs(x):
    if x is None:
        return "–"
    return f"{x * 1e3:.0f} ms" if x < 1 else f"{x:.2f} s"


def mem(cell, R):
    idle = cell.get("pss_idle_bytes")
    return f"{cell['pss_copies']:.2f}" + (f" ({idle / (R['mib'] * MiB):.2f})" if idle else "")


def report(R):
    m, v = R["machine"], R["machine"]["versions"]
    size = f"{R['mib'] / 1024:g} GiB" if R["mib"] >= 1024 else f"{R['mib']} MiB"
    L = [f"# shoal.ProcessPoolExecutor beside process pools{' (quick run)' if R['quick'] else ''}", "",
         f"Machine: {m['cpu']}, {m['cores']} vCPUs, {m['ram']} RAM, {m['platform']}; CPython {v['CPython']}, "
         f"numpy {v['numpy']}, shoal {v['shoal']}, ray {v['ray']}; load average {m['load_start'][0]:.2f} at start, "
         f"{m['load_end'][0]:.2f} at end; {m['date']}; {R['wall_s']:.0f} s. Command: `{R['command']}`.", ""]
    fp = R.get("shoal_measured") or R.get("shoal_at_start", {})
    if fp.get("installed"):
        L[-1:-1] = [f"shoal measured: the package installed in the venv at {fp['installed_at']} (files sha256 "
                    f"{fp['sha256']}; tree at {fp.get('git_head', '?')}, installed process_pool.py "
                    f"{'the same as' if fp.get('process_pool_py_as_in_tree') else 'DIFFERENT from'} the tree's)"
                    + (".  **It was reinstalled while rows using it ran: rows may mix two versions.**"
                       if R.get("shoal_mixed") else ", the same in every row that uses it.")]
    K = R["kernels"]
    if any(R["compute"].get(which) for which in K):
        fb = R.get("floor_before", {}).get("parallel_speedup")
        fa = R.get("floor_after", {}).get("parallel_speedup")
        L += [f"**Compute**: a float64 array of {size} (2**{(R['mib'] * MiB // 8).bit_length() - 1} doubles) in "
              f"{R['chunks']} chunks; {len(K)} kernel(s) per chunk, a table each: "
              + "; ".join(f"`{which}` = {text}" for which, text in K.items())
              + (" (both run in the same row process, over the same array, one after the other)" if len(K) > 1 else "")
              + f". Wall = median of {R['runs']} run(s) after a warm-up "
              "run, pool start excluded (reported: pool created until every worker answered a 10 ms task; the "
              "forkserver, shared by a process's pools, is started before it; a fresh pool per cell). First "
              "result = submission until the first chunk's result. Memory = peak over the warm-up run of the PSS "
              "summed over the row's process and all its descendants, sampled every 0.1 s, in copies of the array "
              "(in parentheses: the same "
              "with the pool started and the data in place, before the run; every Python process with NumPy "
              "holds about 30-40 MiB of its own). Workers start "
              "with forkserver in every pool. Each row runs in its own fresh process.", ""]
        for which in K:
            C = R["compute"].get(which) or {}
            if not C:
                continue
            L += [f"*Kernel `{which}`*: {K[which]}.", "",
                  "| row | 1 worker | 2 workers | speed-up | first result (1 / 2) | pool start (1 / 2) | memory in copies: peak (idle), 1 / 2 |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
            repeated, few_samples, settled = [], [], []
            for name, label in ROWS.items():
                r = C.get(name)
                if r is None:
                    continue
                if "na" in r or "error" in r:
                    L.append(f"| {label} | {r.get('na') or r.get('error')} | | | | | |")
                    continue
                a, b = r["1"], r["2"]
                start = f"{fs(a['start_s'])} / {fs(b['start_s'])}"
                if name == "ray":
                    start += f" (+ ray.init {fs(r['ray_init_s'])}, ray.put {fs(r['ray_put_s'])}, once for the row)"
                if name == "alone":
                    start = "–"
                bad = " (results differ!)" if a.get("digest_mismatch") or b.get("digest_mismatch") else ""
                for k, c in (("1", a), ("2", b)):
                    if c.get("disturbed"):
                        repeated.append(f"{name} {k}: {c['disturbed']} of {len(c['all_attempts'])}"
                                        + (" (all: kept, marked †)" if not c.get("undisturbed") else ""))
                    if c.get("pss_samples", 99) < 5:
                        few_samples.append(f"{name} {k} ({c['pss_samples']})")
                    if c.get("settled_before_each_run"):
                        settled.append(f"{name} {k}")
                dag = lambda c: "" if c.get("undisturbed", 1) else " †"  # noqa: E731
                L.append(f"| {label}{bad} | {fs(a['wall_s'])}{dag(a)} | {fs(b['wall_s'])}{dag(b)} | {r['speedup']:.2f}x | "
                         f"{fs(a['first_result_s'])} / {fs(b['first_result_s'])} | {start} | "
                         f"{mem(a, R)} / {mem(b, R)} |")
            L.append(f"| floor: C loop on 2 processes vs 1 (bench/floors.c), before / after | | | "
                     f"{fb if fb is None else f'{fb:.2f}x'} / {fa if fa is None else f'{fa:.2f}x'} | | | |")
            L.append("")
            cells = [(n, k, r[k]) for n, r in C.items() for k in ("1", "2") if k in r]
            if cells:
                same = not any(c.get("digest_mismatch") for _, _, c in cells)
                L.append(f"Results ({DIGEST_TEXT.get(which, 'two order-fixed sums')}) "
                         f"{'identical in every row and cell' if same else 'DIFFER between rows'}: "
                         f"{cells[0][2]['digest'][0]!r}, {cells[0][2]['digest'][1]!r}."
                         + (" Time to first result varies with where a run starts in a cycle that is not the "
                            "pool's: on this machine one call of the kernel in four can take about 130 ms more than "
                            "the others, in any process, over a plain NumPy array too." if which == "sort" else ""))
                L.append("")
            L.append("Timed runs during which other processes (or the host, as steal) took more than 10% of the CPUs "
                     "were repeated, up to a limit, and left out of the median: "
                     + ("; ".join(repeated) if repeated else "none") + "."
                     + (f" Runs too short for that check (warm-up under {SHORT_RUN_S:g} s) each waited for the machine "
                        "to go idle first, and were judged by its busy share in the 0.25 s before the run when "
                        "shorter than 0.1 s of 2 CPUs: " + ", ".join(settled) + "." if settled else "")
                     + (" Memory sampled fewer than 5 times over the warm-up run (it was shorter than 0.5 s), so its "
                        "peak may be missed: " + ", ".join(few_samples) + "." if few_samples else ""))
            L.append("")
        L += targets(R)
        L += above_floor(R)
    T = R.get("tiny") or {}
    if T:
        tasks = next((t["tasks"] for t in T.values() if "tasks" in t), None)
        first = next((t for t in T.values() if "tasks" in t), {})
        L += ["", f"**Tiny tasks**: `list(pool.map(operator.add, range(T), range(T), chunksize=c))`, T = {tasks:,}, "
              f"2 warm workers (forkserver), all pools in one process, their runs interleaved, the pools made "
              f"afresh in each of {first.get('sessions', 1)} sessions; wall / T, median of "
              f"{first.get('runs', R['runs'])} runs each (in parentheses: the fastest and slowest run). The second "
              "stdlib pool is the control: its ratio to the first is what this measurement can resolve.", "",
              "| pool | chunksize 1: per task | chunksize 100: per task | pool start |", "| --- | ---: | ---: | ---: |"]
        tiny_repeated = []
        for name, label in TINY_ROWS.items():
            r = T.get(name)
            if r is None:
                continue
            if "error" in r or "na" in r:
                L.append(f"| {label} | {r.get('na') or r.get('error')} | | |")
                continue
            def per_task(c, digits):
                us = [w / r["tasks"] * 1e6 for w in c["all_wall_s"]]
                return (f"{c['per_task_us']:.{digits}f} µs" + (f" ({min(us):.{digits}f}–{max(us):.{digits}f})"
                                                                 if len(us) > 1 else ""))
            L.append(f"| {label} | {per_task(r['chunksize_1'], 1)} | {per_task(r['chunksize_100'], 2)}"
                     f" | {fs(r['start_s'])} |")
            for cs in (1, 100):
                c = r[f"chunksize_{cs}"]
                if c.get("disturbed"):
                    tiny_repeated.append(f"{name} chunksize {cs}: {c['disturbed']} of {len(c['all_attempts'])}")
        for name in ("shoal", "stdlib_again"):
            ratios = [(cs, T[name][f"chunksize_{cs}"]["vs_stdlib"]) for cs in (1, 100)
                      if "vs_stdlib" in T.get(name, {}).get(f"chunksize_{cs}", {})]
            if ratios:
                L += ["", f"{TINY_ROWS[name]} / stdlib, round by round (the pools ran back to back in each round): "
                      + "; ".join(f"chunksize {cs}: median {r['median']:.3f}, 95% bootstrap interval "
                                  f"{r['ci95'][0]:.3f}–{r['ci95'][1]:.3f} over {r['pairs']} rounds in "
                                  f"{r.get('sessions', 1)} sessions" for cs, r in ratios) + "."]
        verdicts = []
        for cs in (1, 100):
            r = T.get("shoal", {}).get(f"chunksize_{cs}", {}).get("vs_stdlib")
            if r:
                lo, hi = r["ci95"]
                verdicts.append(f"chunksize {cs}: " + ("met, shoal measurably cheaper" if hi < 1 else
                                                       "met, no difference this run can resolve" if lo <= 1 else
                                                       f"not met, shoal {lo:.2f}–{hi:.2f}x the stdlib's"))
        if verdicts:
            L += ["", "Target, per-task overhead no worse than the stdlib pool's: " + "; ".join(verdicts) + "."]
        L += ["", "Runs repeated because other processes took more than 10% of the CPUs: "
              + ("; ".join(tiny_repeated) if tiny_repeated else "none") + "."]
    return L


def fsd(x):
    """A signed duration."""
    return f"{x * 1e3:+.0f} ms" if abs(x) < 1 else f"{x:+.2f} s"


def ok(r):
    return r is not None and "1" in r and "2" in r


def targets(R):
    size = f"{R['mib'] / 1024:g} GiB" if R["mib"] >= 1024 else f"{R['mib']} MiB"
    floors = [f["parallel_speedup"] for f in (R.get("floor_before", {}), R.get("floor_after", {})) if "parallel_speedup" in f]
    floor_txt = ", ".join(f"{x:.2f}x" for x in floors) or "not measured"
    L = ["**Targets** (reported, not asserted), each judged on each kernel:", "",
         "| target | kernel | verdict | measured |", "| --- | --- | --- | --- |"]
    rows = {"speedup": [], "ray": [], "stdlib": []}
    tenx = {}
    for which in R["kernels"]:
        C = R["compute"].get(which) or {}
        s, ray, std, alone = C.get("shoal"), C.get("ray"), C.get("stdlib"), C.get("alone")
        kern = f"`{which}`"
        if not ok(s):
            rows["speedup"].append(f"| all | {kern} | n/a | the shoal row did not run |")
            continue
        sp = s["speedup"]
        if floors and max(floors) >= 1.9:
            verdict = "MET" if sp >= 1.8 else "NOT MET"
        else:
            verdict = f"n/a (the C floor was below 1.9x; {'≥' if sp >= 1.8 else '<'} 1.8x)"
        own = ""
        if ok(alone):
            own = f"; the kernel's own floor (two forked processes, no pool): {alone['speedup']:.2f}x"
            if alone["speedup"] < 1.8 and sp < 1.8:
                own += " (below 1.8x: out of reach for any pool on this machine)"
        rows["speedup"].append(f"| ≥ 1.8x speed-up on 2 workers where the C floor is ≥ 1.9x | {kern} | {verdict} | "
                               f"{sp:.2f}x; C floor before / after: {floor_txt}{own} |")
        if ok(ray):
            ratio = s["2"]["wall_s"] / ray["2"]["wall_s"]
            r1 = s["1"]["wall_s"] / ray["1"]["wall_s"]
            rows["ray"].append(f"| shoal wall within 10% of Ray's or better (2 workers) | {kern} | "
                               f"{'MET' if ratio <= 1.10 else 'NOT MET'} | shoal / Ray = {ratio:.3f} "
                               f"({fs(s['2']['wall_s'])} vs {fs(ray['2']['wall_s'])}); 1 worker: {r1:.3f} |")
        else:
            rows["ray"].append(f"| shoal wall within 10% of Ray's or better | {kern} | n/a | Ray: "
                               f"{(ray or {}).get('na') or (ray or {}).get('error') or 'not run'} |")
        if ok(std):
            x2 = std["2"]["wall_s"] / s["2"]["wall_s"]
            x1 = std["1"]["wall_s"] / s["1"]["wall_s"]
            tenx[which] = x2
            extra = ""
            if ok(alone):
                a1, a2 = alone["1"]["wall_s"], alone["2"]["wall_s"]
                extra = (f"; ceiling (stdlib / no pool: a pool costing nothing) {std['2']['wall_s'] / a2:.2f}x on 2, "
                         f"{std['1']['wall_s'] / a1:.2f}x on 1; time above the no-pool floor ({fs(a2)} on 2, {fs(a1)} "
                         f"on 1): stdlib {fsd(std['2']['wall_s'] - a2)} / {fsd(std['1']['wall_s'] - a1)}, shoal "
                         f"{fsd(s['2']['wall_s'] - a2)} / {fsd(s['1']['wall_s'] - a1)} (2 / 1 workers)")
            rows["stdlib"].append(f"| ≥ 10x faster than the stdlib pool at {size} | {kern} | "
                                  f"{'MET' if x2 >= 10 else 'NOT MET'} | stdlib / shoal wall = {x2:.2f}x on 2 workers, "
                                  f"{x1:.2f}x on 1{extra} |")
        else:
            rows["stdlib"].append(f"| ≥ 10x faster than the stdlib pool at {size} | {kern} | n/a | stdlib: "
                                  f"{(std or {}).get('na') or (std or {}).get('error') or 'not run'} |")
    L += rows["speedup"] + rows["ray"] + rows["stdlib"]
    if tenx:
        held = [f"`{k}` ({x:.1f}x)" for k, x in tenx.items() if x >= 10]
        not_held = [f"`{k}` ({x:.1f}x)" for k, x in tenx.items() if x < 10]
        verdict = " and ".join(p for p in ((f"met with {', '.join(held)}" if held else ""),
                                           (f"not met with {', '.join(not_held)}" if not_held else "")) if p)
        L += ["", f"The 10x target (2 workers) is {verdict}."]
        costs = []
        for which in tenx:
            C = R["compute"][which]
            if ok(C.get("alone")):
                a2 = C["alone"]["2"]["wall_s"]
                costs.append(f"`{which}`: floor {fs(a2)}, stdlib {fsd(C['stdlib']['2']['wall_s'] - a2)}, shoal "
                             f"{fsd(C['shoal']['2']['wall_s'] - a2)}, ceiling {C['stdlib']['2']['wall_s'] / a2:.1f}x")
        if costs:
            L[-1] += (" On 2 workers the ratio is (floor + the stdlib pool's cost) / (floor + shoal's cost), where "
                      "floor = the kernel on two processes without a pool, and the stdlib pool's cost is pickling and "
                      "copying the chunks; it can be at most the ceiling stdlib / floor, reached by a pool that "
                      "costs nothing: " + "; ".join(costs) + ".")
    return L


def above_floor(R):
    """Every row's wall minus the no-pool row's (alone), per kernel and
    worker count: what each way of getting chunks to workers costs."""
    K = [w for w in R["kernels"] if ok((R["compute"].get(w) or {}).get("alone"))]
    if not K:
        return []
    head = " | ".join(f"`{w}`, {k} worker{'s' if k == '2' else ''}" for w in K for k in ("1", "2"))
    L = ["", "**Time above the no-pool floor** (row's wall minus the alone row's wall, same kernel, same worker "
         "count; the floor itself in the last line):", "",
         f"| row | {head} |", "| --- |" + " ---: |" * (2 * len(K))]
    for name, label in ROWS.items():
        if name == "alone":
            continue
        cells = []
        for w in K:
            r, a = R["compute"][w].get(name), R["compute"][w]["alone"]
            for k in ("1", "2"):
                cells.append(fsd(r[k]["wall_s"] - a[k]["wall_s"]) if ok(r) else "–")
        L.append(f"| {name} | " + " | ".join(cells) + " |")
    L.append("| floor (alone) | " + " | ".join(fs(R["compute"][w]["alone"][k]["wall_s"]) for w in K for k in ("1", "2"))
             + " |")
    return L
