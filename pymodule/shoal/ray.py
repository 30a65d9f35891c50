"""shoal.ray: shoal values in Ray tasks and objects.

``shoal.ray.register()`` (after ``ray.init``; in workers that return shoal
values too, e.g. ``ray.init(runtime_env={"worker_process_setup_hook":
"shoal.ray.register"})``) registers Ray serializers
(``ray.util.register_serializer``) for:

* ``shoal.Buffer``, and NumPy arrays viewing arena memory: their bytes go to
  Ray as an out-of-band buffer, as a NumPy array's do, so Ray's own
  zero-copy path applies: copied once into the node's object store, read in
  place there by every task of the node (a read-only NumPy array), and
  moved between nodes by Ray. Without this, such an array would pickle as a
  shoal handle, which lives 60 s and on one host only; Ray may keep an
  object longer and move it anywhere.
* ``shoal.Channel``: a handle (``shoal._pickling``), since a channel lives in
  its arena and nowhere else; used on a node of another host it raises
  ``shoal.ForeignHandle`` naming the arena and its host (and
  ``ArenaNotFound`` where the arena's ``/dev/shm`` is not this one's).

A Buffer must be sealed, or have no writable view alive, when it is passed
(its bytes are final once Ray holds them); otherwise ``BufferError``.
"""

import pickle
import socket

import ray.util

from shoal import _pickling, _shoal

__all__ = ["register"]


# ------------------------------------------------------------ buffers ----


def _buffer_to_ray(buffer):
    """A Buffer as Ray should carry it: its bytes out of band (a
    PickleBuffer of the Buffer itself, read-only) and what makes them a
    NumPy array again."""
    buffer._seal()  # read-only from now on; BufferError while writable views are alive
    view = memoryview(buffer)
    return pickle.PickleBuffer(buffer), buffer.dtype, view.format, tuple(buffer.shape)


def _array_to_ray(array):
    """A NumPy array as Ray should carry it, as a reduction: arena memory out
    of band, as above (a contiguous copy if it is strided); any other array
    as NumPy pickles itself at protocol 5 (what Ray does without shoal)."""
    buffer = _pickling.arena_buffer_of(array)
    if buffer is None or not _pickling.plain_dtype(array.dtype):
        return array.__reduce_ex__(5)
    buffer._seal()
    contiguous = array if array.flags.c_contiguous else array.copy()
    return _from_ray, (pickle.PickleBuffer(contiguous), contiguous.dtype.str, "B", contiguous.shape)


def _array_from_ray(reduction):
    make, args, *rest = reduction
    array = make(*args)
    if rest and rest[0] is not None:
        array.__setstate__(rest[0])
    return array


def _from_ray(data, dtype, fmt, shape):
    """The read-only NumPy array (where NumPy loads) over the bytes Ray
    hands over: in place in the node's object store."""
    _numpy()  # a Ray worker may not have imported it yet: the array is what the task expects
    return _pickling.rebuild_buffer(data, dtype, fmt, shape)


def _buffer_from_ray(fields):
    return _from_ray(*fields)


# ----------------------------------------------------------- channels ----


def _channel_to_ray(channel):
    """A channel's handle (an in-flight ticket, as pickling it gives) and
    the name of its host, for the message of a use elsewhere."""
    _, (ref,) = _pickling.reduce_channel(channel, 5)
    return ref, socket.gethostname()


def _channel_from_ray(fields):
    ref, host = fields
    arena, boot_id = ref[0], ref[2]
    if boot_id != _shoal._boot_id():
        raise _shoal.ForeignHandle(
            f"a shoal.Channel of arena {arena!r} on host {host!r} (boot id {boot_id}) reached a Ray worker "
            f"on host {socket.gethostname()!r} (boot id {_shoal._boot_id()}): a channel works on its own host "
            f"only; schedule this task on {host!r}, or send the values rather than the channel"
        )
    return _shoal._redeem(ref)


# ----------------------------------------------------------- register ----


def register():
    """Registers shoal's Ray serializers in this process (Ray must be
    initialised: ``ray.init`` in a driver; workers are)."""
    ray.util.register_serializer(_shoal.Buffer, serializer=_buffer_to_ray, deserializer=_buffer_from_ray)
    ray.util.register_serializer(_shoal.Channel, serializer=_channel_to_ray, deserializer=_channel_from_ray)
    numpy = _numpy()
    if numpy is not None:
        # Else an arena array would take shoal's copyreg reducer: a handle.
        ray.util.register_serializer(numpy.ndarray, serializer=_array_to_ray, deserializer=_array_from_ray)


def _numpy():
    try:
        import numpy
    except ImportError:
        return None
    return numpy
