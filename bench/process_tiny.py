"""Scenario 2 of process_bench.py, tiny tasks, in a process of its own
(process_bench.py --_tiny both): shoal's pool, the stdlib's and a second
stdlib pool as the control, their runs interleaved over fresh sessions, and
each pool's ratio to the stdlib's with an interval bootstrapped over
sessions. What the workers run is handed in (`work`, process_bench.WORK)."""

import operator
import statistics
import time

from process_measure import (disturbed, log, settle, shoal_fingerprint, start_forkserver, start_until_all_answer,
                             timed_runs)

TINY_ROWS = {
    "shoal": "shoal.ProcessPoolExecutor",
    "stdlib": "concurrent.futures.ProcessPoolExecutor (forkserver)",
    "stdlib_again": "the same, a second pool (control)",
}
TINY_SESSIONS = 7  # fresh pools this many times over the tiny tasks' rounds


def clustered_ratio(ratios_by_session, resamples=4000):
    """Median of the round-by-round ratios, with a 95% interval from a
    bootstrap over sessions (each resample draws whole sessions, then pools
    their rounds): rounds of one session share its pools, so the spread
    between sessions is part of the uncertainty, not just between rounds."""
    import random
    rng = random.Random(0)  # the same interval for the same data
    sessions = [r for r in ratios_by_session if r]
    medians = sorted(statistics.median([x for s in rng.choices(sessions, k=len(sessions)) for x in s])
                     for _ in range(resamples))
    every = [x for s in sessions for x in s]
    return {"median": statistics.median(every), "pairs": len(every), "sessions": len(sessions),
            "ci95": [medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]]}


def tiny_child(args, work):
    """All pools in this one process, their runs interleaved (A B C, C B A,
    ...): the difference sought is a few µs per task, and this VM drifts by
    more than that over the minutes separate processes would take. The pools
    are made afresh for each session (in a rotating order), because one pool
    keeps its own luck for its life (where its workers landed): two stdlib
    pools measured side by side differed by up to 15%, consistently within a
    session. The second stdlib pool is that control: its ratio to the first
    shows what this measurement can resolve."""
    import concurrent.futures
    import multiprocessing
    import shoal
    ctx = multiprocessing.get_context("forkserver")
    makers = {"shoal": lambda: shoal.ProcessPoolExecutor(max_workers=2),
              "stdlib": lambda: concurrent.futures.ProcessPoolExecutor(max_workers=2, mp_context=ctx),
              "stdlib_again": lambda: concurrent.futures.ProcessPoolExecutor(max_workers=2, mp_context=ctx)}
    T = args.tasks
    rounds = 2 * args.runs + 1
    sessions = min(rounds, TINY_SESSIONS)
    expect = [2 * i for i in range(T)]
    out = {name: {"row": name, "tasks": T, "runs": rounds, "sessions": sessions, "start_s": []} for name in makers}
    walls = {(name, cs): [] for name in makers for cs in (1, 100)}
    attempts = {(name, cs): [] for name in makers for cs in (1, 100)}
    ratios = {(name, cs): [] for name in ("shoal", "stdlib_again") for cs in (1, 100)}
    shoal_at_start = shoal_fingerprint()
    forkserver_s = start_forkserver()

    def once(pool, cs):
        t = time.perf_counter()
        got = list(pool.map(operator.add, range(T), range(T), chunksize=cs))
        wall = time.perf_counter() - t
        if got != expect:
            raise RuntimeError("tiny tasks: wrong results")
        return wall

    for session in range(sessions):
        names = list(makers)
        names = names[session % len(names):] + names[:session % len(names)]
        session_rounds = rounds * (session + 1) // sessions - rounds * session // sessions
        settle("tiny tasks")
        pools = {}
        try:
            for name in names:
                t = time.perf_counter()
                pool = pools[name] = makers[name]()
                start_until_all_answer(2, lambda n: list(pool.map(work.pid, range(n))))
                out[name]["start_s"].append(time.perf_counter() - t)
            for cs in (1, 100):
                for pool in pools.values():
                    list(pool.map(operator.add, range(T // 10), range(T // 10), chunksize=cs))  # warm
                session_ratios = {name: [] for name in ("shoal", "stdlib_again")}
                for i in range(session_rounds):
                    this_round = {}
                    for name in (names if i % 2 == 0 else names[::-1]):
                        done, got = timed_runs(lambda: once(pools[name], cs), 1, 3,
                                               f"tiny {name}, chunksize {cs}")
                        attempts[name, cs] += done
                        walls[name, cs] += got
                        this_round[name] = statistics.median(got)
                    for name in session_ratios:
                        session_ratios[name].append(this_round[name] / this_round["stdlib"])
                for name, r in session_ratios.items():
                    ratios[name, cs].append(r)
        finally:
            for pool in pools.values():
                pool.shutdown()
    for name in makers:
        out[name]["forkserver_start_s"] = forkserver_s
        out[name]["start_s"] = statistics.median(out[name]["start_s"])
        for cs in (1, 100):
            w = statistics.median(walls[name, cs])
            out[name][f"chunksize_{cs}"] = cell = {
                "wall_s": w, "per_task_us": w / T * 1e6, "all_wall_s": walls[name, cs],
                "all_attempts": [{"wall_s": r, "others_share": f} for r, f in attempts[name, cs]],
                "disturbed": sum(disturbed(f) for _, f in attempts[name, cs])}
            log(f"  tiny {name:12s} chunksize {cs:3d}: {w:.3f} s for {T:,} tasks = {w / T * 1e6:.1f} µs/task "
                f"(median of {len(walls[name, cs])}; "
                f"{min(walls[name, cs]) / T * 1e6:.1f}-{max(walls[name, cs]) / T * 1e6:.1f})")
            if (name, cs) in ratios:
                cell["vs_stdlib"] = ratio = clustered_ratio(ratios[name, cs])
                log(f"  tiny {name}/stdlib chunksize {cs:3d}: {ratio['median']:.3f} (95% CI "
                    f"{ratio['ci95'][0]:.3f}-{ratio['ci95'][1]:.3f}, {ratio['pairs']} rounds in "
                    f"{ratio['sessions']} sessions)")
    out["shoal"]["shoal"] = [shoal_at_start, shoal_fingerprint()]
    return out
