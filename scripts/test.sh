#!/usr/bin/env bash
# test.sh — installs everything (scripts/setup.sh), then runs every test:
#   1. the GoogleTest suite through `meson test` (release build in build/);
#   2. the same suite under AddressSanitizer + UndefinedBehaviorSanitizer
#      (build-asan/), and the threaded tests (stress, allocator, channel,
#      channel_csp, channel_ends, recycling, refcount_race, quiescence)
#      under ThreadSanitizer (build-tsan/);
#   3. libFuzzer (clang, ASan + UBSan, build-fuzz/): the frozen-object
#      reader for SHOAL_FUZZ_SECONDS (60 by default) from a seed corpus of
#      real frozen objects, then the arena walker (check + rebuild) for
#      half that, and the array-blob header for a quarter;
#   4. pytest (tests/python) against the installed package, on CPython 3.13
#      (.venv) and 3.12 (.venv-3.12: `setup.sh --second-python`; a 3.12
#      that cannot be found fails the run);
#   5. typing: mypy --strict on examples/ and tests/typing/ (the whole public
#      API, which then runs), and mypy's stubtest: the stubs against the
#      installed package;
#   6. the wheel: scripts/wheel.sh builds, repairs and checks it standing alone;
#   7. the benchmarks' smoke runs.
# SHOAL_TORTURE_ROUNDS=10000 makes the torture test a long run;
# SHOAL_SKIP_SANITIZERS=1 skips step 2, SHOAL_SKIP_FUZZ=1 step 3.
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
    meson test -C build-tsan stress allocator channel channel_csp channel_ends recycling refcount_race quiescence --print-errorlogs --num-processes 1
fi

# Runs one libFuzzer target for $2 seconds over corpus dir $3 (and seeds
# $4, if given). New inputs accumulate in the corpus; a crash, leak, UB or
# timeout stops the run with a non-zero status and leaves the input in
# build-fuzz/.
run_fuzzer() {
  local target=$1 seconds=$2 corpus=$3 seeds=${4:-}
  mkdir -p "$corpus"
  if ! UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "build-fuzz/fuzz/$target" \
      -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
      -artifact_prefix=build-fuzz/ "$corpus" $seeds >"build-fuzz/$target.log" 2>&1; then
    tail -n 60 "build-fuzz/$target.log"
    echo "test.sh: $target found a problem: build-fuzz/$target.log, input saved in build-fuzz/"
    exit 1
  fi
  grep -E '^(Done |stat::(number_of_executed_units|new_units_added|peak_rss_mb))' "build-fuzz/$target.log"
}

if [ "${SHOAL_SKIP_FUZZ:-0}" != 1 ]; then
  seconds=${SHOAL_FUZZ_SECONDS:-60}
  # Coverage instrumentation everywhere (-fsanitize=fuzzer-no-link), the
  # fuzzer's own link flags in fuzz/meson.build; tests off: only libshoal
  # and the fuzz targets are built.
  [ -f build-fuzz/build.ninja ] || CXX=clang++ meson setup build-fuzz -Dfuzz=true -Dtests=false \
    -Dbuildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false \
    -Dcpp_args=-fsanitize=fuzzer-no-link >/dev/null
  meson compile -C build-fuzz fuzz_frozen_reader fuzz_arena_check fuzz_array_blob make_seed_corpus >/dev/null

  say "fuzzing the frozen-object reader for $seconds s (libFuzzer, ASan + UBSan)"
  rm -rf build-fuzz/fuzz-seeds
  mkdir -p build-fuzz/fuzz-seeds
  build-fuzz/fuzz/make_seed_corpus build-fuzz/fuzz-seeds
  run_fuzzer fuzz_frozen_reader "$seconds" build-fuzz/fuzz-corpus build-fuzz/fuzz-seeds

  say "fuzzing the arena walker (check and rebuild) for $((seconds / 2)) s"
  # fuzz/regressions/: inputs that once found a bug, replayed every run.
  run_fuzzer fuzz_arena_check "$((seconds / 2))" build-fuzz/arena-corpus fuzz/regressions/arena_check

  say "fuzzing the array-blob header for $((seconds / 4)) s"
  run_fuzzer fuzz_array_blob "$((seconds / 4))" build-fuzz/array-blob-corpus
fi

say "Python tests (pytest)"
# SHOAL_EXPECT_NUMPY_CAPI: this build has NumPy's headers (setup.sh installs NumPy first),
# so received arrays must come through its C-API; a test fails if they do not.
SHOAL_EXPECT_NUMPY_CAPI=1 python -m pytest tests/python -q

say "async channels through the waker thread (the path of kernels without io_uring futex waits)"
SHOAL_ASYNC_WAKER=thread python -m pytest tests/python/test_channel_async.py -q -p no:cacheprovider

say "Python tests on CPython 3.12 (.venv-3.12)"
bash scripts/setup.sh --second-python
# Its bin/ first on PATH: the CLI tests run the `shoal` that install put there.
PATH="$root/.venv-3.12/bin:$PATH" SHOAL_EXPECT_NUMPY_CAPI=1 \
  .venv-3.12/bin/python -m pytest tests/python -q -p no:cacheprovider

say "typing: mypy --strict, the public API run, stubtest"
python -m mypy --strict examples/*.py tests/typing
python -m mypy --strict pymodule/shoal/*.pyi
python tests/typing/public_api.py
python -m mypy.stubtest shoal --mypy-config-file tests/typing/stubtest.ini \
  --allowlist tests/typing/stubtest-allowlist.txt

say "the wheel, standing alone (scripts/wheel.sh)"
bash scripts/wheel.sh

# Benchmark smoke runs (~3 min; a missing peer is a row, not a failure): the suite
# (bench/suite.py --quick), the process path on NumPy work (bench/process_bench.py --quick),
# frozen data shared in place (bench/frozen_bench.py --quick), async ping-pong
# (bench/async_bench.py --quick) and an array between two Dask workers and into Ray
# (bench/cluster_bench.py --quick).
SHOAL_BENCH_NO_SETUP=1 timeout 900 bash scripts/bench.sh --quick
timeout 600 python bench/process_bench.py --quick --output build/bench-quick/process_bench.json
timeout 300 python bench/frozen_bench.py --quick --output build/bench-quick/frozen_share.json
timeout 300 python bench/async_bench.py --quick --output build/bench-quick/async_pingpong.json
timeout 300 python bench/cluster_bench.py --quick --output build/bench-quick/cluster_bench.json
