#!/usr/bin/env bash
# "mount -t fuse.p9authfs" through fuse3's helper (mount.fuse3), as
# run-p9auth.mount and an fstab line use it: mount(8) runs
# "p9authfs SOURCE MOUNTPOINT -o rw,OPTIONS,dev,suid"; when mount returns
# the files are there, the options took effect, SOURCE names the mount,
# the mount is nosuid,nodev,noexec whatever the helper asked, a grant and
# a use work, and umount ends the daemon. Bad command lines leave nothing
# mounted.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
p9_enter "$@"

helper=
for h in /sbin/mount.fuse3 /usr/sbin/mount.fuse3 /sbin/mount.fuse /usr/sbin/mount.fuse; do
    [[ -x $h ]] && helper=$h && break
done
[[ -n $helper ]] || { echo "SKIP: no mount.fuse3 (Debian package fuse3)" >&2; exit 77; }

# mount(8) runs its helpers with a PATH of its own that starts with
# /usr/local/sbin: in this namespace, that is a tmpfs with p9authfs only.
mount -t tmpfs -o mode=0755 p9auth-test-sbin /usr/local/sbin
ln -s "$P9AUTHFS" /usr/local/sbin/p9authfs

# The mount's source and mount (not super) options, from mountinfo.
p9_source() {
    awk -v m="$1" '$5 == m { for (i = 7; i <= NF; i++) if ($i == "-") { s = $(i + 2); break } } END { print s }' \
        /proc/self/mountinfo
}
p9_mountopts() { awk -v m="$1" '$5 == m { o = $6 } END { print o }' /proc/self/mountinfo; }
# The pid of the p9authfs serving $1 (this pid namespace holds only ours).
p9_daemon_of() {
    local d
    for d in /proc/[0-9]*; do
        if [[ $(cat "$d/comm" 2>/dev/null) == p9authfs && " $(tr '\0' ' ' <"$d/cmdline" 2>/dev/null)" == *" $1 "* ]]; then
            echo "${d#/proc/}"
        fi
    done
}

mnt=/run/p9auth
mkdir -p "$mnt"
out=$(mount -t fuse.p9authfs p9authfs "$mnt" -o grant_once,maxcaps=3,timeout=9 2>&1) ||
    p9_fail "mount -t fuse.p9authfs exited $?: $out"
# No polling: mount returning means the files are there.
[[ $(p9_fstype "$mnt") == fuse.p9authfs ]] || p9_fail "mount returned before the mount was in place"
[[ $(p9_source "$mnt") == p9authfs ]] || p9_fail "source is '$(p9_source "$mnt")', want p9authfs"
opts=$(p9_mountopts "$mnt")
for o in nosuid nodev noexec; do
    [[ ,$opts, == *,$o,* ]] || p9_fail "mount options '$opts' lack $o (the helper asked for dev,suid)"
done
[[ ,$(p9_superopts "$mnt"), == *,allow_other,* ]] || p9_fail "no allow_other: $(p9_superopts "$mnt")"
status=$(cat "$mnt/status")
grep -qx 'maxcaps 3' <<<"$status" && grep -qx 'timeout 9' <<<"$status" ||
    p9_fail "the options did not take effect: $(tr '\n' ' ' <<<"$status")"
daemon=$(p9_daemon_of "$mnt")
[[ $daemon =~ ^[0-9]+$ ]] || p9_fail "no single p9authfs daemon for $mnt: '$daemon'"
P9_DAEMONS+=("$daemon")
p9_pass "mount -t fuse.p9authfs p9authfs $mnt -o grant_once,maxcaps=3,timeout=9: mounted on return ($opts), status says maxcaps 3, timeout 9"

