"""shoal.Empty and shoal.Full are queue.Empty and queue.Full too (code written
for queue.Queue's get_nowait/put_nowait handles a Channel's), in every
interpreter, and keep their shoal bases."""

import queue

import pytest

import readonly_work
import shoal
from shoal import interpreters


def test_the_classes_derive_from_queue_and_from_shoal_error():
    assert issubclass(shoal.Empty, queue.Empty) and issubclass(shoal.Empty, shoal.ShoalError)
    assert issubclass(shoal.Full, queue.Full) and issubclass(shoal.Full, shoal.ShoalError)
    # A closed channel is not an empty one: ChannelClosed keeps its own place.
    assert not issubclass(shoal.ChannelClosed, queue.Empty)
    assert issubclass(shoal.ChannelPoisoned, shoal.ChannelClosed)


def test_except_queue_empty_catches_try_recv_on_an_empty_channel():
    channel = shoal.Channel(1)
    with pytest.raises(queue.Empty) as info:
        channel.try_recv()
    assert type(info.value) is shoal.Empty


def test_except_queue_full_catches_try_send_on_a_full_channel():
    channel = shoal.Channel(1)
    channel.try_send("first")
    with pytest.raises(queue.Full) as info:
        channel.try_send("second")
    assert type(info.value) is shoal.Full
    assert channel.try_recv() == "first"


def test_the_same_holds_in_an_isolated_subinterpreter():
    with interpreters.create() as interp:
        caught = interp.call(readonly_work.queue_exceptions_catch_channel_ones)
    assert caught == [("empty", True, "Empty"), ("full", True, "Full")]
