#!/usr/bin/env bash
# p9use believes only an authentic, live p9authfs at the configured mount
# point. For every fake it must refuse (exit 1) and must not run the program
# as the target.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

fake_up() { [[ $(p9_fstype "$1") == "$2" ]]; }

# Stage "userns": alice as root of a user namespace of her own (only uid
# 2001 mapped, setgroups denied) mounts a fake fuse.p9authfs (user_id=0 in
# there) and tries p9use with ids that namespace cannot reach.
if [[ ${P9_STAGE:-} == userns ]]; then
    trap p9_cleanup EXIT
    "$P9FAKEFS" -f -s -o subtype=p9authfs /run/p9auth &
    P9_DAEMONS+=("$!")
    p9_poll 15 fake_up /run/p9auth fuse.p9authfs || p9_fail "alice's fake did not mount"
    P9_TMP=$(mktemp -d /tmp/p9auth-it-alice.XXXXXX)
    for cap in "0@1@$(printf 'B%.0s' {1..43})" "0@0:0:5@$(printf 'C%.0s' {1..43})"; do
        rc=0
        out=$(printf '%s\n' "$cap" | "$P9USE_CAPS" /bin/cat /proc/self/status 2>"$P9_TMP/err") || rc=$?
        [[ -z $out ]] || p9_fail "fake in alice's user namespace, ${cap%@*}: the program ran: $(p9_creds <<<"$out")"
        [[ $rc == 1 ]] || p9_fail "fake in alice's user namespace, ${cap%@*}: p9use exited $rc: $(cat "$P9_TMP/err")"
        p9_pass "fake in alice's user namespace, ${cap%@*}: refused: $(head -c 200 "$P9_TMP/err")"
    done
    exit 0
fi

p9_enter "$@"

never_granted="2001@2002:2002:2100@$(printf 'A%.0s' {1..43})"

# expect_refused WHAT CAPABILITY: p9use as alice must exit 1 and run nothing.
expect_refused() {
    local what=$1 cap=$2 rc=0 out
    out=$(p9_use alice "$cap" /usr/bin/id -u 2>"$P9_TMP/err") || rc=$?
    [[ -z $out ]] || p9_fail "$what: the program ran (as uid $out); p9use exited $rc"
    [[ $rc == 1 ]] || p9_fail "$what: p9use exited $rc, want 1: $(cat "$P9_TMP/err")"
    p9_pass "$what: refused: $(head -c 300 "$P9_TMP/err")"
}

# start_fake USER MOUNTPOINT FSTYPE OPTIONS
start_fake() {
    local u=$1 mnt=$2 type=$3 opts=$4
    mkdir -p "$mnt"
    if [[ $u == root ]]; then
        "$P9FAKEFS" -f -s -o "$opts" "$mnt" &
    else
        chown "$u" "$mnt"
        p9_as "$u" "$P9FAKEFS" -f -s -o "$opts" "$mnt" &
    fi
    P9_PID=$!
    P9_DAEMONS+=("$P9_PID")
    p9_poll 15 fake_up "$mnt" "$type" || p9_fail "fake filesystem did not mount at $mnt as $type"
}

stop_fake() {
    umount "$1"
    p9_poll 15 p9_gone "$2" || p9_fail "fake filesystem still running"
    wait "$2" || true
}

# (a) Mounted by root at the configured path, but another filesystem type.
start_fake root /run/p9auth fuse.fakefs subtype=fakefs,allow_other
expect_refused "root-mounted fuse.fakefs at /run/p9auth" "$never_granted"
stop_fake /run/p9auth "$P9_PID"
start_fake root /run/p9auth fuse.p9auth subtype=p9auth,fsname=p9auth,allow_other
expect_refused "root-mounted fuse.p9auth (not the kernel's p9auth) at /run/p9auth" "$never_granted"
stop_fake /run/p9auth "$P9_PID"

# (b) The right subtype, but mounted by alice through fusermount3 (user_id=2001).
p9_open_dev_fuse
start_fake alice /run/p9auth fuse.p9authfs subtype=p9authfs
[[ $(p9_superopts /run/p9auth) == *user_id=2001* ]] || p9_fail "fake not mounted by alice: $(p9_superopts /run/p9auth)"
expect_refused "fuse.p9authfs mounted by uid 2001" "$never_granted"
stop_fake /run/p9auth "$P9_PID"
chown root /run/p9auth

# (c) The real p9authfs, but at another path; nothing at the configured one.
p9_start /run/elsewhere
real=$P9_PID
cap=$("$P9GRANT" -m /run/elsewhere alice bob) || p9_fail "p9grant -m /run/elsewhere exited $?"
expect_refused "p9authfs at /run/elsewhere, empty /run/p9auth" "$cap"
rmdir /run/p9auth
expect_refused "p9authfs at /run/elsewhere, no /run/p9auth" "$cap"
grep -qx 'outstanding 1' /run/elsewhere/status || p9_fail "the capability was used: $(tr '\n' ' ' </run/elsewhere/status)"

# (d) Plain files where the filesystem should be: in a directory, then in
#     a tmpfs root mounted there.
mkdir -p /run/p9auth
install -m 0666 /dev/null /run/p9auth/capuse
install -m 0200 /dev/null /run/p9auth/caphash
expect_refused "regular files in /run/p9auth" "$cap"
rm -f /run/p9auth/capuse /run/p9auth/caphash
mount -t tmpfs -o mode=0755 p9authfs /run/p9auth
install -m 0666 /dev/null /run/p9auth/capuse
install -m 0200 /dev/null /run/p9auth/caphash
expect_refused "regular files in a root-mounted tmpfs at /run/p9auth" "$cap"
umount /run/p9auth

p9_stop /run/elsewhere "$real"

# (f) A fake mounted by the root of alice's own user namespace.
rc=0
P9_STAGE=userns p9_as alice unshare --user --map-root-user --mount --propagation private -- "$0" || rc=$?
[[ $rc == 0 ]] || p9_fail "the user-namespace fake case failed (exit $rc)"

# (e) A dead filesystem: the daemon killed, the mount left behind (ENOTCONN).
p9_start /run/p9auth
cap=$("$P9GRANT" alice bob) || p9_fail "p9grant exited $?"
kill -KILL "$P9_PID"
p9_poll 15 p9_gone "$P9_PID" || p9_fail "SIGKILL did not kill p9authfs"
wait "$P9_PID" || true
err=$(cat /run/p9auth/status 2>&1) && p9_fail "status still readable after SIGKILL"
[[ $err == *"not connected"* ]] || p9_fail "dead mount: '$err', want ENOTCONN"
expect_refused "dead p9authfs (ENOTCONN)" "$cap"
umount -l /run/p9auth
