#!/usr/bin/env bash
# A third party's view: install the tree into a staging directory, then
# build examples/example-login.cpp with nothing but what was installed
# (pkg-config --cflags --libs p9auth, the headers, libp9auth.so) and check
# the program links against the installed library and runs its usage path.
#   pkgconfig.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: pkgconfig.sh BUILD_DIR}" && pwd)
command -v pkg-config >/dev/null || { echo "SKIP: pkg-config not installed" >&2; exit 77; }
stage=$(mktemp -d /tmp/p9auth-stage.XXXXXX)
trap 'rm -rf "$stage"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

DESTDIR=$stage cmake --install "$build" >"$stage/install.log" 2>&1 || fail "install: $(tail -5 "$stage/install.log")"
pc=$(find "$stage" -name p9auth.pc -path '*/pkgconfig/*' | head -1)
[[ -n $pc ]] || fail "no p9auth.pc installed"
export PKG_CONFIG_PATH=${pc%/*} PKG_CONFIG_SYSROOT_DIR=$stage PKG_CONFIG_LIBDIR=/nonexistent
flags=$(pkg-config --cflags --libs p9auth) || fail "pkg-config p9auth"
[[ $flags == *-lp9auth* ]] || fail "pkg-config flags: $flags"
hdr=$(find "$stage" -name p9auth.h | head -1)
[[ -n $hdr && -f ${hdr%/*}/p9auth.hpp ]] || fail "headers not installed: $(find "$stage" -name 'p9auth.h*')"
echo "PASS: installed p9auth.pc ($flags), p9auth.h, p9auth.hpp"

# shellcheck disable=SC2086  # the flags are words
g++ -std=c++20 -Wall -Wextra -Werror -o "$stage/example-login" "$here/../examples/example-login.cpp" $flags -lpam_misc ||
    fail "the twenty-line example does not build from the installed files"
lib=$(find "$stage" -name 'libp9auth.so.0' | head -1)
ldd_out=$(LD_LIBRARY_PATH=${lib%/*} ldd "$stage/example-login")
grep -q "libp9auth.so.0 => ${lib%/*}/libp9auth.so.0" <<<"$ldd_out" || fail "not linked to the installed libp9auth: $ldd_out"
rc=0
out=$(LD_LIBRARY_PATH=${lib%/*} "$stage/example-login" 2>&1) || rc=$?
[[ $rc == 2 && $out == *usage* ]] || fail "example-login without arguments: exit $rc '$out'"
echo "PASS: examples/example-login.cpp builds against the installed library and headers alone, and runs"
