#!/usr/bin/env bash
# Issue 10 item 6: a plain user with the host's set-uid fusermount3 tries
# to mount a filesystem of her own (p9auth-fakefs) over capuse, caphash and
# the mount's directory. fusermount3 opens a regular-file mount point as
# her (fsuid lowered, euid still 0) to check she may mount over it;
# p9authfs refuses that open of a set-id process, so nothing is mounted,
# with and without user_allow_other (where her filesystem would otherwise
# receive every direct writer's capability). p9use still works afterwards.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

fusermount=$(command -v fusermount3 || true)
[[ -n $fusermount && -u $fusermount && $(stat -c %u "$fusermount") == 0 ]] ||
    { echo "SKIP: no set-uid root fusermount3 (package fuse3)" >&2; exit 77; }

p9_enter "$@"
p9_open_dev_fuse
p9_start /run/p9auth
daemon=$P9_PID

# The topmost mount at $1 is p9authfs's own (or, for a file, none on it).
untouched() {
    local t
    t=$(p9_fstype "$1")
    [[ -z $t || $t == fuse.p9authfs ]]
}

# Alice's filesystem exited, or it mounted over $2.
settled() { p9_gone "$1" || ! untouched "$2"; }

# attack WHAT TARGET OPTIONS: alice runs her filesystem over TARGET; it
# must exit non-zero with fusermount3's refusal, and TARGET must stay as
# it was. An attack that mounts is taken down again and fails the test.
attack() {
    local what=$1 target=$2 opts=$3 err=$P9_TMP/attack.err pid rc=0
    p9_as alice "$P9FAKEFS" -f -o "$opts" "$target" 2>"$err" &
    pid=$!
    P9_DAEMONS+=("$pid")
    p9_poll 15 settled "$pid" "$target" || p9_fail "$what: alice's filesystem neither mounted nor exited in 15 s"
    if ! untouched "$target"; then
        p9_fstype "$target" >"$P9_TMP/type"
        umount -l "$target" 2>/dev/null || true
        p9_fail "$what: alice mounted $(cat "$P9_TMP/type") on $target"
    fi
    wait "$pid" || rc=$?
    untouched "$target" || p9_fail "$what: $(p9_fstype "$target") mounted on $target (exit $rc): $(cat "$err")"
    [[ $rc != 0 ]] || p9_fail "$what: alice's filesystem exited 0 without mounting"
    grep -q "$4" "$err" || p9_fail "$what: exit $rc, want fusermount3's '$4': $(cat "$err")"
    p9_pass "$what: refused: $(tr '\n' ' ' <"$err" | head -c 200)"
}

attack "fusermount3 over capuse" /run/p9auth/capuse subtype=attack \
    "failed to open /run/p9auth/capuse: Operation not permitted"
attack "fusermount3 over caphash" /run/p9auth/caphash subtype=attack \
    "failed to open /run/p9auth/caphash: Operation not permitted"
attack "fusermount3 over the mount's directory" /run/p9auth subtype=attack "no write access"

# With user_allow_other, her filesystem would serve every user's writes.
printf 'user_allow_other\n' >"$P9_TMP/fuse.conf"
mount --bind -o ro "$P9_TMP/fuse.conf" /etc/fuse.conf
attack "fusermount3 -o allow_other over capuse (user_allow_other)" /run/p9auth/capuse subtype=attack,allow_other \
    "failed to open /run/p9auth/capuse: Operation not permitted"

# Still served, and p9use still works: alice becomes bob.
cap=$("$P9CONF" --grant /run/p9auth 2001 2002:2002) || p9_fail "grant 2001@2002:2002"
got=$(p9_use alice "$cap" /bin/cat /proc/self/status | p9_creds)
want=$(p9_want 2002 2002 "")
[[ $got == "$want" ]] || p9_fail "p9use after the attacks: $got, want $want"
p9_pass "p9use after the attacks: $got"

p9_stop /run/p9auth "$daemon"
