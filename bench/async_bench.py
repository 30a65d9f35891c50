"""Async ping-pong of a small int: shoal's arecv/asend beside the stdlib's ways and the event loop's own floor.

    python bench/async_bench.py                 # full run: 5 rounds of 2,000 round trips per row
    python bench/async_bench.py --quick         # smoke run: 1 round of 300, a few seconds
    python bench/async_bench.py --only shoal_processes,floor --rounds 9
    python bench/async_bench.py --from-json bench/results/async_pingpong.json   # only rewrite the .md

The pinger runs in this process's main thread on an asyncio loop; the echo
on an event loop of its own elsewhere. Rows (``async_report.ROWS``):

  shoal_processes     two processes, ``await ch.asend()`` / ``await ch.arecv()``
                      on a pair of shoal.Channels (capacity 1) of the default arena;
  shoal_interpreters  the same between this interpreter and an isolated
                      subinterpreter (shoal.interpreters, the echo a Task);
  to_thread_queue     two threads' loops, ``queue.Queue.put`` and
                      ``await asyncio.to_thread(queue.get)``;
  executor_mp_queue   two processes, ``multiprocessing.Queue.put`` and
                      ``await loop.run_in_executor(None, queue.get)``;
  floor               two threads' loops handing the int over with
                      ``loop.call_soon_threadsafe`` alone: what waking another
                      thread's event loop costs, the least any row can cost.

Each round starts every row's echo afresh, runs --warmup untimed round trips,
then --trips timed ones, and stops the echo; rounds go through the rows in
turn (a row is never measured in one stretch of the machine's weather). The
samples of all rounds are pooled (the JSON keeps each round's as a histogram
of values to 3 significant digits): p50/p90/p99 of the round trip, one way
= round trip / 2, and the ratio of each row's p50 to the floor's. Results:
bench/results/async_pingpong.json and .md (--quick: async_pingpong_quick.*).
A row that fails is reported as "failed: ..." and the others still run.

Target (issue 17), judged on the shoal rows, reported, not asserted:
ping-pong p50 <= 50 µs, a round trip as the suite's ping-pong rows measure it.
"""

import argparse
import asyncio
import concurrent.futures
import json
import multiprocessing
import os
import pickle
import queue
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import async_peers  # noqa: E402
import machine  # noqa: E402
from async_peers import ping_pong  # noqa: E402
from async_report import ROWS, histogram, summarize, write_report  # noqa: E402

T0 = time.monotonic()
STOP_S = 30.0  # seconds an echo gets to end once told to


def log(msg):
    el = time.monotonic() - T0
    print(f"[{int(el) // 60:2d}:{int(el) % 60:02d}] {msg}", file=sys.stderr, flush=True)


# ============================================================ one round of each row
# Each returns the round trips (ns) of one round; it raises if the echo fails.

def run_shoal_processes(trips, warmup):
    import shoal
    inbox, outbox = shoal.Channel(1), shoal.Channel(1)
    echo = multiprocessing.get_context("spawn").Process(
        target=async_peers.shoal_echo_pickled, args=(pickle.dumps((inbox, outbox)),))
    echo.start()
    try:
        return asyncio.run(ping_pong(inbox.asend, outbox.arecv, trips, warmup))
    finally:
        inbox.close()
        echo.join(STOP_S)
        if echo.exitcode is None:
            echo.kill()
            echo.join()
        if echo.exitcode != 0:
            raise RuntimeError(f"the echo process exited with status {echo.exitcode}")


def run_shoal_interpreters(trips, warmup):
    import shoal
    from shoal import interpreters
    inbox, outbox = shoal.Channel(1), shoal.Channel(1)
    interp = interpreters.create()
    try:
        task = interp.run(async_peers.shoal_echo, inbox, outbox)
        try:
            return asyncio.run(ping_pong(inbox.asend, outbox.arecv, trips, warmup))
        finally:
            inbox.close()
            task.result(STOP_S)  # raises what the echo raised
    finally:
        interp.close()


def run_to_thread_queue(trips, warmup):
    inbox, outbox = queue.Queue(), queue.Queue()
    echo = threading.Thread(target=async_peers.thread_queue_echo, args=(inbox, outbox), daemon=True)
    echo.start()

    async def send(value):
        inbox.put(value)

    async def recv():
        return await asyncio.to_thread(outbox.get)

    try:
        return asyncio.run(ping_pong(send, recv, trips, warmup))
    finally:
        inbox.put(None)
        echo.join(STOP_S)


