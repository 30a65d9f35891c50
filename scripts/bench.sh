#!/usr/bin/env bash
# bench.sh — shoal side by side with what people use today, in one command:
#   1. scripts/setup.sh (Debian packages, .venv, `pip install .`), so the
#      numbers are of the code in this tree; SHOAL_BENCH_NO_SETUP=1 skips it
#      (scripts/test.sh, which has just run it);
#   2. the peers into .venv from PyPI: matplotlib (the plot), iceoryx2 and,
#      except with --quick, Ray. One that cannot be installed is not an
#      error: its rows in the tables say so;
#   3. python bench/suite.py with the arguments given here.
#
#   bash scripts/bench.sh            # full run, < 10 min on 2 cores; rewrites
#                                    # docs/performance.md
#   bash scripts/bench.sh --quick    # one-minute smoke run (CI): results in
#                                    # build/bench-quick/, docs untouched
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

quick=0
for a in "$@"; do [ "$a" = --quick ] && quick=1; done

if [ "${SHOAL_BENCH_NO_SETUP:-0}" != 1 ]; then
  bash "$root/scripts/setup.sh"
fi
# shellcheck disable=SC1091
source .venv/bin/activate

peers=(matplotlib iceoryx2)
[ $quick = 1 ] || peers+=(ray)
printf '\n== bench peers: %s\n' "${peers[*]}"
for p in "${peers[@]}"; do
  python -c "import $p" 2>/dev/null && continue
  if ! python -m pip install -q "$p" >"${TMPDIR:-/tmp}/shoal-bench-pip.log" 2>&1; then
    tail -n 3 "${TMPDIR:-/tmp}/shoal-bench-pip.log"
    echo "bench.sh: could not install $p; its rows will say so"
  fi
done

args=("$@")
[ $quick = 1 ] || args+=(--update-report)
printf '\n== python bench/suite.py %s\n' "${args[*]}"
exec python bench/suite.py "${args[@]}"
