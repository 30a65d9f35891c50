"""The CSP completions on shoal.Channel: poison() (waking blocked senders
and receivers in threads, interpreters and processes, dropping and freeing
what was pending) and shoal.select() (whichever channel is ready, fairly;
timeouts; ended channels reported with .channel; other processes and
interpreters; Ctrl-C)."""

import gc
import multiprocessing
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import pickles

import shoal

from conftest import IsolatedInterpreter, read_line


@pytest.fixture
def arena(arena_name):
    with shoal.Arena("64MiB", name=arena_name) as arena:
        yield arena


def settled_used(arena):
    """arena.used once this holder's ledger and the freezer are warmed up,
    so that later comparisons are exact."""
    warm = shoal.Channel(2, arena=arena)
    warm.send([1, "x" * 5000])
    warm.recv()
    del warm
    gc.collect()
    return arena.used


def run_in_threads(targets):
    """Starts one thread per callable; returns them."""
    threads = [threading.Thread(target=target, daemon=True) for target in targets]
    for thread in threads:
        thread.start()
    return threads


# ------------------------------------------------------------- poison ----


def test_poison_wakes_blocked_senders_and_receivers_in_threads(arena):
    full = shoal.Channel(1, arena=arena)
    full.send("occupying the only slot")
    empty = shoal.Channel(4, arena=arena)
    outcomes = []
    lock = threading.Lock()

    def attempt(operation):
        def run():
            try:
                operation()
                outcome = "returned"
            except BaseException as error:  # noqa: BLE001 - the type is what is tested
                outcome = type(error)
            with lock:
                outcomes.append(outcome)
        return run

    threads = run_in_threads([
        attempt(lambda: full.send("blocked", timeout=60)),
        attempt(lambda: full.send("blocked too", timeout=60)),
        attempt(lambda: empty.recv(timeout=60)),
        attempt(lambda: empty.recv(timeout=60)),
    ])
    time.sleep(0.3)  # let them block (one that has not yet is refused the same way)
    full.poison()
    empty.poison()
    for thread in threads:
        thread.join(30)
        assert not thread.is_alive(), "a blocked call was not woken by poison()"
    assert outcomes == [shoal.ChannelPoisoned] * 4


def test_a_poisoned_channel_refuses_everything_and_stays_poisoned(arena):
    channel = shoal.Channel(4, arena=arena)
    channel.send(1)
    assert not channel.poisoned
    channel.poison()
    assert channel.poisoned and channel.closed
    assert len(channel) == 0
    for operation in (lambda: channel.send(2), lambda: channel.try_send(2), channel.recv, channel.try_recv):
        with pytest.raises(shoal.ChannelPoisoned):
            operation()
    with pytest.raises(shoal.ChannelClosed):  # a ChannelPoisoned is a ChannelClosed
        channel.recv(timeout=1)
    with pytest.raises(shoal.ChannelPoisoned):  # unlike close(), poison is not a quiet end
        list(channel)
    channel.close()
    channel.poison()  # idempotent
    assert channel.poisoned
    assert issubclass(shoal.ChannelPoisoned, shoal.ChannelClosed)
    assert issubclass(shoal.ChannelPoisoned, shoal.ShoalError)
    assert "ChannelPoisoned" in shoal.__all__ and "select" in shoal.__all__


def test_a_closed_channel_is_not_poisoned_and_close_still_drains(arena):
    channel = shoal.Channel(4, arena=arena)
    channel.send("last")
    channel.close()
    assert channel.closed and not channel.poisoned
    assert channel.recv() == "last"
    with pytest.raises(shoal.ChannelClosed) as info:
        channel.recv()
    assert not isinstance(info.value, shoal.ChannelPoisoned)


