#!/usr/bin/env bash
# setup.sh — installs everything shoal needs on a fresh Debian 12 or 13
# machine and builds it:
#   * Debian packages (compiler, Boost, Cap'n Proto, GoogleTest, Google
#     Benchmark, CLI11, nlohmann/json), installed only if missing;
#   * a virtual environment at .venv on CPython 3.13 (override with
#     SHOAL_PYTHON=/path/to/python3.12), with meson, meson-python, ninja,
#     numpy, pytest, pycapnp (the independent reader of frozen objects) and
#     anyio and trio (the async channels tested on both anyio backends)
#     from PyPI;
#   * the package itself (`pip install .`: the extension, `shoal`, `shoal-broker`);
#   * the C++ test/benchmark build in build/ (GoogleTest, Google Benchmark).
# Safe to run again: it only does what is missing or out of date.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

say() { printf '\n== %s\n' "$*"; }

debian_packages=(
  g++ pkg-config ninja-build
  libboost-dev capnproto libcapnp-dev zlib1g-dev
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

# Prints a CPython 3.13 that really runs. (A pyenv shim named python3.13 can
# be on PATH without that version being enabled, so every candidate is run.)
find_python() {
  if [ -n "${SHOAL_PYTHON:-}" ]; then echo "$SHOAL_PYTHON"; return; fi
  local pyenv_root candidates=()
  pyenv_root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
  candidates+=("$pyenv_root"/versions/3.13*/bin/python3.13 /root/.pyenv/versions/3.13*/bin/python3.13)
  command -v python3.13 >/dev/null 2>&1 && candidates+=("$(command -v python3.13)")
  for c in "${candidates[@]}"; do
    if [ -x "$c" ] && "$c" -c 'import sys, venv; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
      echo "$c"
      return
    fi
  done
  echo "setup.sh: CPython 3.13 not found (looked in pyenv and on PATH); set SHOAL_PYTHON" >&2
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
  .venv/bin/python -m pip install -q meson meson-python ninja numpy pytest pycapnp anyio trio
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
make_venv
build
