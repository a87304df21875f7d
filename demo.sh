#!/usr/bin/env bash
# Brings p9authfs up and shows its main job: a granter grants alice a
# one-time capability to become bob; alice, with no privilege, uses it and
# runs a program as exactly bob. Everything happens in a private mount and
# pid namespace with fixture users; nothing on the host changes.
set -euo pipefail
cd "$(dirname "$0")"
top=$PWD
if [[ ${P9_IN_NS:-} != 1 ]]; then
  [[ $(id -u) == 0 ]] || { echo "demo.sh: run as root (as root: ./demo.sh; with sudo: sudo ./demo.sh): it mounts a filesystem in a private namespace" >&2; exit 2; }
  scripts/install-deps.sh
  cmake -S . -B build/plain -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build/plain -j"$(nproc)" --target p9authfs p9use p9grant >/dev/null
fi
b=$top/build/plain/fs/p9auth
export P9AUTHFS=$b/fuse/p9authfs P9USE=$b/switch/p9use P9GRANT=$b/grant/p9grant
# shellcheck source=tests/integration/lib.sh
. "$top/tests/integration/lib.sh"
p9_enter "$@"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "root mounts p9authfs at /run/p9auth (private namespace, fixture users alice and bob)"
p9_start /run/p9auth
grep ' /run/p9auth ' /proc/self/mountinfo
ls -l /run/p9auth

say "a granter (here root: CAP_SETUID+CAP_SETGID) grants alice a capability to become bob"
cap=$("$P9GRANT" alice bob)
echo "p9grant alice bob  ->  ${cap%@*}@<key, 43 characters, not shown>"

say "alice, with no privilege, uses it: p9use runs 'id' as exactly bob"
p9_use alice "$cap" sh -c 'id; grep -E "^(Uid|Gid|Groups|CapEff|NoNewPrivs):" /proc/self/status'

say "the same capability again: refused, it was one-time"
if p9_use alice "$cap" id; then echo "UNEXPECTED: replay worked"; exit 1; fi

say "the filesystem's counters (cat /run/p9auth/status)"
cat /run/p9auth/status
