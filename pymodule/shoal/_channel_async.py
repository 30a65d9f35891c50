"""Channels awaited: Channel.arecv/asend, ``async for``, shoal.aselect, under
asyncio or Trio (so under anyio's two backends too).

Every operation is a loop of non-blocking tries (``try_recv``, ``try_send``,
``select(timeout=0)``) with a wait in between that the event loop does:

1. read the arena's activity word (``Channel._activity()``), a token;
2. try; done if it worked (an ended channel raises, as the sync calls do);
3. arm a ``_shoal._Wakeup`` with that token and the awaited channels: its
   fd turns readable once the word differs from the token, which it does
   after any send, receive, close or poison in the arena, from any
   interpreter or process. Where the kernel serves io_uring futex waits
   the fd is a ring whose futex wait the loop itself is woken by (C++:
   ring_wakeup.hpp); elsewhere an eventfd that the arena's waker thread
   writes to (async_waker.hpp). If the word has moved already and a channel
   may be ready, arming says so and we try again at once;
4. await the fd's readability and ask the wakeup (``check()``) whether the
   wait is over: it is once one of the awaited channels may be ready (read
   without the lock); a change elsewhere in the arena wakes the loop, not
   the coroutine. Then disarm, go to 1. Under asyncio the loop watches the
   fd from its first wait on (``loop.add_reader`` once, the fd reused by
   the loop's later waits: _WatchedWakeup); under Trio
   ``trio.lowlevel.wait_readable`` at each wait.

Reading the token before the try is what makes this lossless: whatever
happened after the try moved the word past the token.

Cancellation safety follows from where values move: only in the tries,
which run inside the coroutine's own steps, never in a callback or another
thread. A coroutine cancelled while it waits has taken nothing (arecv) or
given nothing (asend); one whose try succeeded returns at once, with no
await in between.

Timeouts raise the built-in TimeoutError, as the sync calls do; a wait
while the process exits raises ProcessExiting.
"""

import asyncio
import math
import os
import sys
import threading
import weakref

from shoal import _shoal


def _wake(future):
    if not future.done():
        future.set_result(None)


class _Asyncio:
    """Waiting on the running asyncio loop, through eventfds it keeps
    watching between waits (_WatchedWakeup)."""

    def __init__(self, loop):
        self.loop = loop

    def now(self):
        return self.loop.time()

    def take(self):
        pool = _loop_pool(self.loop)
        return pool.pop() if pool else _WatchedWakeup(self.loop)

    def give_back(self, waiter):
        waiter.wakeup.disarm()
        waiter.wakeup.drain()
        pool = _loop_pool(self.loop)
        if len(pool) < _MAX_IDLE:
            pool.append(waiter)
        else:
            waiter.close(self.loop)

    async def readable(self, waiter, deadline):
        """Returns once the waiter's fd is readable or `deadline` (now()'s clock) has passed."""
        future = waiter.future = self.loop.create_future()
        timer = None if deadline is None else self.loop.call_at(deadline, _wake, future)
        try:
            await future
        finally:
            waiter.future = None
            if timer is not None:
                timer.cancel()


class _WatchedWakeup:
    """A _Wakeup whose eventfd one asyncio loop watches from its first wait
    on (loop.add_reader once, not at every wait: two epoll_ctl calls and the
    selector's bookkeeping, a sixth of a ping-pong's round trip here). The
    fd is readable only while armed and fired (it is drained before reuse),
    so the reader's callback runs only when a wait may be due to end; it
    reads what made the fd readable (check()), always, or the loop would
    see it readable again at once."""

    __slots__ = ("wakeup", "future")

    def __init__(self, loop):
        self.wakeup = _shoal._Wakeup()
        self.future = None  # the current wait's, set by _Asyncio.readable
        try:
            loop.add_reader(self.wakeup.fileno(), self._readable)
        except BaseException:
            self.wakeup.close()
            raise

    def _readable(self):
        if not self.wakeup.check():
            return  # a change elsewhere in the arena: the wait goes on
        future = self.future
        if future is not None and not future.done():
            future.set_result(None)

    def close(self, loop):
        loop.remove_reader(self.wakeup.fileno())  # first: the fd number may be reused once closed
        self.wakeup.close()


