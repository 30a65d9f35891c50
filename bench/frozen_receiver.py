"""One receiver of bench/frozen_bench.py: the code that runs in each
subinterpreter (imported there, run as a Task) and in each receiver process
(``python bench/frozen_receiver.py``, its arguments pickled on stdin).

A receiver's life, the same in both:

1. it says it is idle (``out``), then waits on its ``data`` channel;
2. when something arrives it turns it into a mapping it can look up (the
   way's ``open``: nothing for a view or a thawed dict, ``pickle.loads`` for
   pickle bytes or a Manager proxy's pickle), looks one key up, and reports
   the clock (time.perf_counter: CLOCK_MONOTONIC, one clock for every
   process of the host) at which the value arrived and at which that first
   lookup returned;
3. it then obeys commands on ``ctl`` until told to stop: ``lookup`` (the
   random-lookup loop over the shared mapping and over a plain dict of the
   same entries), ``open`` (time the receives of values queued for it).

Imports nothing that an isolated subinterpreter cannot import (no NumPy,
no multiprocessing unless a Manager proxy arrives).
"""

import pickle
import random
import statistics
import sys
import time

now = time.perf_counter
PROBE_KEY = "word1"  # the first lookup of every receiver; its value is 1


def key_of(i):
    return f"word{i}"


def open_value(way, got):
    """What arrived (the channel's value) -> a mapping this receiver can look up."""
    if way in ("pickle", "manager"):
        return pickle.loads(got)  # a plain dict, or a DictProxy (connects on first use)
    return got  # freeze: a FrozenDict view; thaw: the dict recv() rebuilt


def plain_copy(way, value):
    """A plain dict of the same entries, in this receiver: the control of the
    lookup loop."""
    if way == "freeze":
        return value.thaw()
    if way == "manager":
        return value.copy()  # one round trip: the server's dict, pickled
    return dict(value)


def serve(way, index, n, ctl, data, out, authkey=None):
    """Steps 1-3 of the module docstring; returns when ``ctl`` says stop."""
    if authkey is not None:  # a Manager proxy authenticates with the process's key
        import multiprocessing
        import multiprocessing.managers  # imported before the baseline: what unpickling a proxy needs

        multiprocessing.current_process().authkey = authkey
    import shoal

    out.send(("idle", index))
    try:
        got = data.recv()
    except shoal.ChannelClosed:  # the sender stopped before sending anything (it failed)
        out.send(("stopped", index))
        return
    t_got = now()
    value = open_value(way, got)
    first = value[PROBE_KEY]
    t_ready = now()
    del got
    ok = first == 1 and len(value) == n
    out.send(("ready", index, t_got, t_ready, ok))
    while True:
        cmd = ctl.recv()
        if cmd[0] == "stop":
            out.send(("stopped", index))
            return
        if cmd[0] == "lookup":
            out.send(("lookup", index, lookups(way, value, n, *cmd[1:])))
        elif cmd[0] == "open":
            out.send(("open", index, opens(way, data, *cmd[1:])))
        else:
            out.send(("error", index, f"unknown command {cmd[0]!r}"))


def lookup_keys(n, count, seed):
    """``count`` keys drawn at random (fixed seed) from the n keys, their
    hashes computed (str caches its hash): neither loop pays for it."""
    rng = random.Random(seed)
    keys = [key_of(rng.randrange(n)) for _ in range(count)]
    for k in keys:
        hash(k)
    return keys


def loop(mapping, keys):
    """The loop timed: a lookup per key, the values summed (the sum checks
    that both mappings gave the same values)."""
    s = 0
    t = now()
    for k in keys:
        s += mapping[k]
    return now() - t, s


def loop_alone(keys):
    """The same loop without the lookup: what the loop itself costs."""
    s = 0
    t = now()
    for k in keys:
        s += 1
    return now() - t, s


def lookups(way, value, n, count, seed, reps):
    """The shared mapping's loop and a plain dict's, interleaved ``reps``
    times each: their times (s) and whether their sums agreed."""
    keys = lookup_keys(n, count, seed)
    t = now()
    plain = plain_copy(way, value)
    copy_s = now() - t
    shared_s, plain_s, alone_s, sums = [], [], [], set()
    loop(plain, keys)  # warm: the plain dict's pages and the code paths
    for _ in range(reps):
        dt, s = loop(plain, keys)
        plain_s.append(dt)
        sums.add(s)
        dt, s = loop(value, keys)
        shared_s.append(dt)
        sums.add(s)
        alone_s.append(loop_alone(keys)[0])
    del plain
    return {"count": count, "shared_s": shared_s, "plain_s": plain_s, "loop_alone_s": alone_s,
            "sums_agree": len(sums) == 1, "plain_copy_s": copy_s,
            "shared_median_s": statistics.median(shared_s), "plain_median_s": statistics.median(plain_s)}


def opens(way, data, count):
    """Receives ``count`` values already queued on ``data``, each timed
    alone: the receive, and the receive plus the way's open up to a first
    lookup; what opening costs when nothing has to be waited for."""
    received, usable = [], []
    for _ in range(count):
        t = now()
        got = data.recv()
        t_got = now()
        value = open_value(way, got)
        value[PROBE_KEY]
        t_ready = now()
        received.append(t_got - t)
        usable.append(t_ready - t)
        del got, value
    return {"recv_s": received, "until_first_lookup_s": usable}


def process_main():
    """A receiver process: its arguments pickled on stdin (the channels by
    reference), then serve()."""
    args = pickle.loads(sys.stdin.buffer.read())
    import shoal  # noqa: F401 - the channels' module, before anything arrives

    serve(**args)


if __name__ == "__main__":
    process_main()