def run_executor_mp_queue(trips, warmup):
    ctx = multiprocessing.get_context("spawn")
    inbox, outbox = ctx.Queue(), ctx.Queue()
    echo = ctx.Process(target=async_peers.mp_queue_echo, args=(inbox, outbox))
    echo.start()

    async def send(value):
        inbox.put(value)

    async def recv():
        return await asyncio.get_running_loop().run_in_executor(None, outbox.get)

    try:
        return asyncio.run(ping_pong(send, recv, trips, warmup))
    finally:
        inbox.put(None)
        echo.join(STOP_S)
        if echo.exitcode is None:
            echo.kill()
            echo.join()
        if echo.exitcode != 0:
            raise RuntimeError(f"the echo process exited with status {echo.exitcode}")


def run_floor(trips, warmup):
    async def main():
        mine = async_peers.Mailbox(asyncio.get_running_loop())
        ready = concurrent.futures.Future()
        echo = threading.Thread(target=async_peers.floor_echo, args=(mine, ready.set_result), daemon=True)
        echo.start()
        theirs = await asyncio.wrap_future(ready)
        try:
            return await ping_pong(lambda v: _put(theirs, v), mine.get, trips, warmup)
        finally:
            theirs.put(None)
            await asyncio.to_thread(echo.join, STOP_S)

    return asyncio.run(main())


async def _put(box, value):
    box.put(value)


RUNNERS = {
    "shoal_processes": run_shoal_processes,
    "shoal_interpreters": run_shoal_interpreters,
    "to_thread_queue": run_to_thread_queue,
    "executor_mp_queue": run_executor_mp_queue,
    "floor": run_floor,
}
assert RUNNERS.keys() == ROWS.keys()


# ============================================================ the run

def fingerprint():
    """Which shoal is measured."""
    import shoal
    return {"path": os.path.dirname(shoal.__file__), "git_head": machine.git_head(ROOT)}



def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 round of 300 round trips per row")
    ap.add_argument("--rounds", type=int, default=None, help="rounds through every row (default 5; --quick 1)")
    ap.add_argument("--trips", type=int, default=None, help="timed round trips per row and round "
                    "(default 2,000; --quick 300)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed round trips first (default 200; --quick 50)")
    ap.add_argument("--only", default="", help="comma-separated rows: " + ",".join(ROWS))
    ap.add_argument("--label", default="", help="a note for the report (e.g. which build an A/B run measured)")
    ap.add_argument("--output", default=None, help="JSON path (default bench/results/async_pingpong.json; --quick: "
                    "async_pingpong_quick.json); the report goes beside it as .md")
    ap.add_argument("--from-json", default=None, metavar="JSON", help="measure nothing: rewrite the .md from it")
    args = ap.parse_args()
    q = args.quick
    args.rounds = args.rounds or (1 if q else 5)
    args.trips = args.trips or (300 if q else 2_000)
    args.warmup = args.warmup if args.warmup is not None else (50 if q else 200)

    if args.from_json:
        with open(args.from_json) as f:
            R = json.load(f)
        R["rows"] = {row: summarize(rounds) for row, rounds in R["raw"].items()}  # the samples are the record
        write_report(R, args.from_json)
        return

    rows = [r for r in args.only.split(",") if r] or list(ROWS)
    bad = [r for r in rows if r not in ROWS]
    if bad:
        ap.error(f"unknown row: {', '.join(bad)}")
    if "floor" not in rows:
        rows.append("floor")  # every ratio is to the floor of the same run
    command = " ".join(["python", os.path.relpath(__file__, ROOT)] + sys.argv[1:])
    R = {"machine": machine.describe(), "quick": q, "command": command, "label": args.label, "shoal": fingerprint(),
         "rounds": args.rounds, "trips": args.trips, "warmup": args.warmup, "raw": {r: [] for r in rows}}
    started = time.perf_counter()
    failed = {}
    for n in range(args.rounds):
        for row in rows:
            if row in failed:
                continue  # broken: the same in the next round
            try:
                rtts = RUNNERS[row](args.trips, args.warmup)
            except Exception as e:
                failed[row] = f"failed: {type(e).__name__}: {e}"[:400]
                R["raw"][row].append({"error": failed[row]})
                log(f"{row}: {failed[row]}")
                continue
            R["raw"][row].append({"rtt_hist_ns": histogram(rtts)})
            log(f"round {n + 1}/{args.rounds} {row}: p50 round trip {statistics.median(rtts) / 1e3:.1f} µs")
    R["rows"] = {row: summarize(rounds) for row, rounds in R["raw"].items()}
    R["wall_s"] = time.perf_counter() - started
    R["machine"]["load_end"] = os.getloadavg()
    path = args.output or os.path.join(HERE, "results", "async_pingpong_quick.json" if q else "async_pingpong.json")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(R, f, separators=(",", ":"))
        f.write("\n")
    write_report(R, path)
    log(f"raw numbers: {os.path.relpath(path, ROOT)}; report: {os.path.splitext(os.path.relpath(path, ROOT))[0]}.md "
        f"({R['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