class _Trio:
    """Waiting in the running Trio run (which registers the fd at each wait)."""

    def __init__(self, trio):
        self.trio = trio

    def now(self):
        return self.trio.current_time()

    def take(self):
        pool = _thread_pool()
        return _TrioWaiter(pool.pop() if pool else _shoal._Wakeup())

    def give_back(self, waiter):
        wakeup = waiter.wakeup
        wakeup.disarm()
        wakeup.drain()
        pool = _thread_pool()
        if len(pool) < _MAX_IDLE:
            pool.append(wakeup)
        else:
            wakeup.close()

    async def readable(self, waiter, deadline):
        with self.trio.move_on_at(math.inf if deadline is None else deadline):
            while True:
                await self.trio.lowlevel.wait_readable(waiter.wakeup.fileno())
                if waiter.wakeup.check():
                    return


class _TrioWaiter:
    __slots__ = ("wakeup",)

    def __init__(self, wakeup):
        self.wakeup = wakeup


def _running_loop():
    try:
        return _Asyncio(asyncio.get_running_loop())
    except RuntimeError:
        pass
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            trio.lowlevel.current_trio_token()
            return _Trio(trio)
        except RuntimeError:
            pass
    raise RuntimeError("awaiting a shoal.Channel needs a running asyncio event loop or Trio run")


def _deadline(loop, timeout):
    if timeout is None:
        return None
    seconds = float(timeout)
    if seconds != seconds or seconds < 0:
        raise ValueError(f"timeout must be None or a number of seconds >= 0, got {timeout!r}")
    return loop.now() + seconds


# Idle wakeups, reused so that a wait costs no eventfd() and close(): per
# asyncio loop (their fds stay watched by it), or per thread under Trio.
# Per process: a fork() child shares its parent's eventfds, and one's drain
# could swallow the other's wake-up; the child closes its copies (without
# remove_reader: an inherited loop's epoll set is the parent's too).
_idle = threading.local()
_MAX_IDLE = 8


def _process_pools():
    if getattr(_idle, "pid", None) != os.getpid():
        for wakeup in getattr(_idle, "wakeups", ()):
            wakeup.close()
        for pool in getattr(_idle, "loops", {}).values():
            for waiter in pool:
                waiter.wakeup.close()
        _idle.pid, _idle.wakeups, _idle.loops = os.getpid(), [], weakref.WeakKeyDictionary()
    return _idle


def _thread_pool():
    return _process_pools().wakeups


def _loop_pool(loop):
    """The idle _WatchedWakeups of `loop`: gone with the loop (a weak key),
    their eventfds closed then."""
    loops = _process_pools().loops
    try:
        return loops.setdefault(loop, [])
    except TypeError:  # a loop that cannot be weakly referenced: no reuse
        return []


async def _until_done(channels, sending, attempt, not_yet, timeout, what):
    """attempt() until it does not raise `not_yet`, waiting on the loop between tries."""
    loop = _running_loop()
    deadline = _deadline(loop, timeout)
    waiter = None
    try:
        while True:
            token = channels[0]._activity()  # before the try: see the module's docstring
            try:
                return attempt()
            except not_yet:
                pass
            if deadline is not None and loop.now() >= deadline:
                raise TimeoutError(f"{what}() timed out after {timeout:g} s")
            if waiter is None:
                waiter = loop.take()
            if waiter.wakeup.arm(token, channels, sending):
                try:
                    await loop.readable(waiter, deadline)
                finally:
                    waiter.wakeup.disarm()
                waiter.wakeup.drain()
    finally:
        if waiter is not None:
            loop.give_back(waiter)


async def arecv(channel, timeout=None):
    return await _until_done((channel,), False, channel.try_recv, _shoal.Empty, timeout, "Channel.arecv")


async def asend(channel, obj, timeout=None):
    # Each try freezes obj anew (a failed try leaves nothing allocated).
    return await _until_done((channel,), True, lambda: channel.try_send(obj), _shoal.Full, timeout, "Channel.asend")


async def anext(channel):
    """The next value for ``async for``: StopAsyncIteration once closed and drained."""
    try:
        return await arecv(channel)
    except _shoal.ChannelPoisoned:
        raise  # an abrupt end is not a normal one
    except _shoal.ChannelClosed:
        raise StopAsyncIteration from None


async def aselect(*channels, timeout=None):
    """select(), awaited: (channel, value) from whichever channel has a value first.

    As shoal.select: fair, channels of one arena, a channel found closed and
    drained or poisoned raised with ``.channel`` set; TimeoutError after
    `timeout` seconds. Cancelled, it has taken nothing.
    """
    if not channels:
        raise ValueError("aselect() needs at least one channel")
    for i, channel in enumerate(channels):
        if not isinstance(channel, _shoal.Channel):
            raise TypeError(f"aselect() takes shoal.Channel objects, got {type(channel).__name__} at position {i}")

    def attempt():
        return _shoal.select(*channels, timeout=0)

    return await _until_done(channels, False, attempt, TimeoutError, timeout, "aselect")
