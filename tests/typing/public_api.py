"""Every public name of shoal, used as a typed program would use it.

scripts/test.sh runs `mypy --strict` on this file (the stubs must describe
the API well enough that strict code needs no casts or ignores), and then
runs it, so what type-checks here also works. `assert_type` pins what the
stubs say a call returns: a stub that drifts to Any or to another type fails
mypy.
"""

import asyncio
import pickle
import queue
from collections.abc import Buffer, Callable, Mapping, Sequence, Set
from concurrent.futures import Future
from typing import Any, Literal, assert_type

import shoal
from shoal import interpreters


def double(x: int) -> int:
    return 2 * x


def arena_and_buffers() -> None:
    assert_type(shoal.parse_size("1MiB"), int)
    assert_type(shoal.format_size(4096), str)
    with shoal.Arena("8MiB") as arena:
        assert_type(arena, shoal.Arena)
        assert_type(arena.name, str)
        assert_type(arena.size, int)
        assert_type(arena.used, int)
        assert_type(arena.created, bool)
        assert_type(arena.closed, bool)
        assert_type(arena.stats(), dict[str, int])
        assert_type(arena.check(), list[str])
        assert_type(arena.reap(), int)
        other = shoal.Arena.attach(arena.name)
        assert_type(other, shoal.Arena)
        other.close()
        again = shoal.Arena(8 << 20, arena.name, exist_ok=True)
        assert not again.created
        again.close()

        buf = arena.empty((4, 2), dtype="float64")
        assert_type(buf, shoal.Buffer)
        view = memoryview(buf)  # the buffer protocol, as the stubs declare it
        view.cast("B")[:] = bytes(buf.nbytes)
        view.release()
        buf.seal()
        assert_type(buf.shape, tuple[int, ...])
        assert_type(buf.dtype, str)
        assert_type(buf.nbytes, int)
        assert_type(buf.readonly, bool)
        assert_type(buf.__array_interface__, dict[str, Any])
        assert isinstance(buf, Buffer)
    flat = shoal.empty(16, "uint8")
    assert flat.shape == (16,)
    assert_type(shoal.default_arena(), shoal.Arena)


def channels() -> None:
    ch = shoal.Channel(4, checksum=True, name="typed")
    assert_type(ch.capacity, int)
    assert_type(ch.name, str | None)
    assert_type(ch.checksum, bool)
    ch.send({"n": 1}, timeout=1.0)
    ch.try_send([1, 2])
    assert len(ch) == 2
    assert ch.recv(timeout=1.0) == {"n": 1}
    assert ch.try_recv() == [1, 2]
    try:
        ch.try_recv()
    except shoal.Empty as empty:
        assert isinstance(empty, queue.Empty)
    other = shoal.Channel()
    other.send("x")
    channel, value = shoal.select(ch, other, timeout=1.0)
    assert_type(channel, shoal.Channel)
    assert channel is other and value == "x"

    async def awaited() -> None:
        await ch.asend(3)
        assert await ch.arecv(timeout=1.0) == 3
        await other.asend(4)
        got, four = await shoal.aselect(ch, other, timeout=1.0)
        assert got is other and four == 4

    asyncio.run(awaited())
    ch.close()
    assert_type(ch.closed, bool)
    assert list(ch) == []
    other.poison()
    assert_type(other.poisoned, bool)
    try:
        other.recv()
    except shoal.ChannelClosed as closed:
        assert isinstance(closed, shoal.ChannelPoisoned)
        assert_type(closed.channel, shoal.Channel | None)
    assert pickle.loads(pickle.dumps(ch)).closed

    stream = shoal.Channel(2, name="ends")
    rx = stream.receiver()
    with stream.sender() as tx:
        assert_type(tx, shoal.Channel)
        assert_type(tx.role, Literal["sender", "receiver"] | None)
        copy = tx.clone()
        copy.send(1)
        copy.close()
    assert stream.closed and list(rx) == [1]


def frozen() -> None:
    d = shoal.freeze({"a": [1, 2], "b": (3,)})
    assert_type(d, shoal.FrozenDict)
    assert isinstance(d, Mapping) and d["a"] == [1, 2] and d.get("c", 0) == 0
    assert_type(d.thaw(), dict[Any, Any])
    assert_type(d.arena, str)
    lst = shoal.freeze([1, 2, 3])
    assert_type(lst, shoal.FrozenList)
    assert isinstance(lst, Sequence) and lst[0] == 1 and lst[1:] == [2, 3]
    tup = shoal.freeze((1, 2))
    assert_type(tup, shoal.FrozenTuple)
    assert hash(tup) == hash((1, 2))
    fs = shoal.freeze({1, 2})
    assert_type(fs, shoal.FrozenSet)
    assert isinstance(fs, Set) and 1 in fs


