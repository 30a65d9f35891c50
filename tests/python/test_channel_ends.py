"""Channel ends: Channel.sender() and .receiver(). A receiver learns that no
value will come as soon as every sender end is closed or its process died
(reaped), and a blocked sender learns that nobody will receive, instead of
either waiting out its timeout."""

import gc
import multiprocessing
import pickle
import queue
import signal
import time

import pytest

import ends_work
import interp_work
import pickles

import shoal
from shoal import interpreters


@pytest.fixture
def arena(arena_name):
    with shoal.Arena("64MiB", name=arena_name) as arena:
        yield arena


def test_the_last_sender_end_closing_ends_the_stream_after_what_is_pending(arena):
    ch = shoal.Channel(8, arena=arena, name="results")
    tx, rx = ch.sender(), ch.receiver()
    assert (tx.role, rx.role, ch.role) == ("sender", "receiver", None)
    other = tx.clone()
    tx.send(1)
    other.send(2)
    tx.close()
    assert not ch.closed, "a clone of the end is still open"
    with pytest.raises(shoal.ChannelClosed, match="sender end of channel 'results'.* is closed"):
        tx.send(3)
    other.close()
    assert ch.closed
    assert list(rx) == [1, 2]  # drained, then the end of the stream
    with pytest.raises(shoal.ChannelClosed, match="every sender end was closed or its holder died"):
        rx.recv(timeout=30)


def test_a_collected_end_counts_as_closed(arena):
    ch = shoal.Channel(2, arena=arena)
    tx = ch.sender()
    del tx
    gc.collect()
    assert ch.closed


def test_ends_send_only_or_receive_only(arena):
    ch = shoal.Channel(2, arena=arena, name="one-way")
    tx, rx = ch.sender(), ch.receiver()
    with pytest.raises(TypeError, match="sender end of channel 'one-way'.*cannot receive"):
        tx.recv(timeout=1)
    with pytest.raises(TypeError, match="cannot receive"):
        tx.try_recv()
    with pytest.raises(TypeError, match="cannot receive"):
        shoal.select(tx, timeout=1)
    with pytest.raises(TypeError, match="receiver end .* cannot send"):
        rx.send(1)
    with pytest.raises(TypeError, match="make more with clone"):
        tx.sender()
    with pytest.raises(TypeError, match="clone\\(\\) is a method of channel ends"):
        ch.clone()


def test_awaiting_an_end_ends_with_the_last_sender(arena):
    import asyncio

    ch = shoal.Channel(4, arena=arena)
    tx, rx = ch.sender(), ch.receiver()

    async def main():
        with pytest.raises(TypeError, match="cannot receive"):
            await tx.arecv()
        await tx.asend(1)
        receiving = asyncio.ensure_future(_collect(rx))
        await asyncio.sleep(0.05)
        tx.close()  # wakes the waiting `async for`
        return await asyncio.wait_for(receiving, 30)

    assert asyncio.run(main()) == [1]


async def _collect(rx):
    return [value async for value in rx]


def test_a_context_manager_closes_its_end(arena):
    ch = shoal.Channel(2, arena=arena)
    rx = ch.receiver()
    with ch.sender() as tx:
        tx.send("x")
    assert ch.closed and rx.recv(timeout=5) == "x"
    assert list(rx) == []


def test_a_blocked_sender_learns_every_receiver_is_gone(arena):
    ch = shoal.Channel(1, arena=arena, name="jobs")
    rx = ch.receiver()
    ch.send(1)  # full
    import threading
    outcome = []

    def blocked():
        try:
            ch.send(2, timeout=60)
        except shoal.ChannelClosed as error:
            outcome.append(error)

    thread = threading.Thread(target=blocked)
    thread.start()
    time.sleep(0.1)
    rx.close()
    thread.join(30)
    assert not thread.is_alive(), "the sender still waits"
    assert "every receiver end was closed or its holder died" in str(outcome[0])


def test_an_end_pickles_and_travels_as_the_same_end(arena):
    ch = shoal.Channel(4, arena=arena)
    rx = ch.receiver()
    tx = ch.sender()
    copy = pickle.loads(pickles.dumps(tx))
    assert copy.role == "sender"
    carrier = shoal.Channel(2, arena=arena)
    carrier.send({"reply_to": tx})
    travelled = carrier.recv(timeout=5)["reply_to"]
    assert travelled.role == "sender"
    tx.close()
    copy.send("by the pickle")
    copy.close()
    pickles.release()
    assert not ch.closed, "the end that travelled is open"
    travelled.send("by the channel")
    travelled.close()
    assert [rx.recv(timeout=5), rx.recv(timeout=5)] == ["by the pickle", "by the channel"]
    assert ch.closed
    with pytest.raises(ValueError, match="is closed: it cannot be handed on"):
        pickle.dumps(tx)


