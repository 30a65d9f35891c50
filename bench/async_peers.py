"""The two ends of bench/async_bench.py's ping-pong, one pair per row.

Every row is a pinger (in the bench's main thread, on its own asyncio loop)
and an echo on another event loop: in another process, another
subinterpreter or another thread. The pinger sends a small int and awaits
its echo; a round trip is timed from before the send to after the echo's
receive (time.perf_counter_ns).

The echoes here are what runs on the far side; each ends when told to
(a closed channel, a None on a queue, a None in a mailbox). This module is
imported in isolated subinterpreters too: it imports nothing they cannot
(multiprocessing only where a process row needs it).
"""

import asyncio
import collections
import pickle
import time

now_ns = time.perf_counter_ns


async def ping_pong(send, recv, trips, warmup):
    """`warmup` untimed round trips, then `trips` timed ones: their round trip
    times in ns. send(i) and recv() are coroutines; the echo must return i."""
    for i in range(warmup):
        await send(i)
        if await recv() != i:
            raise RuntimeError("the echo returned another value")
    rtts = []
    for i in range(trips):
        t0 = now_ns()
        await send(i)
        got = await recv()
        rtts.append(now_ns() - t0)
        if got != i:
            raise RuntimeError(f"the echo returned {got!r} for {i!r}")
    return rtts


# ------------------------------------------------ shoal: arecv / asend ----

async def _shoal_echo(inbox, outbox):
    async for value in inbox:  # ends when the pinger closes inbox
        await outbox.asend(value)


def shoal_echo(inbox, outbox):
    """The echo of the shoal rows: a subinterpreter's Task runs it as is."""
    asyncio.run(_shoal_echo(inbox, outbox))


def shoal_echo_pickled(ticket):
    """The same in a spawned process: the channels pickled by reference."""
    shoal_echo(*pickle.loads(ticket))


# -------------------------- asyncio.to_thread(queue.get), two threads ----

def thread_queue_echo(inbox, outbox):
    """A thread's event loop: each get in asyncio.to_thread's worker thread."""
    async def main():
        while (value := await asyncio.to_thread(inbox.get)) is not None:
            outbox.put(value)

    asyncio.run(main())


# ------------ loop.run_in_executor(multiprocessing.Queue.get), processes ----

def mp_queue_echo(inbox, outbox):
    """A spawned process's event loop: each get in the loop's default executor."""
    async def main():
        loop = asyncio.get_running_loop()
        while (value := await loop.run_in_executor(None, inbox.get)) is not None:
            outbox.put(value)

    asyncio.run(main())


# --------------------- the floor: call_soon_threadsafe between two loops ----

class Mailbox:
    """Values handed to a coroutine on `loop` from any thread, through
    loop.call_soon_threadsafe alone: what waking another thread's event loop
    costs, with nothing else in the way."""

    def __init__(self, loop):
        self.loop = loop
        self.values = collections.deque()
        self.waiter = None

    def put(self, value):  # any thread
        self.loop.call_soon_threadsafe(self._deliver, value)

    def _deliver(self, value):  # on self.loop
        self.values.append(value)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def get(self):  # on self.loop
        while not self.values:
            self.waiter = self.loop.create_future()
            await self.waiter
            self.waiter = None
        return self.values.popleft()


def floor_echo(outbox, ready):
    """A thread's event loop echoing into `outbox` (the pinger's Mailbox);
    ready(inbox) is called from this thread with its own once its loop runs."""
    async def main():
        inbox = Mailbox(asyncio.get_running_loop())
        ready(inbox)
        while (value := await inbox.get()) is not None:
            outbox.put(value)

    asyncio.run(main())
