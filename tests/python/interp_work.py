"""Module-level functions for the interpreter and executor tests.

Other interpreters import this module by name to find the functions, so it
imports nothing an isolated interpreter cannot (no NumPy, no pytest).
"""

import time

_initialized_with = None


class Unpicklable(Exception):
    """An exception that cannot be rebuilt from its pickle."""

    def __init__(self, a, b):
        super().__init__(f"{a}+{b}")


def add(a, b):
    return a + b


def square(x):
    return x * x


def noop():
    return None


def fail(*args):
    raise ValueError(*args)


def fail_unpicklable():
    raise Unpicklable(1, 2)


def byte_sum(buf):
    return sum(memoryview(buf).cast("B"))


def data_address(buf):
    return buf.__array_interface__["data"][0]


def sleep_then(seconds, value):
    time.sleep(seconds)
    return value


def current_interpreter_id():
    from shoal import interpreters

    return interpreters.get_current().id


def running_task():
    from shoal import interpreters

    task = interpreters.running()
    return (task.name, task.interpreter.id, task.ident, task.is_alive())


def echo_through(channel, count):
    for _ in range(count):
        channel.send(channel.recv())
    return count


def send_values(channel, values):
    for value in values:
        channel.send(value)
    return len(values)


def recv_one(channel):
    return channel.recv()


def initialize(value):
    global _initialized_with
    _initialized_with = value


def initialized_with():
    return _initialized_with


def fail_initializer():
    raise RuntimeError("initializer failed on purpose")


def import_module(name):
    import importlib

    importlib.import_module(name)
    return name


def return_generator():
    return (i for i in range(3))


def echo_through_pair(requests, replies, count):
    for _ in range(count):
        replies.send(requests.recv())
    return count


def eval_in_main(expression):
    import __main__

    return eval(expression, __main__.__dict__)


def identity(value):
    return value


class Box:
    """A picklable user object holding anything (a shoal.Buffer, say)."""

    def __init__(self, data):
        self.data = data


def describe_box_data(box):
    view = box.data
    return (type(view).__name__, tuple(view.shape), view.format, view.readonly)


def nested_create_and_call(a, b):
    """Runs in an isolated interpreter: makes one of its own and calls into it."""
    from shoal import interpreters

    with interpreters.create() as inner:
        return (interpreters.get_current().id, inner.call(add, a, b))


class RaisesKeyErrorWhenPickled:
    def __reduce__(self):
        raise KeyError("from __reduce__")


def receive_swallowing_exceptions(channel):
    """Receives until the channel ends, shrugging off every Exception:
    only what is not an Exception (ProcessExiting, a SystemExit) ends it."""
    while True:
        try:
            channel.recv()
        except Exception:  # noqa: BLE001 - the point of the test
            time.sleep(0.01)


def spin():
    """Runs Python for ever without waiting in shoal."""
    while True:
        pass


def frozen_lookup(view, key):
    """A frozen view received in another interpreter: its type, the value at
    `key`, and the path it views (the same block, if sent by reference)."""
    return type(view).__name__, view[key], view._path


def send_then_fail(channel, values):
    """A pipeline stage that sends some values and then fails."""
    for value in values:
        channel.send(value)
    raise ValueError("stage failed after sending")


def describe_array(buf):
    """What an array arrives as where NumPy is not: its type, dtype, format, items."""
    view = memoryview(buf)
    return type(buf).__name__, buf.dtype, view.format, view.tolist()
