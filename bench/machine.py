"""What the benchmarks read of the machine itself: a process and its
descendants (/proc), for memory (PSS) and CPU use over a whole tree of
workers; and bench/floors.c, the C floors measured in the same run."""

import atexit
import os
import shutil
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
_floors = []  # the built floors executable, once built


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
