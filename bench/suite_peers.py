"""The peers shoal is measured beside: their names in the tables, which of
them this run has (Env), and Ray's consumer actor."""

import os
import platform

from suite_common import GiB, log


class Unavailable(Exception):
    """A peer that cannot run here; the message is the table's row."""


PEERS = {
    "shoal": "shoal.Channel",
    "shoal_poll": "shoal.Channel (receiver busy-polls try_recv, like iceoryx2's row)",
    "shoal_free": "shoal.Channel, CPUs not pinned (the kernel places both)",
    "xiq": "CPython cross-interpreter queue (copies each item)",
    "xiq_spin": "CPython cross-interpreter queue (busy poll)",
    "ipe": "InterpreterPoolExecutor",
    "tq": "threads + queue.Queue (no copy, one GIL)",
    "mpq": "multiprocessing.Queue",
    "pipe": "multiprocessing.Pipe",
    "shm": "multiprocessing.shared_memory (name passed by hand)",
    "ppe": "ProcessPoolExecutor",
    "ray": "Ray object store (ray.put / ray.get)",
    "iox": "iceoryx2 publish/subscribe (receiver busy-polls)",
    "iox_ev": "iceoryx2 publish/subscribe + event (receiver sleeps)",
}

PICKLING = ("xiq", "mpq", "ppe", "ipe")


class Env:
    """What this run has: the spawn context, versions, Ray, options."""

    def __init__(self, args):
        import multiprocessing as mp
        self.args = args
        self.quick = args.quick
        self.mp = mp.get_context("spawn")
        self.versions = {}
        self.missing = {}
        self._ray = None
        self.ray_skip = None
        for mod, pkg in (("numpy", "numpy"), ("ray", "ray"), ("iceoryx2", "iceoryx2"), ("matplotlib", "matplotlib")):
            try:
                from importlib.metadata import version
                __import__(mod)
                self.versions[pkg] = version(pkg)
            except Exception as e:
                self.missing[pkg] = f"not installed ({type(e).__name__}: {str(e)[:80]})"
        if self.quick:
            self.ray_skip = "skipped in --quick (Ray takes long to start)"

    def need(self, kind, where):
        if self.args.peers and kind not in self.args.peers.split(","):
            raise Unavailable("not selected (--peers)")
        if kind == "ipe":
            import concurrent.futures as cf
            if not hasattr(cf, "InterpreterPoolExecutor"):
                raise Unavailable(f"not in this Python ({platform.python_version()}; new in 3.14)")
        if kind in ("xiq", "xiq_spin"):
            try:
                import test.support.interpreters.queues  # noqa: F401
            except ImportError as e:
                raise Unavailable(f"not in this Python ({e})")
        if kind == "ray":
            if "ray" in self.missing:
                raise Unavailable("ray " + self.missing["ray"])
            if self.ray_skip:
                raise Unavailable(self.ray_skip)
        if kind.startswith("iox") and "iceoryx2" in self.missing:
            raise Unavailable("iceoryx2 " + self.missing["iceoryx2"])

    def ray(self):
        if self._ray is None:
            import ray
            log("  starting Ray (local, 2 CPUs) ...")
            os.environ.setdefault("RAY_DISABLE_IMPORT_WARNING", "1")
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                     object_store_memory=3 * GiB, configure_logging=False)
            self._ray = ray
        return self._ray

    def stop_ray(self):
        """Ray's idle daemons take about 4% of a core here (measured with
        every process's CPU time over 10 s: 5.9% of one core with Ray up,
        2.1% after shutdown), which the next scenarios would pay for, the
        2-worker compute most: each scenario that uses Ray stops it after."""
        if self._ray is not None:
            log("  stopping Ray ...")
            self._ray.shutdown()
            self._ray = None


def ray_consumer_class(ray):
    """Defined in a function so that Ray ships it by value."""
    @ray.remote(num_cpus=0)
    class Consumer:
        def take(self, refs):
            import time as _t
            obj = ray.get(refs[0])
            t1 = _t.perf_counter()
            mv = memoryview(obj).cast("B")
            a = _t.perf_counter()
            s = 0
            for i in range(0, mv.nbytes, 4096):
                s += mv[i]
            b = _t.perf_counter()
            return t1, b - a, (type(obj).__name__, mv.nbytes, s), b

        def echo(self, x):
            return x

        def ready(self):
            return True
    return Consumer


def label(kind):
    return PEERS[kind]
