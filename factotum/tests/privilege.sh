#!/usr/bin/env bash
# What factotum keeps after start-up, measured from /proc: uid 0 with no
# capabilities at all (pam_unix), or a dedicated user (pam_permit); always
# no_new_privs, not dumpable, seccomp on every thread. With grant_once,
# nobody else can open caphash while it runs. The policy file is checked
# before it is read. systemd socket activation works. A second factotum on
# the same socket is refused and leaves it alone; a stale socket is
# replaced. A PAM module may read a directory under the filter. The
# client's connect honours its deadline.
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
ft_pass "uid 0: no capabilities in any set, no_new_privs, not dumpable, seccomp on $(find "/proc/$FT_PID/task" -mindepth 1 -maxdepth 1 | wc -l) threads"
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
# A second start on the same socket (a mistake) is refused before it touches
# the socket: the running factotum keeps serving on it.
ino=$(stat -c %i "$FT_SOCK")
rc=0  # (a second factotum that took the socket over would serve on: the deadline ends it)
timeout 15 "$FACTOTUM" --mount "$FT_MNT" --socket "$FT_SOCK" --policy "$FT_TMP/etc/factotum.conf" --user factotum \
    --pam-service p9auth-permit 2>"$FT_TMP/second.err" || rc=$?
ino2=$(stat -c %i "$FT_SOCK" 2>/dev/null) || ino2=gone
[[ $ino2 == "$ino" ]] || ft_fail "second factotum (exit $rc) replaced the live socket (inode $ino, now $ino2)"
[[ $rc == 71 ]] || ft_fail "second factotum on a live socket: exit $rc: $(cat "$FT_TMP/second.err")"
grep -q "factotum already serving on $FT_SOCK" "$FT_TMP/second.err" || ft_fail "second factotum: '$(cat "$FT_TMP/second.err")'"
cap=$(ft_request alice bob '') || ft_fail "first factotum stopped serving after a second start: exit $?"
[[ $cap == 2001@2002:* ]] || ft_fail "first factotum after a second start: '${cap%@*}'"
p9_gone "$FT_PID" && ft_fail "first factotum died"
ft_pass "second factotum on the same socket refused ($(cat "$FT_TMP/second.err")); the first still serves"
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
p9_poll 10 p9_gone "$FT_PID" || ft_fail "factotum did not stop"

# 2b. The socket of a factotum that has gone is stale: the next start replaces
# it. Under the filter, a PAM module may read a directory (opendir: openat
# with O_DIRECTORY): pam_access globs /etc/security/access.d in its account
# check, and a rule there refuses carol.
[[ -S $FT_SOCK ]] || ft_fail "the stopped factotum's socket is gone; the stale case is not tested"
sec=$FT_TMP/security
mkdir -p "$sec/access.d"
echo "# factotum test: rules are in access.d" >"$sec/access.conf"
echo "-:carol:ALL" >"$sec/access.d/factotum-test.conf"
mount --bind -o ro "$sec" /etc/security
printf 'auth required pam_permit.so\naccount required pam_access.so\n' >"$FT_TMP/etc/pam.d/p9auth-access"
TSAN_OPTIONS="suppressions=$here/tsan.supp ${TSAN_OPTIONS:-}" "$FACTOTUM" --mount "$FT_MNT" --socket "$FT_SOCK" \
    --policy "$FT_TMP/etc/factotum.conf" --user factotum --pam-service p9auth-access 2>>"$FT_TMP/factotum.err" &