def test_poison_drops_pending_values_and_frees_their_blocks(arena):
    np = pytest.importorskip("numpy")
    baseline = settled_used(arena)
    channel = shoal.Channel(32, arena=arena)
    with_channel = arena.used
    kept = arena.empty(10_000, "float64")
    np.asarray(kept)[:] = 2.5
    with_kept = arena.used
    channel.send({"kept": kept})  # its blob is also ours
    for i in range(20):
        channel.send({"i": i, "blob": b"z" * 50_000, "array": np.arange(1000.0)})
    assert arena.used > with_kept + 20 * 50_000
    channel.poison()
    assert arena.used == with_kept
    assert np.asarray(kept).sum() == 25_000.0  # what someone still holds survives
    del kept
    gc.collect()
    assert arena.used == with_channel
    del channel
    gc.collect()
    assert arena.used == baseline
    assert arena.check() == []


def _block_then_report(channel_bytes, results_bytes, role):
    channel, results = pickle.loads(channel_bytes), pickle.loads(results_bytes)
    results.send(("ready", role), timeout=60)
    try:
        if role == "sender":
            channel.send("blocked", timeout=60)
        else:
            channel.recv(timeout=60)
        results.send(("returned", role), timeout=60)
    except shoal.ChannelPoisoned:
        results.send(("poisoned", role), timeout=60)
    except BaseException as error:  # noqa: BLE001
        results.send((repr(error), role), timeout=60)


def _poison_after(channel_bytes, seconds):
    channel = pickle.loads(channel_bytes)
    time.sleep(seconds)
    channel.poison()


def test_poison_reaches_blocked_calls_in_other_processes_and_from_them(arena):
    baseline = settled_used(arena)
    full = shoal.Channel(1, arena=arena)
    full.send(b"x" * 10_000)
    empty = shoal.Channel(1, arena=arena)
    results = shoal.Channel(8, arena=arena)
    spawn = multiprocessing.get_context("spawn")
    children = [
        spawn.Process(target=_block_then_report, args=(pickles.dumps(full), pickles.dumps(results), "sender")),
        spawn.Process(target=_block_then_report, args=(pickles.dumps(empty), pickles.dumps(results), "receiver")),
    ]
    for child in children:
        child.start()
    try:
        assert sorted(results.recv(timeout=120) for _ in children) == [("ready", "receiver"), ("ready", "sender")]
        time.sleep(0.3)
        full.poison()
        empty.poison()
        reports = sorted(results.recv(timeout=60) for _ in children)
        assert reports == [("poisoned", "receiver"), ("poisoned", "sender")]
        for child in children:
            child.join(60)
            assert child.exitcode == 0

        # The other direction: a child poisons a channel this process is blocked on.
        third = shoal.Channel(2, arena=arena)
        poisoner = spawn.Process(target=_poison_after, args=(pickles.dumps(third), 0.5))
        children.append(poisoner)
        poisoner.start()
        with pytest.raises(shoal.ChannelPoisoned):
            third.recv(timeout=120)
        poisoner.join(60)
        assert poisoner.exitcode == 0
    finally:
        for child in children:
            if child.is_alive():
                child.kill()
                child.join()
    del full, empty, results, third
    gc.collect()
    assert arena.reap() == 0
    pickles.release()  # the children used them
    assert arena.used == baseline
    assert arena.check() == []


# ------------------------------------------------------------- select ----


def test_select_returns_the_ready_channel_and_its_value(arena):
    a, b, c = (shoal.Channel(4, arena=arena) for _ in range(3))
    b.send({"from": "b"})
    channel, value = shoal.select(a, b, c, timeout=5)
    assert channel is b and value == {"from": "b"}
    c.send([1, 2])
    assert shoal.select(a, b, c) == (c, [1, 2])  # timeout=None: it is ready anyway


def test_select_wakes_when_another_thread_sends(arena):
    a, b = shoal.Channel(4, arena=arena), shoal.Channel(4, arena=arena)
    sender = threading.Timer(0.2, lambda: a.send("late"))
    sender.start()
    try:
        assert shoal.select(a, b, timeout=60) == (a, "late")
    finally:
        sender.join()


def test_select_times_out_with_the_builtin_timeout_error(arena):
    a, b = shoal.Channel(4, arena=arena), shoal.Channel(4, arena=arena)
    started = time.monotonic()
    with pytest.raises(TimeoutError) as info:
        shoal.select(a, b, timeout=0.2)
    assert time.monotonic() - started >= 0.19  # waited its time out, not less
    assert "select() timed out" in str(info.value)
    with pytest.raises(TimeoutError):
        shoal.select(a, timeout=0)


