"""shoal.ray with a real Ray: a task given a shoal.Buffer reads it in place
in the node's object store (no copy in the task), and a Channel used where
its arena is not raises an error naming the arena and its host.

Ray takes seconds to start on two cores: one ray.init for the module, few
tests.
"""

import os
import sys

import pytest

numpy = pytest.importorskip("numpy")
ray = pytest.importorskip("ray", reason="ray is not installed (scripts/setup.sh installs it)")

import shoal  # noqa: E402
import shoal.ray  # noqa: E402
from shoal import _shoal  # noqa: E402

# The tasks below travel by value: Ray's workers need not import this file.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def ray_node():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    shoal.ray.register()
    try:
        yield
    finally:
        ray.shutdown()


def _mapping_of(address):
    """The line of /proc/self/maps whose range holds `address`."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            span = line.split()[0]
            start, end = (int(x, 16) for x in span.split("-"))
            if start <= address < end:
                return line.strip()
    return ""


@ray.remote
def _look(x):
    """What a task sees of the array it is given: where its bytes lie."""
    address = x.__array_interface__["data"][0]
    return {
        "type": type(x).__name__,
        "sum": float(x.sum()),
        "writeable": bool(x.flags.writeable),
        "mapping": _mapping_of(address),
        "owns": bool(x.flags.owndata),
    }


def test_a_buffer_is_read_in_place_in_the_object_store(ray_node):
    buffer = shoal.empty((1 << 17,), "float64")
    numpy.asarray(buffer)[:] = numpy.arange(1 << 17)
    buffer.seal()
    seen = ray.get(_look.remote(buffer))
    assert seen["type"] == "ndarray" and seen["sum"] == float(numpy.arange(1 << 17).sum())
    assert not seen["writeable"] and not seen["owns"]
    # In place: the bytes lie in Ray's object store (a shared mapping of a
    # file "/dev/shm/plasma..."), not in memory of the task's own (a copy
    # would be on its heap) nor in shoal's arena (a handle: one host, 60 s).
    assert "/dev/shm/plasma" in seen["mapping"], seen["mapping"]


def test_an_arena_array_goes_to_ray_as_bytes_not_as_a_handle(ray_node):
    buffer = shoal.empty((1 << 17,), "float64")
    numpy.asarray(buffer)[:] = 2.0
    buffer.seal()
    before = len(_shoal._in_flight(shoal.default_arena().name))
    ref = ray.put(numpy.asarray(buffer)[::2])  # a strided view of arena memory
    assert len(_shoal._in_flight(shoal.default_arena().name)) == before  # no ticket: Ray holds the bytes
    seen = ray.get(_look.remote(ref))
    assert seen["sum"] == 2.0 * (1 << 16)
    assert "/dev/shm/plasma" in seen["mapping"], seen["mapping"]


@ray.remote
def _use(channel):
    return channel.recv(timeout=5)


def test_a_channel_off_its_host_names_its_arena_and_host(ray_node):
    channel = shoal.Channel(4)
    channel.send("on this host")
    assert ray.get(_use.remote(channel)) == "on this host"  # one host: the same channel
    ref, host = shoal.ray._channel_to_ray(channel)
    elsewhere = (ref[0], ref[1], "another-boot-id", *ref[3:])
    with pytest.raises(shoal.ForeignHandle, match=rf"arena '{ref[0]}' on host '{host}'"):
        shoal.ray._channel_from_ray((elsewhere, host))
