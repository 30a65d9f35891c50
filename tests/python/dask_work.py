"""Functions that Dask workers run for test_dask.py (imported there by
reference, as a user's module would be)."""

import os
import signal

import numpy

import shoal
from shoal import _pickling


def make_in_arena(n, seed):
    """n float64s in this worker's default arena, sealed: arena memory."""
    buffer = shoal.empty((n,), "float64")
    numpy.asarray(buffer)[:] = numpy.random.default_rng(seed).random(n)
    buffer.seal()
    return numpy.asarray(buffer)


def make_plain(n, seed):
    """The same values in an ordinary NumPy array."""
    return numpy.random.default_rng(seed).random(n)


def describe(x):
    """What a task on the receiving worker sees."""
    buffer = _pickling.arena_buffer_of(x)
    return {
        "sum": float(numpy.sum(x)),
        "digest": bytes(numpy.ascontiguousarray(x).view("uint8")[:: max(1, x.nbytes // 4096)]).hex(),
        "writeable": bool(x.flags.writeable),
        "in_arena": buffer is not None,
        "pid": os.getpid(),
    }


def bytes_sent(keys, dask_worker):
    """Bytes this worker wrote to its peers' comms for `keys` (distributed's
    own count: what Comm.write returned for each get_data response)."""
    keys = set(keys)
    return sum(entry["compressed"] for entry in dask_worker.transfer_outgoing_log if keys & set(entry["keys"]))


def default_arena_name():
    return shoal.default_arena().name


def die_on_receive():
    """From now on this worker dies (SIGKILL) as it receives a shoal value:
    after its sender issued the handle, before it is redeemed here."""
    import shoal.dask

    def killed(header, frames):
        os.kill(os.getpid(), signal.SIGKILL)

    shoal.dask.loads = killed