def test_select_reports_a_closed_and_drained_channel_with_its_channel(arena):
    a, b = shoal.Channel(4, arena=arena), shoal.Channel(4, arena=arena)
    a.send("pending")
    a.close()
    assert shoal.select(a, b, timeout=5) == (a, "pending")  # closed, not yet drained
    with pytest.raises(shoal.ChannelClosed) as info:
        shoal.select(a, b, timeout=5)
    assert info.value.channel is a
    assert not isinstance(info.value, shoal.ChannelPoisoned)
    b.poison()
    with pytest.raises(shoal.ChannelPoisoned) as info:
        shoal.select(b, timeout=5)
    assert info.value.channel is b
    with pytest.raises(shoal.ChannelClosed) as info:  # .channel is None outside select
        a.recv()
    assert info.value.channel is None


def test_an_ended_channel_is_reported_in_its_turn_not_skipped(arena):
    closed, busy = shoal.Channel(4, arena=arena), shoal.Channel(64, arena=arena)
    closed.close()
    for i in range(60):
        busy.send(i)
    served = 0
    with pytest.raises(shoal.ChannelClosed) as info:
        for _ in range(60):  # the closed channel comes first in about half the rounds
            shoal.select(busy, closed, timeout=5)
            served += 1
    assert info.value.channel is closed
    assert served < 60


def test_select_refuses_no_channels_other_objects_and_mixed_arenas(arena, arena_name):
    with pytest.raises(ValueError):
        shoal.select()
    channel = shoal.Channel(4, arena=arena)
    with pytest.raises(TypeError):
        shoal.select(channel, "not a channel")
    with pytest.raises(TypeError):
        shoal.select([channel])
    with pytest.raises(ValueError):
        shoal.select(channel, timeout=-1)
    with pytest.raises(TypeError):
        shoal.select(channel, timeout=1, other=2)
    with shoal.Arena("4MiB", name=arena_name + "-other") as other:
        foreign = shoal.Channel(4, arena=other)
        foreign.send(1)
        with pytest.raises(ValueError, match="one arena"):
            shoal.select(channel, foreign, timeout=1)
        del foreign


def test_select_is_fair_over_eight_busy_channels_and_four_producers(arena):
    channels = [shoal.Channel(64, arena=arena) for _ in range(8)]
    baseline = settled_used(arena)
    filled = threading.Barrier(5)

    def produce(mine):
        # Fill both channels, then keep them topped up: every channel stays
        # non-empty, so a select biased to any one would serve only that one.
        try:
            for _ in range(64):
                for channel in mine:
                    channel.send(b"v")
            filled.wait()
            while True:
                for channel in mine:
                    channel.send(b"v", timeout=60)
        except shoal.ChannelPoisoned:
            pass

    producers = run_in_threads([lambda p=p: produce(channels[2 * p:2 * p + 2]) for p in range(4)])
    filled.wait(60)
    rounds = 8 * 40
    served = [0] * 8
    for _ in range(rounds):
        channel, value = shoal.select(*channels, timeout=60)
        assert value == b"v"
        served[channels.index(channel)] += 1
    for channel in channels:
        channel.poison()  # also ends the producers, blocked or not
    for producer in producers:
        producer.join(30)
        assert not producer.is_alive()
    # Every channel was ready every round: each should get about 1/8.
    assert min(served) >= rounds // 8 // 4, f"a channel was starved: {served}"
    assert arena.used == baseline  # poison dropped what was left
    assert arena.check() == []


def _select_in_child(channels_bytes, results_bytes):
    a, b, c = pickle.loads(channels_bytes)
    results = pickle.loads(results_bytes)
    results.send("selecting", timeout=60)
    channel, value = shoal.select(a, b, c, timeout=120)
    results.send(([a, b, c].index(channel), value), timeout=60)


def _send_later(channel_bytes, value, seconds):
    channel = pickle.loads(channel_bytes)
    time.sleep(seconds)
    channel.send(value, timeout=60)


