"""The worker side of bench/suite.py: every function a worker runs, for every
peer, in one importable module.

Workers are isolated subinterpreters (started with `_interpreters`), spawned
processes, threads, ProcessPoolExecutor workers, Ray actors. Functions cross
by reference (module + name), so they live here, not in suite.py. The top
level imports only the standard library and shoal: isolated subinterpreters
cannot import NumPy, so NumPy is imported inside functions, only where the
spec says it is importable.

A worker gets one spec (a dict, pickled for subinterpreters) naming its role,
its peer ("kind"), the peer's endpoint(s), a control channel (`ctl`, driver ->
worker) and a result channel (`res`, worker -> driver). Control and results
always travel on shoal channels, whatever the peer measured; only the data
path under test uses the peer.
"""

import os
import pickle
import sys
import time

PAGE = 4096
STOP = -1
SETTLE_S = 0.002   # a producer's pause between being told to send and sending


def now():
    return time.perf_counter()    # CLOCK_MONOTONIC: one clock for every process


def touch(mv, n):
    """Reads one byte per 4 KiB page, so lazily mapped pages are paid for."""
    s = 0
    for i in range(0, n, PAGE):
        s += mv[i]
    return s


def pin(spec):
    """Keeps this thread on spec["cpu"] when the driver chose one: a transfer's
    producer and consumer each get a CPU of their own, so every hand-off
    crosses cores, at every size and for every peer alike."""
    if spec.get("cpu") is not None:
        os.sched_setaffinity(0, {spec["cpu"]})


