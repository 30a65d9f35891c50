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
    """Receives a buffer, tries to write it through a memoryview, and sends
    back what it reads after the sender's post-send writes (the sender sends
    None once it has tried them); returns the received value's type name."""
    received = channel.recv()
    view = memoryview(received).cast("B")
    refused = []
    try:
        view[0] = 1
    except TypeError:
        refused.append("memoryview")
    channel.recv()  # the sender has tried its writes
    results.send((refused, bytes(view)))
    return type(received).__name__


def send_while_viewing():
    """In this interpreter: a send of a Buffer whose memoryview is alive is
    refused; once released, it goes, read-only."""
    import shoal

    buf = shoal.empty(16, "uint8")
    view = memoryview(buf)
    channel = shoal.Channel(1)
    try:
        channel.send(buf)
        refused = "sent"
    except BufferError:
        refused = "BufferError"
    view.release()
    channel.send(buf)
    return refused, buf.readonly
