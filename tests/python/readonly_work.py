"""Functions the read-only-after-send and stdlib-exception tests run in other
interpreters. Imports nothing an isolated interpreter cannot (no NumPy, no
pytest)."""

import queue


def queue_exceptions_catch_channel_ones():
    """In this interpreter: queue.Empty catches try_recv on an empty channel,
    queue.Full try_send on a full one, and both are still ShoalErrors."""
    import shoal

    channel = shoal.Channel(1)
    caught = []
    try:
        channel.try_recv()
    except queue.Empty as error:
        caught.append(("empty", isinstance(error, shoal.ShoalError), type(error).__name__))
    channel.try_send(1)
    try:
        channel.try_send(2)
    except queue.Full as error:
        caught.append(("full", isinstance(error, shoal.ShoalError), type(error).__name__))
    return caught


def write_then_report(channel, results):
    """Receives a buffer, tries to write it through every kind of view, and
    sends back what it read after the sender's post-send writes: the sender
    sends None once it has tried to write."""
    import shoal

    received = channel.recv()
    view = memoryview(received).cast("B")
    refused = []
    try:
        view[0] = 1
    except TypeError:
        refused.append("memoryview")
    channel.recv()  # the sender has tried its writes
    results.send((refused, bytes(view)))
    return shoal.Buffer is type(received)
