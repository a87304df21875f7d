#!/usr/bin/env bash
# What factotum keeps after start-up, measured from /proc: uid 0 with no
# capabilities at all (pam_unix), or a dedicated user (pam_permit); always
# no_new_privs, not dumpable, seccomp on every thread. With grant_once,
# nobody else can open caphash while it runs. The policy file is checked
# before it is read. systemd socket activation works.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
ft_enter "$@"

field() { awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"; }
check_dropped() {  # check_dropped PID UID
    local pid=$1 uid=$2 f t
    [[ $(field "$pid" Uid) == "$uid $uid $uid $uid" ]] || ft_fail "Uid: $(field "$pid" Uid), want $uid"
    for f in CapInh CapPrm CapEff CapBnd CapAmb; do
        [[ $(field "$pid" $f) == 0000000000000000 ]] || ft_fail "$f: $(field "$pid" $f)"
    done
    [[ $(field "$pid" NoNewPrivs) == 1 ]] || ft_fail "NoNewPrivs: $(field "$pid" NoNewPrivs)"
    if [[ ${FACTOTUM_SECCOMP:-ON} == ON ]]; then
        for t in /proc/"$pid"/task/*; do
            [[ $(awk '$1 == "Seccomp:" { print $2 }' "$t/status") == 2 ]] || ft_fail "thread ${t##*/} without seccomp"
        done
    fi
    # Not dumpable: /proc/PID files belong to root, not to the process's uid.
    [[ $(stat -c %u "/proc/$pid/mem") == 0 ]] || ft_fail "factotum is dumpable"
}

# 1. uid 0 without capabilities, pam_unix, grant_once.
ft_mount grant_once
ft_start
check_dropped "$FT_PID" 0
ft_pass "uid 0: no capabilities in any set, no_new_privs, not dumpable, seccomp on $(ls /proc/$FT_PID/task | wc -l) threads"
cap=$(ft_request alice bob 'bob secret!') || ft_fail "pam_unix as uid 0 without capabilities: exit $?"
ft_pass "pam_unix verifies bob's password as capability-less uid 0"
grep -q "factotum\[$FT_PID\]: started: .*CapEff=0000000000000000 CapBnd=0000000000000000 NoNewPrivs=1" "$FT_TMP/syslog" ||
    ft_fail "start-up record lacks the privilege summary"
rc=0
(exec 3>"$FT_MNT/caphash") 2>/dev/null || rc=$?
[[ $rc != 0 ]] || ft_fail "root opened caphash of a grant_once mount while factotum holds it"
ft_pass "grant_once: root cannot open caphash while factotum holds it"
kill "$FT_PID"
p9_poll 10 p9_gone "$FT_PID" || ft_fail "factotum did not stop"
p9_poll 10 umount "$FT_MNT" 2>/dev/null || ft_fail "cannot unmount $FT_MNT"  # threads may outlive the zombie leader briefly

# 2. A dedicated user with a stack that needs no shadow access (pam_permit).
ft_mount grant_uid=3010
ft_start --user factotum --pam-service p9auth-permit
check_dropped "$FT_PID" 3010
cap=$(ft_request alice bob '') || ft_fail "pam_permit as user factotum: exit $?"
got=$(ft_use alice "$cap" /usr/bin/id -u) || ft_fail "capability refused"
[[ $got == 2002 ]] || ft_fail "became $got"
ft_pass "dedicated user factotum (uid 3010): no capabilities, grants with pam_permit"
# pam_unix cannot work as that user (no shadow, no helper): refused, and factotum survives.
kill "$FT_PID"
p9_poll 10 p9_gone "$FT_PID" || ft_fail "factotum did not stop"
ft_start --user factotum
rc=0
ft_request alice bob 'bob secret!' >/dev/null || rc=$?
[[ $rc == 1 ]] || ft_fail "pam_unix under a dedicated user: exit $rc"
p9_gone "$FT_PID" && ft_fail "factotum died when pam_unix tried its helper"
ft_pass "pam_unix under a dedicated user: refused, factotum still running"
kill "$FT_PID"

# 3. The policy file is checked before it is read.
conf=$FT_TMP/etc/factotum.conf
start_fails() {  # start_fails WHAT MESSAGE
    local rc=0
    "$FACTOTUM" --mount "$FT_MNT" --socket /run/x.sock --policy "$conf" 2>"$FT_TMP/start.err" || rc=$?
    [[ $rc == 78 ]] || ft_fail "$1: exit $rc"
    grep -q "$2" "$FT_TMP/start.err" || ft_fail "$1: '$(cat "$FT_TMP/start.err")'"
    ft_pass "$1 refused: $(cat "$FT_TMP/start.err")"
}
chmod 0664 "$conf"
start_fails "group-writable policy" "writable by group or others"
chmod 0644 "$conf"
chown 2001 "$conf"
start_fails "policy owned by alice" "not owned by root"
chown 0 "$conf"
echo "permit alice bob" >>"$conf"
start_fails "policy with a syntax error" "factotum.conf:8: expected"

# 4. systemd socket activation (LISTEN_FDS/LISTEN_PID), on the grant_uid=
# mount, as the dedicated user.
if command -v systemd-socket-activate >/dev/null; then
    sed -i '$d' "$conf"
    rm -f "$FT_SOCK"
    systemd-socket-activate -l "$FT_SOCK" "$FACTOTUM" --mount "$FT_MNT" --socket /nonexistent/never.sock \
        --policy "$conf" --user factotum --pam-service p9auth-permit 2>>"$FT_TMP/factotum.err" &
    disown
    p9_poll 10 test -S "$FT_SOCK" || ft_fail "systemd-socket-activate did not listen"
    chmod 0666 "$FT_SOCK"  # SocketMode=0666 in factotum.socket
    cap=$(ft_request alice bob "") || ft_fail "socket-activated factotum: exit $?: $(tail -2 "$FT_TMP/request.err")"
    [[ $cap == 2001@2002:* ]] || ft_fail "socket-activated: '${cap%@*}'"
    ft_pass "socket activation: factotum served on the socket systemd passed"
else
    echo "SKIP: systemd-socket-activate not installed; socket activation not tested"
fi