def test_an_end_pickle_is_used_once(arena):
    ch = shoal.Channel(2, arena=arena)
    data = pickle.dumps(ch.sender())  # the only reference to the end is in flight now
    tx = pickle.loads(data)
    with pytest.raises(shoal.PickleExpired):
        pickle.loads(data)
    assert not ch.closed
    tx.close()
    assert ch.closed


def test_an_end_inside_a_value_sent_into_its_own_channel_is_a_cycle(arena):
    ch = shoal.Channel(2, arena=arena)
    rx = ch.receiver()
    with pytest.raises(ValueError, match="could never be freed"):
        ch.send({"reply_to": rx})
    assert len(ch) == 0


def test_a_sender_process_killed_ends_the_stream(arena):
    """SIGKILL of the process holding the last sender end: the receiver gets
    what it sent, then ChannelClosed within the reaper's interval (100 ms)
    plus a little, not after its 60 s timeout."""
    ch = shoal.Channel(8, arena=arena, name="from-worker")
    ready = shoal.Channel(1, arena=arena)
    tx, rx = ch.sender(), ch.receiver()
    spawn = multiprocessing.get_context("spawn")
    worker = spawn.Process(target=ends_work.send_then_die, args=(tx, [1, 2], ready))
    worker.start()
    tx.close()  # the worker's is the last sender end
    assert ready.recv(timeout=60) == "sent"
    assert not ch.closed
    worker.kill()
    killed = time.monotonic()
    worker.join(30)
    assert worker.exitcode == -signal.SIGKILL
    assert [rx.recv(timeout=60), rx.recv(timeout=60)] == [1, 2]
    with pytest.raises(shoal.ChannelClosed, match="every sender end was closed or its holder died"):
        rx.recv(timeout=60)
    took = time.monotonic() - killed
    print(f"end of stream {took * 1000:.0f} ms after SIGKILL of the last sender")
    assert took < 10, f"took {took:.1f} s: the receiver waited rather than being told"
    pickles.release()


def test_a_receiver_process_killed_frees_a_blocked_sender(arena):
    ch = shoal.Channel(1, arena=arena, name="to-worker")
    ready = shoal.Channel(1, arena=arena)
    rx = ch.receiver()
    spawn = multiprocessing.get_context("spawn")
    worker = spawn.Process(target=ends_work.hold_then_die, args=(rx, ready))
    worker.start()
    ready.recv(timeout=60)
    rx.close()  # the worker's is the last receiver end
    ch.send(1)  # full now
    worker.kill()
    killed = time.monotonic()
    with pytest.raises(shoal.ChannelClosed, match="every receiver end was closed or its holder died"):
        ch.send(2, timeout=60)
    took = time.monotonic() - killed
    print(f"blocked sender freed {took * 1000:.0f} ms after SIGKILL of the last receiver")
    assert took < 10
    worker.join(30)
    pickles.release()


def test_the_readme_pool_pattern_ends_when_every_task_is_done():
    results = shoal.Channel(64, name="results")
    parts = [[1, 2], [3], [13], [4, 5]]
    with shoal.ProcessPoolExecutor(2) as pool:
        with results.sender() as tx:
            futures = [pool.submit(ends_work.send_parts, part, tx.clone()) for part in parts]
        received = sorted(results.receiver())
        assert isinstance(futures[2].exception(30), ValueError)
    assert received == [1, 4, 9, 16, 25, 169]


def test_a_task_that_fails_ends_the_stream_of_the_end_it_was_given():
    ch = shoal.Channel(8, name="stage")
    rx = ch.receiver()
    # The task's argument is the only sender end: it goes with the call.
    task = interpreters.Task(target=interp_work.send_then_fail, args=(ch.sender(), [1, 2]))
    started = time.monotonic()
    task.start()
    assert list(rx) == [1, 2]  # ends when the task's end goes with its failed call
    took = time.monotonic() - started
    assert isinstance(task.exception(30), ValueError)
    print(f"end of stream {took * 1000:.0f} ms after the task started")
    assert took < 30
