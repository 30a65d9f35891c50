#!/usr/bin/env bash
# demo.sh — installs everything (scripts/setup.sh), then runs the demo:
# a zero-copy hand-off of 256 MiB between processes through an arena with
# an embedded broker, and a holder killed with SIGKILL whose memory the
# broker reclaims.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/setup.sh" >/dev/null
printf '\n'
exec "$root/build/examples/arena_demo"
