#!/usr/bin/env bash
# The install follows the configured prefix, and only it:
#   install.sh BUILD_DIR PREFIX BINDIR SYSCONFDIR LIBDIR
# (the CMAKE_INSTALL_PREFIX and CMAKE_INSTALL_FULL_* of the build).
# - `cmake --install --prefix OTHER` is refused before a file is copied,
#   saying to configure with that prefix;
# - a DESTDIR install puts every file under DESTDIR/PREFIX or, for the
#   configuration, DESTDIR/SYSCONFDIR; sets no file capability; and what is
#   compiled in (p9use's path in libp9auth, p9auth.pc) names the same paths.
set -euo pipefail
build=${1:?build dir} prefix=${2:?prefix} bindir=${3:?bindir} sysconfdir=${4:?sysconfdir} libdir=${5:?libdir}
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d /tmp/p9auth-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

other=$tmp/other-prefix
rc=0
out=$(cmake --install "$build" --prefix "$other" 2>&1) || rc=$?
((rc != 0)) || fail "cmake --install --prefix $other succeeded for a build configured for $prefix"
tr -s " \n" "  " <<<"$out" | grep -qF "configure with -DCMAKE_INSTALL_PREFIX=$other: paths are compiled in" ||
    fail "the refusal does not say what to do: $out"
[[ ! -e $other ]] || fail "files were copied to $other before the refusal: $(find "$other" | head -5)"
echo "PASS: an install to another prefix is refused before a file is copied"

stage=$tmp/stage
DESTDIR=$stage cmake --install "$build" >"$tmp/install.log" 2>&1 || fail "DESTDIR install: $(tail -5 "$tmp/install.log")"
stray=$(cd "$stage" && find . -type f -o -type l | sed 's|^\.||' |
        grep -v -e "^$prefix/" -e "^$sysconfdir/" -e '^/lib/systemd/' -e '^/lib/[^/]*/security/' || true)
[[ -z $stray ]] || fail "installed outside $prefix and $sysconfdir: $stray"
for f in p9auth/factotum.conf p9auth/p9auth.conf pam.d/p9auth pam.d/p9logind; do
    [[ -f $stage$sysconfdir/$f ]] || fail "$sysconfdir/$f not installed"
done
p9use=$stage$bindir/p9use
[[ -x $p9use ]] || fail "$bindir/p9use not installed"
if command -v getcap >/dev/null; then
    [[ -z $(getcap "$p9use") ]] || fail "a staged p9use got file capabilities: $(getcap "$p9use")"
fi
grep -q "file capabilities not set" "$tmp/install.log" || fail "the staged install does not say p9use needs setcap"
lib=$(find "$stage" -name 'libp9auth.so.0.*' -type f | head -1)
[[ -n $lib ]] || fail "libp9auth not installed"
grep -qaF "$bindir/p9use" "$lib" || fail "libp9auth does not name $bindir/p9use"
pc=$stage$libdir/pkgconfig/p9auth.pc
grep -qx "prefix=$prefix" "$pc" && grep -qx "libdir=$libdir" "$pc" || fail "p9auth.pc: $(head -3 "$pc")"
echo "PASS: a DESTDIR install stays under $prefix and $sysconfdir, sets no capability, and names $bindir/p9use"
