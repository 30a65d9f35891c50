#!/usr/bin/env bash
# test.sh — installs everything (scripts/setup.sh), then runs every test:
# the GoogleTest suite through `meson test`, then pytest.
# SHOAL_TORTURE_ROUNDS=10000 makes the torture test a long run.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/setup.sh"
cd "$root"
# shellcheck disable=SC1091
source .venv/bin/activate
printf '\n== C++ tests (meson test)\n'
meson test -C build --print-errorlogs --num-processes 1
printf '\n== Python tests (pytest)\n'
python -m pytest tests/python -q