FT_PID=$!
FT_DAEMONS+=("$FT_PID")
disown
p9_poll 15 ft_ready || ft_fail "factotum did not start over a stale socket"
ft_pass "a stale socket is replaced"
cap=$(ft_request alice bob '') || ft_fail "pam_access (opendir under seccomp): exit $?: $(tail -2 "$FT_TMP/factotum.err")"
[[ $cap == 2001@2002:* ]] || ft_fail "pam_access: '${cap%@*}'"
rc=0
ft_request alice carol '' >/dev/null || rc=$?
[[ $rc == 1 ]] || ft_fail "pam_access did not refuse carol (access.d unread?): exit $rc"
grep -q "deny client_uid=2001 .*target=carol reason=account" "$FT_TMP/syslog" || ft_fail "no account denial for carol"
p9_gone "$FT_PID" && ft_fail "factotum died reading a directory"
ft_pass "under the filter pam_access reads /etc/security/access.d: bob granted, carol refused, factotum alive"
kill "$FT_PID"
p9_poll 10 p9_gone "$FT_PID" || ft_fail "factotum did not stop"
umount /etc/security

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
# The same loader as p9auth.conf's: every directory above the file counts.
chmod g+w "$FT_TMP/etc"
start_fails "policy in a group-writable directory" "policy: $FT_TMP/etc is writable by group or others"
chmod g-w "$FT_TMP/etc"
# caphash is opened only on a p9auth filesystem: a tmpfs with a caphash
# FIFO in it (an open would block) is refused before anything is opened
# (under /run, which ft_cleanup unmounts whatever happens).
mkdir /run/notp9
mount -t tmpfs -o mode=0755 tmpfs /run/notp9
mkfifo /run/notp9/caphash
rc=0
timeout 20 "$FACTOTUM" --mount /run/notp9 --socket /run/x.sock --policy "$conf" 2>"$FT_TMP/start.err" || rc=$?
[[ $rc == 78 ]] || ft_fail "--mount on a tmpfs: exit $rc: $(cat "$FT_TMP/start.err")"
grep -q "^factotum: configuration error: --mount /run/notp9 is not a p9auth filesystem" "$FT_TMP/start.err" ||
    ft_fail "--mount on a tmpfs: '$(cat "$FT_TMP/start.err")'"
umount /run/notp9
ft_pass "--mount on a tmpfs refused: $(cat "$FT_TMP/start.err")"
echo "permit alice bob" >>"$conf"
start_fails "policy with a syntax error" "factotum.conf:8: expected"
# Connections are descriptors: --max-connections must fit under RLIMIT_NOFILE
# (factotum raises the soft limit up to the hard one), checked before anything else.
rc=0
prlimit --nofile=256:256 "$FACTOTUM" --mount "$FT_MNT" --socket /run/x.sock --policy "$conf" --max-connections 512 \
    2>"$FT_TMP/start.err" || rc=$?
[[ $rc == 78 ]] || ft_fail "512 connections under 256 descriptors: exit $rc: $(cat "$FT_TMP/start.err")"
grep -q "needs 576 descriptors, but RLIMIT_NOFILE allows 256" "$FT_TMP/start.err" ||
    ft_fail "512 connections under 256 descriptors: '$(cat "$FT_TMP/start.err")'"
ft_pass "512 connections under a hard limit of 256 descriptors refused: $(cat "$FT_TMP/start.err")"

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

# 5. The client's connect(2) honours its deadline: a socket whose backlog
# stays full (a listener that never accepts) gives ETIMEDOUT after
# --timeout, not a client blocked for ever.
if command -v python3 >/dev/null; then
    full=$FT_TMP/full.sock
    python3 -c '
import os, signal, socket, sys
p = sys.argv[1]
s = socket.socket(socket.AF_UNIX)
s.bind(p)
os.chmod(p, 0o666)
s.listen(0)
held = []
while True:  # fill the backlog
    c = socket.socket(socket.AF_UNIX)
    c.setblocking(False)
    try:
        c.connect(p)
    except BlockingIOError:
        break
    held.append(c)
open(p + ".ready", "w").close()
signal.pause()' "$full" &
    FT_DAEMONS+=($!)
    disown
    p9_poll 10 test -e "$full.ready" || ft_fail "the full-backlog listener did not come up"
    rc=0
    start=$(date +%s)
    printf '\n' | p9_as alice timeout 15 "$P9AUTH_REQUEST" --socket "$full" --timeout 2 --stdin bob \
        >/dev/null 2>"$FT_TMP/full.err" || rc=$?
    took=$(($(date +%s) - start))
    [[ $rc == 3 ]] || ft_fail "connect to a full backlog: exit $rc (124: blocked past its deadline): $(cat "$FT_TMP/full.err")"
    grep -q "timed out" "$FT_TMP/full.err" || ft_fail "connect to a full backlog: '$(cat "$FT_TMP/full.err")'"
    ((took >= 1 && took <= 10)) || ft_fail "connect to a full backlog took ${took}s with --timeout 2"
    ft_pass "client connect to a full backlog: $(cat "$FT_TMP/full.err") after ${took}s"
else
    echo "SKIP: python3 not installed; the client's connect deadline not tested"
fi
