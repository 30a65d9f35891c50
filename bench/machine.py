"""What the benchmarks read of the machine itself: what it is (for a
report's header), a process and its descendants (/proc), for memory (PSS)
and CPU use over a whole tree of workers; and bench/floors.c, the C floors
measured in the same run."""

import atexit
import os
import platform
import shutil
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_floors = []  # the built floors executable, once built


def describe():
    """The machine a report was measured on: CPU model, cores, Python,
    platform, load average at the start and the date (UTC)."""
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "load_start": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def git_head(tree):
    """The short commit `tree` is at, or None (not a git tree, no git)."""
    try:
        return subprocess.run(["git", "-C", tree, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def tree_pids(root=None):
    """The pids of `root` (default: this process) and all its descendants."""
    root = root or os.getpid()
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    parent[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass  # gone meanwhile
    tree, grew = {root}, True
    while grew:
        grew = False
        for p, pp in parent.items():
            if pp in tree and p not in tree:
                tree.add(p)
                grew = True
    return tree


def cpu_busy_fraction(window_s):
    """The share of all CPUs' time spent busy over `window_s` (/proc/stat:
    idle and iowait count as idle), or None where there is no /proc/stat."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + (v[4] if len(v) > 4 else 0)
    try:
        t0, i0 = sample()
        time.sleep(window_s)
        t1, i1 = sample()
    except OSError:
        return None
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def tree_pss(root=None):
    """(PSS bytes, process count) of `root` (default: this process) and all
    its descendants: each shared page counted once in total, whatever the
    number of processes mapping it."""
    pids = tree_pids(root or os.getpid())
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            pass  # gone meanwhile
    return total, len(pids)


def build_floors():
    """Builds bench/floors.c (cc -O2 -pthread) into a folder removed at
    exit, once per process; its path, or None without a C compiler."""
    if _floors:
        return _floors[0]
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return None
    d = tempfile.mkdtemp(prefix="shoal-floors-")
    atexit.register(shutil.rmtree, d, True)
    exe = os.path.join(d, "floors")
    subprocess.run([cc, "-O2", "-pthread", "-o", exe, os.path.join(HERE, "floors.c")], check=True,
                   capture_output=True, text=True)
    _floors.append(exe)
    return exe