def test_select_across_processes(arena):
    baseline = settled_used(arena)
    a, b, c = (shoal.Channel(4, arena=arena) for _ in range(3))
    results = shoal.Channel(4, arena=arena)
    spawn = multiprocessing.get_context("spawn")
    selector = spawn.Process(target=_select_in_child, args=(pickles.dumps((a, b, c)), pickles.dumps(results)))
    sender = spawn.Process(target=_send_later, args=(pickles.dumps(b), ("from", "child"), 0.5))
    try:
        # A child selects; this process sends.
        selector.start()
        assert results.recv(timeout=120) == "selecting"
        time.sleep(0.3)
        c.send(b"q" * 8000)
        assert results.recv(timeout=60) == (2, b"q" * 8000)
        selector.join(60)
        assert selector.exitcode == 0
        # This process selects; a child sends.
        sender.start()
        assert shoal.select(a, b, c, timeout=120) == (b, ("from", "child"))
        sender.join(60)
        assert sender.exitcode == 0
    finally:
        for child in (selector, sender):
            if child.is_alive():
                child.kill()
                child.join()
    del a, b, c, results
    gc.collect()
    assert arena.reap() == 0
    pickles.release()  # the children used them
    assert arena.used == baseline
    assert arena.check() == []


def test_select_and_poison_across_isolated_interpreters(arena):
    a, b, results = (shoal.Channel(4, arena=arena) for _ in range(3))
    ticket = pickles.dumps((a, b, results))
    interp = IsolatedInterpreter()
    failures = []

    def run():
        failures.append(interp.exec(textwrap.dedent(f"""
            import pickle
            import shoal
            a, b, results = pickle.loads({ticket!r})
            results.send("selecting")
            channel, value = shoal.select(a, b, timeout=60)
            results.send((channel is b, value))
            try:
                a.recv(timeout=60)
            except shoal.ChannelPoisoned as error:
                results.send(type(error).__name__)
            del a, b, results, channel
            """)))

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert results.recv(timeout=60) == "selecting"
        time.sleep(0.2)
        b.send("to the interpreter")
        assert results.recv(timeout=60) == (True, "to the interpreter")
        time.sleep(0.2)
        a.poison()
        assert results.recv(timeout=60) == "ChannelPoisoned"
    finally:
        a.poison()  # never leave the thread blocked
        thread.join(60)
        interp.close()
    assert failures == [None], failures[0] if failures and failures[0] else failures


_BLOCKED_SELECT_CHILD = textwrap.dedent(
    """
    import shoal
    arena = shoal.Arena("4MiB")
    a, b = shoal.Channel(1, arena=arena), shoal.Channel(1, arena=arena)
    print("waiting", flush=True)
    try:
        shoal.select(a, b)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    """
)


def test_ctrl_c_interrupts_a_blocked_select():
    child = subprocess.Popen([sys.executable, "-c", _BLOCKED_SELECT_CHILD],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert read_line(child.stdout, 30).strip() == "waiting"
        time.sleep(0.2)
        child.send_signal(signal.SIGINT)
        assert read_line(child.stdout, 10).strip() == "interrupted"
        assert child.wait(10) == 0
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        child.stdout.close()
        child.stderr.close()


# ------------------------------------------------- reference cycles ----

def test_a_channel_that_would_hold_itself_is_refused_and_nothing_stays(arena):
    a = shoal.Channel(4, arena=arena)
    a.send("warm")  # this holder's ledger exists before the baseline
    a.recv()
    gc.collect()
    baseline = arena.used
    b = shoal.Channel(4, arena=arena)
    for value in (a, [1, a], {"inner": (a,)}):
        with pytest.raises(ValueError, match="holds that channel"):
            a.send(value)
    b.send([a])  # b holds a: fine
    with pytest.raises(ValueError, match="holds that channel"):
        a.send({"back": b})  # a would hold b, which holds a
    assert len(a) == 0 and len(b) == 1
    assert arena.check() == []
    del b
    gc.collect()
    assert arena.used == baseline  # b went with what it held; nothing refused stayed
