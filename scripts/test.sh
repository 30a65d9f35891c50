#!/usr/bin/env bash
# test.sh — installs everything (scripts/setup.sh), then runs every test:
#   1. the GoogleTest suite through `meson test` (release build in build/);
#   2. the same suite under AddressSanitizer + UndefinedBehaviorSanitizer
#      (build-asan/), and the threaded tests (stress, allocator, channel)
#      under ThreadSanitizer (build-tsan/);
#   3. pytest (tests/python) against the installed package.
# SHOAL_TORTURE_ROUNDS=10000 makes the torture test a long run;
# SHOAL_SKIP_SANITIZERS=1 skips step 2.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/setup.sh"
cd "$root"
# shellcheck disable=SC1091
source .venv/bin/activate

say() { printf '\n== %s\n' "$*"; }

sanitizer_build() {  # dir, meson options...
  local dir=$1
  shift
  [ -f "$dir/build.ninja" ] || meson setup "$dir" -Dbuildtype=debugoptimized -Db_lundef=false "$@" >/dev/null
}

say "C++ tests (meson test)"
meson test -C build --print-errorlogs --num-processes 1

if [ "${SHOAL_SKIP_SANITIZERS:-0}" != 1 ]; then
  say "C++ tests under ASan + UBSan"
  sanitizer_build build-asan -Db_sanitize=address,undefined
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C build-asan --suite cpp --print-errorlogs --num-processes 1

  say "threaded tests under TSan"
  sanitizer_build build-tsan -Db_sanitize=thread
  # ASLR off for this one process tree: older TSan runtimes reject the
  # high-entropy mappings of recent kernels.
  TSAN_OPTIONS=halt_on_error=1 setarch "$(uname -m)" -R \
    meson test -C build-tsan stress allocator channel --print-errorlogs --num-processes 1
fi

say "Python tests (pytest)"
python -m pytest tests/python -q
