#!/usr/bin/env bash
# demo.sh — installs everything (scripts/setup.sh), then runs the demos:
#   1. examples/subinterpreters_demo.py: a 256 MiB array made in the default
#      arena is split, without a copy, across a shoal.SubinterpreterExecutor
#      (isolated subinterpreters working on it in parallel), beside the same
#      work on a ThreadPoolExecutor and a ProcessPoolExecutor;
#   2. examples/arena_demo.cpp: a zero-copy hand-off between processes, and
#      a holder killed with SIGKILL whose memory the broker reclaims.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/setup.sh" >/dev/null
cd "$root"
printf '\n== large arrays between isolated subinterpreters\n'
.venv/bin/python examples/subinterpreters_demo.py
printf '\n== processes, and a holder killed with SIGKILL\n'
build/examples/arena_demo
