"""Channels awaited: Channel.arecv/asend, ``async for``, shoal.aselect, under
asyncio or Trio (so under anyio's two backends too).

Every operation is a loop of non-blocking tries (``try_recv``, ``try_send``,
``select(timeout=0)``) with a wait in between that the event loop does:

1. read the arena's activity word (``Channel._activity()``), a token;
2. try; done if it worked (an ended channel raises, as the sync calls do);
3. register an eventfd with the arena's waker (``_shoal._Wakeup``, C++:
   async_waker.hpp) with that token: the waker writes to the fd once the
   word differs from the token, which it does after any send, receive,
   close or poison in the arena, from any interpreter or process. If the
   word has moved already, registration says so and we try again at once;
4. await the fd's readability (asyncio: ``loop.add_reader``; Trio:
   ``trio.lowlevel.wait_readable``), unregister, go to 1.

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

from shoal import _shoal


def _wake(future):
    if not future.done():
        future.set_result(None)


class _Asyncio:
    """Waiting on the running asyncio loop."""

    def __init__(self, loop):
        self.loop = loop

    def now(self):
        return self.loop.time()

    async def readable(self, fd, deadline):
        """Returns once `fd` is readable or `deadline` (now()'s clock) has passed."""
        loop = self.loop
        future = loop.create_future()
        loop.add_reader(fd, _wake, future)
        timer = None if deadline is None else loop.call_at(deadline, _wake, future)
        try:
            await future
        finally:
            loop.remove_reader(fd)
            if timer is not None:
                timer.cancel()


class _Trio:
    """Waiting in the running Trio run."""

    def __init__(self, trio):
        self.trio = trio

    def now(self):
        return self.trio.current_time()

    async def readable(self, fd, deadline):
        with self.trio.move_on_at(math.inf if deadline is None else deadline):
            await self.trio.lowlevel.wait_readable(fd)


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


# Idle _Wakeups of this thread (its event loop), disarmed and drained:
# reused, so a wait costs no eventfd() and close() (a third of a ping-pong's
# round trip here). Per process: a fork() child shares its parent's
# eventfds, and one's drain could swallow the other's wake-up.
_idle = threading.local()
_MAX_IDLE = 8


def _pool():
    if getattr(_idle, "pid", None) != os.getpid():
        for inherited in getattr(_idle, "wakeups", ()):
            inherited.close()  # this process's copy of the descriptor
        _idle.pid, _idle.wakeups = os.getpid(), []
    return _idle.wakeups


def _take_wakeup():
    pool = _pool()
    return pool.pop() if pool else _shoal._Wakeup()


def _give_back(wakeup):
    wakeup.disarm()
    wakeup.drain()
    pool = _pool()
    if len(pool) < _MAX_IDLE:
        pool.append(wakeup)
    else:
        wakeup.close()


async def _until_done(channel, attempt, not_yet, timeout, what):
    """attempt() until it does not raise `not_yet`, waiting on the loop between tries."""
    loop = _running_loop()
    deadline = _deadline(loop, timeout)
    wakeup = None
    try:
        while True:
            token = channel._activity()  # before the try: see the module's docstring
            try:
                return attempt()
            except not_yet:
                pass
            if deadline is not None and loop.now() >= deadline:
                raise TimeoutError(f"{what}() timed out after {timeout:g} s")
            if wakeup is None:
                wakeup = _take_wakeup()
            if wakeup.arm(channel, token):
                try:
                    await loop.readable(wakeup.fileno(), deadline)
                finally:
                    wakeup.disarm()
                wakeup.drain()
    finally:
        if wakeup is not None:
            _give_back(wakeup)


async def arecv(channel, timeout=None):
    return await _until_done(channel, channel.try_recv, _shoal.Empty, timeout, "Channel.arecv")


async def asend(channel, obj, timeout=None):
    # Each try freezes obj anew (a failed try leaves nothing allocated).
    return await _until_done(channel, lambda: channel.try_send(obj), _shoal.Full, timeout, "Channel.asend")


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

    return await _until_done(channels[0], attempt, TimeoutError, timeout, "aselect")
