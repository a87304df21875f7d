#!/usr/bin/env bash
# Builds the Debian packages of this tree (debian/) and checks them:
#   scripts/build-debs.sh OUTDIR
# installs what the build needs (apt-get, as root), copies the source tree
# (the files git knows, committed or not; without git, all but build/ and
# .git) to a temporary directory, runs dpkg-buildpackage -b -us -uc there,
# runs lintian (any error fails), and puts the .debs in OUTDIR (the -dbgsym
# ones in OUTDIR/dbgsym). Prints their list; quiet otherwise unless it
# fails. The whole log stays in OUTDIR/build-debs.log, lintian's report in
# OUTDIR/lintian.txt. Running it again replaces what it made before.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
[[ $# == 1 ]] || { echo "usage: build-debs.sh OUTDIR" >&2; exit 2; }
mkdir -p "$1"
out=$(cd "$1" && pwd)
log=$out/build-debs.log
: >"$log"
work=$(mktemp -d /tmp/p9auth-debs.XXXXXX)
trap 'rm -rf "$work"' EXIT

fail() {
    echo "build-debs: $*" >&2
    echo "build-debs: the log's last lines ($log):" >&2
    tail -40 "$log" | sed 's/^/  | /' >&2
    exit 1
}
step() { echo "=== $*" >>"$log"; }

# The build's tools and the source package's Build-Depends.
step "build dependencies"
if ((EUID == 0)); then
    "$here/install-deps.sh" >>"$log" 2>&1 || fail "installing scripts/debian-packages.txt failed"
elif ! command -v dpkg-buildpackage >/dev/null; then
    fail "dpkg-dev is not installed; run scripts/install-deps.sh as root first"
fi
if ! unmet=$(cd "$top" && dpkg-checkbuilddeps 2>&1); then
    echo "$unmet" >>"$log"
    # "dpkg-checkbuilddeps: error: Unmet build dependencies: a (>= 1) b | c"
    mapfile -t pkgs < <(sed -n 's/.*Unmet build dependencies: //p' <<<"$unmet" |
                        sed -e 's/([^)]*)//g' -e 's/|[^ ]*//g' | tr ' ' '\n' | sed '/^$/d')
    ((EUID == 0)) || fail "unmet build dependencies: ${pkgs[*]} (run as root to install them)"
    ((${#pkgs[@]})) || fail "cannot read dpkg-checkbuilddeps' answer"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}" >>"$log" 2>&1 ||
        fail "apt-get install ${pkgs[*]} failed"
    (cd "$top" && dpkg-checkbuilddeps) >>"$log" 2>&1 || fail "build dependencies still unmet"
fi

# A clean copy: nothing of build/ or of a previous package build.
step "copying the source tree"
version=$(cd "$top" && dpkg-parsechangelog -S Version)
src=$work/p9authfs-$version
mkdir -p "$src"
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$top" && git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done |
        tar --null -T - -cf -) | tar -xf - -C "$src"
else
    tar -C "$top" --exclude=./build --exclude=./.git --exclude='./debian/.debhelper' -cf - . | tar -xf - -C "$src"
fi

step "dpkg-buildpackage -b -us -uc"
jobs=$(nproc 2>/dev/null || echo 1)
(cd "$src" && DEB_BUILD_OPTIONS="parallel=$jobs ${DEB_BUILD_OPTIONS:-}" dpkg-buildpackage -b -us -uc) >>"$log" 2>&1 ||
    fail "dpkg-buildpackage failed"
changes=$(ls "$work"/*.changes)

step "lintian"
lintian --fail-on error --info --display-level '>=warning' "$changes" >"$out/lintian.txt" 2>&1 || {
    cat "$out/lintian.txt" >>"$log"
    fail "lintian found errors (OUTDIR/lintian.txt)"
}
cat "$out/lintian.txt" >>"$log"

# Replace what an earlier run left; keep nothing of another version.
rm -f "$out"/*.deb "$out"/dbgsym/*.deb
mkdir -p "$out/dbgsym"
mv "$work"/*-dbgsym_*.deb "$out/dbgsym/" 2>/dev/null || true
mv "$work"/*.deb "$out/"
step "done"
ls -1 "$out"/*.deb
