"""Module-level functions for the process pool and pickling tests: worker
processes import this module by name to find them."""

import os
import pickle
import signal
import time

import numpy as np


def describe(array):
    """What a worker received: its total, whether it may write, its type."""
    return float(np.sum(array)), bool(array.flags.writeable), type(array).__name__


def arange(n):
    return np.arange(n, dtype=np.float64)


def add(a, b):
    return a + b


def identity(x):
    return x


def pid():
    return os.getpid()


def fail(message):
    raise ValueError(message)


def sleep(seconds):
    time.sleep(seconds)
    return seconds


def kill_self(signum=signal.SIGKILL):
    os.kill(os.getpid(), signum)
    time.sleep(60)


def hold_then_die(array):
    """Holds what it was given, then dies by SIGKILL mid-task."""
    np.sum(array)
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(60)


def exit_now():
    os._exit(3)


def fail_init():
    raise RuntimeError("initializer failed on purpose")


_initialized = None


def remember(value):
    global _initialized
    _initialized = value


def initialized():
    return _initialized


def anonymous_bytes():
    """This process's anonymous memory (heap, not shared files), from smaps_rollup."""
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            if line.startswith("Anonymous:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no Anonymous line in /proc/self/smaps_rollup")


def sum_and_anonymous(array):
    """The sum of `array`, read whole, and how much anonymous memory this
    process has after reading it: a copy of the array would be in it."""
    return float(np.sum(array)), anonymous_bytes()


def sum_of_pickle(data):
    return float(np.sum(pickle.loads(data)))


def load_many(data, count):
    """Unpickles `data` `count` times, keeping every result: one holder
    slot must serve them all (1,024 slots per arena)."""
    kept = [pickle.loads(data) for _ in range(count)]
    return len(kept), float(np.sum(kept[-1]))


def nap_then_describe(seconds, array):
    time.sleep(seconds)
    return describe(array)


def sum_from_queue(queue, results):
    """Takes one array from a multiprocessing.Queue and puts back its sum and
    this process's anonymous memory after reading it all."""
    results.put(sum_and_anonymous(queue.get(timeout=60)))


def frozen_lookup(view, key):
    """A frozen view received in a worker process: its type, the value at
    `key`, the worker's pid."""
    return type(view).__name__, view[key], os.getpid()