def current_cpu():
    """The CPU this thread last ran on (field 39 of /proc/thread-self/stat;
    Python has no sched_getcpu). Read outside timed regions: a file read."""
    with open("/proc/thread-self/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return int(fields[36])


def as_bytes(obj):
    mv = memoryview(obj)
    return mv if (mv.format == "B" and mv.ndim == 1) else mv.cast("B")


def fill_bytes(mv, nbytes):
    """Writes 1.0 as float64 over nbytes of a byte memoryview, in big pieces
    (no NumPy in isolated subinterpreters)."""
    piece = bytes(b"\x00\x00\x00\x00\x00\x00\xf0\x3f") * min(max(nbytes // 8, 1), 1 << 18)
    for off in range(0, nbytes, len(piece)):
        n = min(len(piece), nbytes - off)
        mv[off:off + n] = piece[:n]


# ------------------------------------------------------------- iceoryx2

class Iox:
    """One iceoryx2 node with publish/subscribe of a byte slice or a u64."""

    def __init__(self):
        import iceoryx2 as iox2
        self.iox2 = iox2
        iox2.set_log_level_from_env_or(iox2.LogLevel.Warn)
        self.node = iox2.NodeBuilder.new().create(iox2.ServiceType.Ipc)

    def service(self, name, slice_, subscribers=1, publishers=1):
        import ctypes
        iox2 = self.iox2
        t = iox2.Slice[ctypes.c_uint8] if slice_ else ctypes.c_uint64
        return (self.node.service_builder(iox2.ServiceName.new(name))
                .publish_subscribe(t)
                .max_publishers(publishers)
                .max_subscribers(subscribers)
                .subscriber_max_buffer_size(4)
                .history_size(0)
                .enable_safe_overflow(False)      # a queue: nothing dropped, the publisher waits
                .open_or_create())

    def publisher(self, name, slice_, subscribers=1, publishers=1):
        svc = self.service(name, slice_, subscribers, publishers)
        b = svc.publisher_builder().backpressure_strategy(self.iox2.BackpressureStrategy.RetryUntilDelivered)
        if slice_:
            b = b.initial_max_slice_len(4096).allocation_strategy(self.iox2.AllocationStrategy.PowerOfTwo)
        return b.create()

    def subscriber(self, name, slice_, subscribers=1, publishers=1):
        return self.service(name, slice_, subscribers, publishers).subscriber_builder().create()

    def event(self, name):
        return self.node.service_builder(self.iox2.ServiceName.new(name + "-ev")).event().open_or_create()

    def notifier(self, name):
        """Wakes the other side's listener (kind "iox_ev"), sent after each sample."""
        return self.event(name).notifier_builder().create()

    def listener(self, name):
        return self.event(name).listener_builder().create()

    def receive(self, sub, deadline=60.0, listener=None):
        """The next sample: busy-polling, or sleeping on `listener` between
        polls (iceoryx2's event-driven way to wait)."""
        end = time.monotonic() + deadline
        tick = self.iox2.Duration.from_millis(100) if listener is not None else None
        while True:
            s = sub.receive()
            if s is not None:
                return s
            if time.monotonic() > end:
                raise TimeoutError("iceoryx2: nothing received")
            if listener is not None:
                listener.timed_wait(tick)


def iox_send_u64(pub, value):
    import ctypes
    pub.send_copy(ctypes.c_uint64(value & 0xFFFFFFFFFFFFFFFF))


def iox_recv_u64(iox, sub, listener=None):
    s = iox.receive(sub, 60.0, listener)
    v = s.payload().contents.value
    del s
    return -1 if v == 0xFFFFFFFFFFFFFFFF else v


# ------------------------------------------------------------- endpoints

def small_ops(kind, spec, side):
    """(send, recv) of small values for one side of a peer; side 0 sends on
    `ep` and receives on `ep2`, side 1 the reverse where the peer has two."""
    ep, ep2 = spec["ep"], spec.get("ep2", spec["ep"])
    if kind in ("shoal", "tq", "mpq"):
        a, b = (ep, ep2)
        snd = a.send if kind == "shoal" else a.put
        rcv = b.recv if kind == "shoal" else b.get
        return snd, rcv
    if kind in ("xiq", "xiq_spin"):
        delay = 0.0 if kind == "xiq_spin" else 10 / 1000     # CPython's default poll
        return ep.put, (lambda: ep2.get(_delay=delay))
    if kind == "pipe":
        conn = ep[side]
        return conn.send, conn.recv
    if kind in ("iox", "iox_ev"):
        iox = spec.setdefault("_iox", Iox())
        pub = iox.publisher(ep, False, spec.get("nsub", 1), spec.get("npub", 1))
        sub = iox.subscriber(ep2, False, spec.get("nsub", 1), spec.get("npub", 1))
        if kind == "iox":
            spec["_keep"] = (pub, sub)
            return (lambda v: iox_send_u64(pub, v)), (lambda: iox_recv_u64(iox, sub))
        notifier, listener = iox.notifier(ep), iox.listener(ep2)
        spec["_keep"] = (pub, sub, notifier, listener)

        def send(v):
            iox_send_u64(pub, v)
            notifier.notify()
        return send, (lambda: iox_recv_u64(iox, sub, listener))
    raise ValueError(kind)


# ------------------------------------------------------------- roles

def run(spec):
    """Entry point of every worker (subinterpreter, process or thread)."""
    if isinstance(spec, bytes):
        spec = pickle.loads(spec)
    res = spec["res"]
    try:
        ROLES[spec["role"]](spec)
    except BaseException as e:  # reported, never silent
        try:
            res.send(("error", spec["role"], f"{type(e).__name__}: {e}"))
        except Exception:
            pass
        if not isinstance(e, Exception):
            raise
    finally:
        if spec.get("kind") == "pipe" and spec.get("borrowed_fds"):
            for c in spec["ep"]:
                c._handle = None   # the main interpreter owns these fds


def make_payload(spec, nbytes):
    """The array to send, made the way a user of this peer would make it.
    Returns (object to send, keep-alive). spec["arena"] names an arena of
    its own to make shoal buffers in (fan-out measures its memory)."""
    kind, numpy_ok = spec["kind"], spec["numpy"]
    n = nbytes // 8
    if kind in ("shoal", "shoal_poll"):
        import shoal
        if spec.get("arena"):
            if "_arena" not in spec:
                spec["_arena"] = shoal.Arena.attach(spec["arena"])
            buf = spec["_arena"].empty((n,), dtype="float64")
        else:
            buf = shoal.empty((n,), dtype="float64")
        if numpy_ok:
            import numpy as np
            np.asarray(buf)[:] = 1.0
        else:
            fill_bytes(as_bytes(buf), nbytes)
        return buf, None
    if kind == "shm":
        from multiprocessing import shared_memory
        import numpy as np
        shm = shared_memory.SharedMemory(create=True, size=nbytes)
        np.ndarray((n,), dtype="float64", buffer=shm.buf)[:] = 1.0
        return (shm.name, nbytes), shm
    if numpy_ok:
        import numpy as np
        return np.full(n, 1.0), None
    return bytes(b"\x00\x00\x00\x00\x00\x00\xf0\x3f") * n, None   # no NumPy here: the same bytes


def warm_up(spec):
    """Imports what receiving will need now, so that a memory measurement
    taken after ("ready",) sees the payload, not a late import of NumPy."""
    if spec["numpy"]:
        import numpy  # noqa: F401
    if spec["kind"] == "shm":
        from multiprocessing import shared_memory  # noqa: F401
    if spec.get("announce"):
        spec["res"].send(("ready",))


def role_producer(spec):
    """Transfer: on ("send", nbytes[, write_first]) makes an array and sends
    it; reports the time taken just before the send and its CPU."""
    kind, ctl, res = spec["kind"], spec["ctl"], spec["res"]
    ep = spec["ep"]
    iox_pub = notifier = None
    held = []
    if kind in ("iox", "iox_ev"):
        spec["_iox"] = Iox()
        iox_pub = spec["_iox"].publisher(ep, True, spec.get("nsub", 1))
        if kind == "iox_ev":
            notifier = spec["_iox"].notifier(ep)
    pin(spec)
    warm_up(spec)
    while True:
        cmd = ctl.recv()
        if cmd[0] == "stop":
            break
        if cmd[0] == "release":
            for h in held:
                h.close()
                h.unlink()
            held.clear()
            res.send(("released",))
            continue
        nbytes = cmd[1]
        # ("send", nbytes, write_first): make and fill an array of
        # write_first bytes first, exactly as for sending one that size,
        # and hold it while sending the nbytes one: the same machine state
        # before the send, only the size sent differs.
        write_first = cmd[2] if len(cmd) > 2 else 0
        # Let the driver's wake-up of this process finish first: on 2 cores
        # its futex wake still runs on one when we start, a third runnable
        # beside this producer and a busy-polling consumer.
        time.sleep(SETTLE_S)
        if kind in ("iox", "iox_ev"):
            import numpy as np
            sample = iox_pub.loan_slice_uninit(nbytes)
            view = sample.payload().as_memory_view()
            np.frombuffer(view, dtype="float64")[:] = 1.0    # made in place, in the loan
            del view
            sample = sample.assume_init()
            t0 = now()
            sample.send()
            if notifier is not None:
                notifier.notify()
            del sample
            res.send(("p", t0, current_cpu()))
            continue
        # The last one's scratch array goes now, not while its hand-off ran:
        # freeing takes the lock the consumer's receive takes.
        scratch = None
        scratch = make_payload(spec, write_first) if write_first else None
        if scratch is not None and scratch[1] is not None:
            held.append(scratch[1])
        payload, keep = make_payload(spec, nbytes)
        if keep is not None:
            held.append(keep)
        t0 = now()
        if isinstance(ep, list):            # fan-out: one endpoint per consumer
            for e in ep:
                (e.send if kind == "shoal" else e.put)(payload)
        elif kind in ("shoal", "shoal_poll"):
            ep.send(payload)
        elif kind in ("xiq", "xiq_spin"):
            ep.put(payload)
        else:
            ep.put(payload)
        del payload
        res.send(("p", t0, current_cpu()))


def poll_shoal(channel, deadline=60.0):
    """The next item of `channel`, busy-polling try_recv(): the waiting of
    iceoryx2's busy-polling receiver, for a like-for-like row."""
    import shoal
    end = time.monotonic() + deadline
    while True:
        try:
            return channel.try_recv()
        except shoal.Empty:
            if time.monotonic() > end:
                raise TimeoutError("shoal: nothing received") from None


def role_consumer(spec):
    """Transfer and fan-out: on ("recv",) receives one array, reads one byte
    per page, reports (time it had the array, touch time, bytes, type). With
    spec["hold"] it keeps the array until ("drop",)."""
    kind, ctl, res = spec["kind"], spec["ctl"], spec["res"]
    ep = spec["ep"]
    iox_sub = listener = None
    if kind in ("iox", "iox_ev"):
        spec["_iox"] = Iox()
        iox_sub = spec["_iox"].subscriber(ep, True, spec.get("nsub", 1))
        if kind == "iox_ev":
            listener = spec["_iox"].listener(ep)
    pin(spec)
    warm_up(spec)
    while True:
        cmd = ctl.recv()
        if cmd[0] == "stop":
            break
        if cmd[0] == "drop":
            spec.pop("_held", None)
            res.send(("dropped",))
            continue
        shm = None
        if kind in ("iox", "iox_ev"):
            sample = spec["_iox"].receive(iox_sub, 300, listener)
            obj = sample.payload().as_memory_view()
            if spec["numpy"]:        # holding the array, as shoal's and shm's rows do
                import numpy as np
                obj = np.frombuffer(obj, dtype="float64")
            t1 = now()
            keep = sample
        elif kind == "shm":
            from multiprocessing import shared_memory
            name, nbytes = ep.get()
            shm = shared_memory.SharedMemory(name=name, track=False)
            import numpy as np
            obj = np.ndarray((nbytes // 8,), dtype="float64", buffer=shm.buf)
            t1 = now()
            keep = shm
        else:
            if kind == "shoal":
                obj = ep.recv()
            elif kind == "shoal_poll":             # waits as iceoryx2's busy-polling row does
                obj = poll_shoal(ep)
            elif kind in ("xiq", "xiq_spin"):
                obj = ep.get(_delay=0.0 if kind == "xiq_spin" else 0.010)
            else:
                obj = ep.get()
            t1 = now()
            keep = None
        cpu = current_cpu()       # where it received (between the two timed parts)
        mv = as_bytes(obj)
        a = now()
        s = touch(mv, mv.nbytes)
        b = now()
        info = (type(obj).__name__, mv.nbytes, s)
        res.send(("c", t1, b - a, info, b, cpu))
        if spec.get("hold"):
            spec["_held"] = (obj, keep)
        del mv, obj, keep
        if shm is not None and not spec.get("hold"):
            shm.close()


def role_ping(spec):
    send, recv = small_ops(spec["kind"], spec, 0)
    n, warm = spec["ctl"].recv()[1:3]
    lat = []
    for i in range(n + warm):
        a = now()
        send(i)
        x = recv()
        b = now()
        if x != i:
            raise RuntimeError(f"ping got {x} for {i}")
        if i >= warm:
            lat.append(b - a)
    send(STOP)
    spec["res"].send(("lat", lat))


def role_pong(spec):
    send, recv = small_ops(spec["kind"], spec, 1)
    spec["res"].send(("ready",))
    while True:
        x = recv()
        if x == STOP:
            break
        send(x)


def role_tp_producer(spec):
    """Throughput: sends `count` small ints, then one STOP per consumer
    divided among the producers."""
    send, _ = small_ops(spec["kind"], spec, 0)
    spec["res"].send(("ready",))
    cmd = spec["ctl"].recv()
    count, stops = cmd[1], cmd[2]
    t0 = now()
    for i in range(count):
        send(i)
    for _ in range(stops):
        send(STOP)
    spec["res"].send(("tp_p", t0, now()))


def role_tp_consumer(spec):
    _, recv = small_ops(spec["kind"], spec, 1)
    spec["res"].send(("ready",))
    stops_needed = spec["stops"]
    got = 0
    while True:
        x = recv()
        if x == STOP:
            stops_needed -= 1
            if stops_needed == 0:
                break
            continue
        got += 1
    spec["res"].send(("tp_c", now(), got))


def role_compute(spec):
    """Parallel compute over a shared shoal array: on ("work", buf, lo, hi)
    sums squares of buf[lo:hi] (float64 elements) in pure Python."""
    ctl, res = spec["ctl"], spec["res"]
    while True:
        cmd = ctl.recv()
        if cmd[0] == "stop":
            break
        _, buf, lo, hi = cmd
        res.send(("sum", sum_squares(memoryview(buf).cast("B").cast("d")[lo:hi])))


ROLES = {
    "producer": role_producer,
    "consumer": role_consumer,
    "ping": role_ping,
    "pong": role_pong,
    "tp_producer": role_tp_producer,
    "tp_consumer": role_tp_consumer,
    "compute": role_compute,
}


# ------------------------------------------------------------- pool functions

def sum_squares(mv):
    """The CPU-bound pure-Python work of one chunk (a memoryview of doubles)."""
    s = 0.0
    for x in mv:
        s += x * x
    return s


def sum_squares_bytes(b):
    return sum_squares(memoryview(b).cast("d"))


def sum_squares_range(buf, lo, hi):
    """For executors handed the whole shared array and a range."""
    return sum_squares(memoryview(buf).cast("B").cast("d")[lo:hi])


def ppe_consume(arr):
    """ProcessPoolExecutor transfer: the argument arrived (unpickled)."""
    t1 = now()
    mv = as_bytes(arr)
    a = now()
    s = touch(mv, mv.nbytes)
    b = now()
    return t1, b - a, (type(arr).__name__, mv.nbytes, s), b


def echo(x):
    return x


def pid(_=None):
    import os
    return os.getpid()


if __name__ == "__main__":
    sys.exit("bench/workloads.py is imported by bench/suite.py; run that")