def pickle_lifetimes() -> None:
    assert_type(shoal.get_pickle_lifetime(), float)
    previous = shoal.set_pickle_lifetime(30)
    shoal.set_pickle_lifetime(previous)
    with shoal.pickle_lifetime(5) as seconds:
        assert_type(seconds, float)


def executors() -> None:
    with shoal.SubinterpreterExecutor(1) as pool:
        future = pool.submit(double, 21)
        assert_type(future, Future[int])
        assert future.result() == 42
        assert list(pool.map(double, [1, 2], chunksize=2)) == [2, 4]
    with shoal.ProcessPoolExecutor(1) as processes:
        assert processes.submit(double, 2).result() == 4
        assert list(processes.map(double, [1, 2, 3], buffersize=2)) == [2, 4, 6]


def subinterpreters() -> None:
    with interpreters.create() as interp:
        assert_type(interp, interpreters.Interpreter)
        assert_type(interp.id, int)
        assert_type(interp.isolated, bool)
        interp.prepare_main(x=2)
        interp.exec("y = x * 3")
        assert_type(interp.call(double, 4), int)
        assert not interp.is_running()
        task = interp.call_in_thread(double, 1)
        assert task.result(timeout=30) == 2
        try:
            interp.exec("raise KeyError('k')")
        except interpreters.ExecutionFailed as failed:
            assert isinstance(failed, interpreters.InterpreterError)
            assert failed.excinfo.type.__name__ == "KeyError"
    try:
        interp.exec("pass")
    except interpreters.InterpreterNotFoundError:
        pass
    task = interpreters.run(double, 5)
    assert_type(task, interpreters.Task)
    assert task.result(timeout=30) == 10 and task.done() and task.exception() is None
    assert interpreters.running() is None
    assert interpreters.get_current() == interpreters.get_main()
    assert interpreters.get_main() in interpreters.list_all()
    ended = interpreters.Task(target="pass")
    ended.start()
    ended.join()


def errors() -> None:
    # The error tree, as the stubs declare it (mypy checks the assignments).
    as_builtin: list[type[BaseException]] = [
        shoal.ArenaFull,  # a MemoryError
        shoal.ArenaNotFound,
        shoal.ArenaExists,
        shoal.ArenaPermissionError,
        shoal.NotAnArena,
        shoal.InvalidHandle,
        shoal.PickleExpired,
        shoal.ForeignHandle,
        shoal.ShoalTimeout,
        shoal.Full,
        shoal.Empty,
    ]
    shoal_only: list[type[shoal.ShoalError]] = [
        shoal.CorruptArena,
        shoal.CorruptObject,
        shoal.ChannelClosed,
        shoal.ChannelPoisoned,
        shoal.TooManyHolders,
        *[e for e in as_builtin if issubclass(e, shoal.ShoalError)],
    ]
    assert len(shoal_only) == 16
    exiting: type[SystemExit] = shoal.ProcessExiting
    try:
        shoal.Arena.attach("typed-api-no-such-arena")
    except FileNotFoundError as missing:
        assert isinstance(missing, shoal.ArenaNotFound)
    assert issubclass(exiting, SystemExit)


def cluster_engines() -> None:
    import shoal.dask
    import shoal.ray

    identity = shoal.dask.host_identity()
    assert_type(identity, dict[str, Any])
    assert identity["boot-id"]
    assert shoal.dask.enable(arrays=False) is None  # this process only: no client
    plugin: shoal.dask.ShoalWorkerPlugin = shoal.dask.ShoalWorkerPlugin(arrays=True, arena="typed-api")
    assert plugin.arena == "typed-api"
    assert_type(shoal.dask.COPY_THRESHOLD, int)
    register: Callable[[], None] = shoal.ray.register  # needs ray.init: not called here
    assert callable(register)


def main() -> None:
    arena_and_buffers()
    channels()
    frozen()
    pickle_lifetimes()
    executors()
    subinterpreters()
    errors()
    cluster_engines()
    print("public_api: every call ran")


if __name__ == "__main__":
    main()
