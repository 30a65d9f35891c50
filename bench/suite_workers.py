"""Starting the suite's workers and hearing from them: a worker is an
isolated subinterpreter, a process or a thread, each running
workloads.run(spec) and reporting on a shoal.Channel (`res`)."""

import os
import pickle
import threading
import time

import workloads
from suite_common import log

HERE = os.path.dirname(os.path.abspath(__file__))


class SubinterpWorkers:
    SRC = ("import sys; sys.path.insert(0, {here!r})\n"
           "import workloads\n"
           "workloads.run({spec!r})\n")

    def __init__(self, specs):
        import _interpreters
        self.low = _interpreters
        self.failures = []
        self.interps = [_interpreters.create("isolated") for _ in specs]
        srcs = [self.SRC.format(here=HERE, spec=pickle.dumps(s)) for s in specs]

        def go(i, src):
            f = _interpreters.exec(i, src)
            if f is not None:
                self.failures.append(f.errdisplay)
        self.threads = [threading.Thread(target=go, args=(i, s), daemon=True)
                        for i, s in zip(self.interps, srcs)]
        for t in self.threads:
            t.start()

    def alive(self):
        return not self.failures

    def join(self):
        for t in self.threads:
            t.join(60)
        for t, i in zip(self.threads, self.interps):
            if t.is_alive():
                # still running (a worker stuck after a failure): destroying it
                # would fail, and the process could crash at exit; leave it
                log("  (a subinterpreter is still running: left alive, not destroyed)")
                continue
            try:
                self.low.destroy(i)
            except Exception as e:
                log(f"  (destroying a subinterpreter: {e})")


class ProcessWorkers:
    def __init__(self, specs):
        import multiprocessing as mp
        ctx = mp.get_context("spawn")
        self.procs = [ctx.Process(target=workloads.run, args=(s,), daemon=True) for s in specs]
        for p in self.procs:
            p.start()

    def alive(self):
        return all(p.exitcode in (None, 0) for p in self.procs)

    def join(self):
        for p in self.procs:
            p.join(60)
            if p.is_alive():
                p.kill()


class ThreadWorkers:
    def __init__(self, specs):
        self.threads = [threading.Thread(target=workloads.run, args=(s,), daemon=True) for s in specs]
        for t in self.threads:
            t.start()

    def alive(self):
        return True

    def join(self):
        for t in self.threads:
            t.join(60)


def start(where, specs):
    return {"interp": SubinterpWorkers, "proc": ProcessWorkers, "thread": ThreadWorkers}[where](specs)


TIMEOUT_SCALE = [1.0]     # --quick: a stuck peer fails its row in seconds, not minutes


def wait_res(res, workers, timeout=300.0):
    timeout = max(30.0, timeout * TIMEOUT_SCALE[0]) if TIMEOUT_SCALE[0] < 1 else timeout
    deadline = time.monotonic() + timeout
    while True:
        try:
            m = res.recv(timeout=1.0)
        except TimeoutError:
            if not workers.alive():
                fails = getattr(workers, "failures", [])
                raise RuntimeError("a worker died" + (": " + fails[0][-300:] if fails else ""))
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out after {timeout:.0f} s")
            continue
        if m[0] == "error":
            raise RuntimeError(f"{m[1]}: {m[2]}")
        return m


def collect(res, workers, n, timeout=300.0):
    return [wait_res(res, workers, timeout) for _ in range(n)]
