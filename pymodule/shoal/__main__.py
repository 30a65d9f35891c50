"""``python -m shoal ARGS``: runs the ``shoal`` CLI (``shoal ls``, ``shoal stat NAME``, ...).

The CLI is a C++ executable that pip installs beside this package, in the
environment's scripts directory. This finds it there (where this Python's
pip put it), next to the interpreter, or on PATH, and replaces this process
with it, so its exit status and signals are the CLI's own.
"""

import os
import shutil
import sys
import sysconfig


def find_cli():
    """The path of the ``shoal`` executable, or None."""
    places = [sysconfig.get_path("scripts"), os.path.dirname(sys.executable)]
    for place in places:
        candidate = os.path.join(place, "shoal") if place else None
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("shoal")


def main():
    cli = find_cli()
    if cli is None:
        print(
            "shoal: the shoal executable was not found (looked in "
            f"{sysconfig.get_path('scripts')}, next to {sys.executable}, and on PATH); "
            "it is installed with the package (pip install shoal)",
            file=sys.stderr,
        )
        return 1
    os.execv(cli, ["shoal", *sys.argv[1:]])
    return 1  # not reached: execv replaces the process or raises


if __name__ == "__main__":
    sys.exit(main())