cap=$("$P9GRANT" -m "$mnt" alice bob) || p9_fail "p9grant on the helper's mount exited $?"
got=$(p9_use alice "$cap" /usr/bin/id -u) || p9_fail "p9use on the helper's mount exited $?"
[[ $got == 2002 ]] || p9_fail "p9use made alice uid $got, want 2002"
# grant_once took effect: p9grant's descriptor is gone, and caphash cannot be opened again.
rc=0
err=$("$P9GRANT" -m "$mnt" alice bob 2>&1 >/dev/null) || rc=$?
[[ $rc == 1 && $err == *grant_once* ]] || p9_fail "a second open of caphash on a grant_once mount: exit $rc, '$err'"
p9_pass "p9grant + p9use on it; grant_once refuses the second opener: $err"

umount "$mnt" || p9_fail "umount $mnt"
p9_poll 15 p9_gone "$daemon" || p9_fail "p9authfs ($daemon) still running 15 s after umount"
p9_pass "umount ends the daemon"

# SOURCE names the mount.
m2=$P9_TMP/named
mkdir -p "$m2"
mount -t fuse.p9authfs caps-test "$m2" || p9_fail "mount with source caps-test exited $?"
[[ $(p9_source "$m2") == caps-test ]] || p9_fail "source is '$(p9_source "$m2")', want caps-test"
findmnt -rn -o SOURCE,FSTYPE "$m2" | grep -qx 'caps-test fuse.p9authfs' || p9_fail "findmnt: $(findmnt -rn "$m2")"
d2=$(p9_daemon_of "$m2")
P9_DAEMONS+=("$d2")
umount "$m2"
p9_poll 15 p9_gone "$d2" || p9_fail "p9authfs ($d2) still running after umount of $m2"
p9_pass "SOURCE caps-test names the mount"

# Refusals through the helper: the message reaches mount's caller, nothing is mounted.
refuse() {
    local what=$1 want=$2 rc=0
    shift 2
    out=$("$@" 2>&1) || rc=$?
    [[ $rc != 0 ]] || p9_fail "$what: mount succeeded"
    grep -qF -- "$want" <<<"$out" || p9_fail "$what: the message does not say '$want': $out"
    [[ -z $(p9_fstype "$m2") ]] || p9_fail "$what left a mount"
}
refuse "-o ro" "read-only" mount -t fuse.p9authfs p9authfs "$m2" -o ro
refuse "-o default_permissions" "default_permissions" mount -t fuse.p9authfs p9authfs "$m2" -o default_permissions
refuse "-o maxcaps=0" "maxcaps" mount -t fuse.p9authfs p9authfs "$m2" -o maxcaps=0
refuse "-o nosuchoption" "nosuchoption" mount -t fuse.p9authfs p9authfs "$m2" -o nosuchoption
refuse "a path as SOURCE" "SOURCE" mount -t fuse.p9authfs /etc "$m2"
p9_pass "ro, default_permissions, a bad value, an unknown option, a path as SOURCE: refused, nothing mounted"

# The fstab line p9authfs(8) gives, with "mount MOUNTPOINT".
fstab=$P9_TMP/fstab
printf 'p9authfs  %s  fuse.p9authfs  grant_once,nosuid,nodev,noexec  0  0\n' "$mnt" >"$fstab"
mount --bind "$fstab" /etc/fstab
mount "$mnt" || p9_fail "mount $mnt from fstab exited $?"
[[ $(p9_fstype "$mnt") == fuse.p9authfs ]] || p9_fail "the fstab mount is not in place"
d3=$(p9_daemon_of "$mnt")
P9_DAEMONS+=("$d3")
cap=$("$P9GRANT" alice bob) || p9_fail "p9grant on the fstab mount exited $?"
got=$(p9_use alice "$cap" /usr/bin/id -u) || p9_fail "p9use on the fstab mount exited $?"
[[ $got == 2002 ]] || p9_fail "p9use on the fstab mount: uid $got"
umount "$mnt"
p9_poll 15 p9_gone "$d3" || p9_fail "p9authfs ($d3) still running after umount of the fstab mount"
p9_pass "the fstab line: mount $mnt, grant, use, umount"
