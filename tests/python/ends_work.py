"""Workers for test_channel_ends.py, started by `spawn`: importable by name."""

import os
import signal


def send_then_die(sender, values, ready):
    """Sends `values` through a sender end, says so, and is killed holding it."""
    for value in values:
        sender.send(value, timeout=60)
    ready.send("sent", timeout=60)
    signal.pause()


def send_parts(part, sender):
    """A pool task: sends its part's squares through its sender end."""
    for value in part:
        sender.send(value * value, timeout=60)
    if part == [13]:
        raise ValueError("unlucky part")  # a failing task's end goes with its call too


def hold_then_die(receiver, ready):
    """Holds a receiver end, says so, and waits to be killed."""
    ready.send(os.getpid(), timeout=60)
    signal.pause()
