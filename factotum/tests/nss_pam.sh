#!/usr/bin/env bash
# factotum with the NSS and PAM configuration of a stock Debian 12, modules
# really loaded under its confinement:
#  1. nsswitch "passwd: files systemd", "group: files systemd":
#     libnss-systemd talks varlink to a userdb service in
#     /run/systemd/userdb; a grant for a files user and one for a user only
#     that service knows; nothing trapped by the seccomp filter.
#  2. pam_unix with a yescrypt hash behind pam_faillock (preauth, authfail,
#     authsucc): a grant, then a lock after 3 failures that holds even
#     for the right password; the tally is written under /run/faillock.
#  3. A module that makes a forbidden call (personality) and claims
#     success: the request is refused with a clear message, the log names
#     the call, and the same daemon serves the next request. A module that
#     writes outside /run/faillock is refused by Landlock.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
[[ -f /lib/x86_64-linux-gnu/libnss_systemd.so.2 || $(ldconfig -p) == *libnss_systemd.so.2* ]] ||
    { echo "SKIP: libnss-systemd not installed" >&2; exit 77; }
[[ -n $(find /lib /usr/lib -name pam_faillock.so 2>/dev/null | head -1) ]] ||
    { echo "SKIP: pam_faillock.so (libpam-modules) not installed" >&2; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 not installed" >&2; exit 77; }
ft_enter "$@"
[[ $FACTOTUM_SECCOMP == ON ]] || echo "NOTE: factotum built without the seccomp filter; the trap checks are skipped"

# 1. files systemd, a userdb service over varlink.
printf 'passwd: files systemd\ngroup: files systemd\nshadow: files\nhosts: files\n' >"$FT_TMP/etc/nsswitch.conf"
mkdir -p /run/systemd/userdb
python3 "$here/userdb_varlink.py" /run/systemd/userdb/io.systemd.DynamicUser "$FT_TMP/varlink.log" &
FT_DAEMONS+=($!)
disown
p9_poll 10 test -S /run/systemd/userdb/io.systemd.DynamicUser || ft_fail "the userdb service did not come up"
[[ $(getent passwd dyn) == dyn:x:61000:61000:* ]] || ft_fail "getent does not see dyn through libnss-systemd"
echo "permit * as dyn" >>"$FT_TMP/etc/factotum.conf"
ft_mount
ft_start
cap=$(ft_request alice bob 'bob secret!') || ft_fail "files systemd: bob: exit $?: $(tail -1 "$FT_TMP/request.err")"
[[ $cap == 2001@2002:* ]] || ft_fail "files systemd: '${cap%@*}'"
grep -q "^pid=$FT_PID io.systemd.UserDatabase.GetMemberships .*\"bob\"" "$FT_TMP/varlink.log" ||
    ft_fail "factotum never asked the userdb service for bob's groups: $(cat "$FT_TMP/varlink.log")"
ft_pass "files systemd: bob granted; factotum asked the userdb service over varlink for his groups"
# dyn exists only in the userdb service: pam_permit, since no shadow entry.
stop_factotum() { kill "$FT_PID"; p9_poll 10 p9_gone "$FT_PID" || ft_fail "factotum did not stop"; }
stop_factotum
ft_start --pam-service p9auth-permit
cap=$(ft_request alice dyn '') || ft_fail "files systemd: dyn: exit $?: $(tail -1 "$FT_TMP/request.err")"
[[ $cap == 2001@61000:* ]] || ft_fail "files systemd: dyn: '${cap%@*}'"
grep -q "^pid=$FT_PID io.systemd.UserDatabase.GetUserRecord .*\"dyn\"" "$FT_TMP/varlink.log" ||
    ft_fail "factotum did not look dyn up over varlink"
p9_poll 10 grep -q "grant client_uid=2001 .*target=dyn to=61000:61000" "$FT_TMP/syslog" || ft_fail "no grant record for dyn"
ft_pass "files systemd: dyn, known only to the userdb service, granted as uid 61000"
! grep -q "seccomp" "$FT_TMP/syslog" || ft_fail "something was trapped: $(grep seccomp "$FT_TMP/syslog")"
ft_pass "nothing trapped by the seccomp filter"
stop_factotum

# 2. pam_faillock around pam_unix, bob's password hashed with yescrypt.
yes_hash=$(python3 -c '
import ctypes
c = ctypes.CDLL("libcrypt.so.1")
c.crypt_gensalt.restype = c.crypt.restype = ctypes.c_char_p
print(c.crypt(b"bob secret!", c.crypt_gensalt(b"$y$", 0, None, 0)).decode())')
[[ $yes_hash == '$y$'* ]] || ft_fail "no yescrypt hash from libcrypt: $yes_hash"
sed -i "s|^bob:[^:]*:|bob:$yes_hash:|" "$FT_TMP/etc/shadow"
mkdir -p /run/faillock
cat >"$FT_TMP/etc/pam.d/p9auth-faillock" <<'P'
auth     required                    pam_faillock.so preauth deny=3 unlock_time=600
auth     [success=1 default=bad]     pam_unix.so nodelay
auth     [default=die]               pam_faillock.so authfail deny=3 unlock_time=600
auth     sufficient                  pam_faillock.so authsucc deny=3
account  required                    pam_faillock.so
account  required                    pam_unix.so
P
# factotum's own throttle out of the way: this is pam_faillock's lock.
ft_start --pam-service p9auth-faillock --fail-limit 100 --client-fail-limit 1000 --target-fail-limit 1000
cap=$(ft_request alice bob 'bob secret!') || ft_fail "faillock: right password: exit $?: $(tail -1 "$FT_TMP/request.err")"
[[ $cap == 2001@2002:* ]] || ft_fail "faillock: '${cap%@*}'"
ft_pass "pam_faillock + pam_unix (yescrypt): bob granted"
for i in 1 2 3; do
    rc=0
    ft_request alice bob "wrong $i" >/dev/null || rc=$?
    [[ $rc == 1 ]] || ft_fail "faillock: wrong password $i: exit $rc"
done
[[ -s /run/faillock/bob ]] || ft_fail "no tally written in /run/faillock"
n=$(faillock --dir /run/faillock --user bob | grep -c ' V$\| I$' || true)
[[ $n -ge 3 ]] || ft_fail "faillock shows $n failures: $(faillock --dir /run/faillock --user bob)"
rc=0
ft_request alice bob 'bob secret!' >/dev/null || rc=$?
[[ $rc == 1 ]] || ft_fail "faillock: the right password after 3 failures: exit $rc (not locked)"
p9_poll 10 grep -q "deny client_uid=2001 .*target=bob reason=auth" "$FT_TMP/syslog" || ft_fail "no auth denial logged"
p9_gone "$FT_PID" && ft_fail "factotum died"
! grep -q "seccomp" "$FT_TMP/syslog" || ft_fail "something was trapped: $(grep seccomp "$FT_TMP/syslog")"
ft_pass "pam_faillock: 3 failures tallied in /run/faillock ($n), then bob locked even with his password; nothing trapped"
stop_factotum

# 3. A module that makes a forbidden call and claims success.
if [[ $FACTOTUM_SECCOMP == ON ]]; then
    [[ -n ${FT_FORBIDDEN_MODULE:-} && -f $FT_FORBIDDEN_MODULE ]] || ft_fail "FT_FORBIDDEN_MODULE not built"
    install -m 0644 "$FT_FORBIDDEN_MODULE" "$FT_TMP/pam_forbidden.so"
    printf 'auth required %s personality\naccount required pam_permit.so\n' "$FT_TMP/pam_forbidden.so" \
        >"$FT_TMP/etc/pam.d/p9auth-forbidden"
    printf 'auth required %s write=/run/factotum-wrote-here\naccount required pam_permit.so\n' "$FT_TMP/pam_forbidden.so" \
        >"$FT_TMP/etc/pam.d/p9auth-writer"
    ft_start --pam-service p9auth-forbidden
    pid=$FT_PID
    rc=0
    ft_request alice bob '' >/dev/null || rc=$?
    [[ $rc != 0 ]] || ft_fail "a module's forbidden call did not stop the grant"
    grep -q "internal error (a PAM or NSS module made a system call factotum forbids (personality (135)); see factotum's log)" \
        "$FT_TMP/request.err" || ft_fail "client message: '$(tail -1 "$FT_TMP/request.err")'"
    p9_poll 10 grep -q "$(ft_who "$pid"): deny client_uid=2001 .*target=bob reason=seccomp (forbidden system call personality (135) during PAM)" \
        "$FT_TMP/syslog" || ft_fail "syslog does not name the call: $(grep "$(ft_who "$pid")" "$FT_TMP/syslog" | tail -3)"
    ! grep -q "grant client_uid=2001 .*target=bob" <(grep "$(ft_who "$pid")" "$FT_TMP/syslog") || ft_fail "granted anyway"
    ft_pass "forbidden call refused: client told '$(tail -1 "$FT_TMP/request.err")'"
    p9_gone "$pid" && ft_fail "factotum died of the forbidden call"
    # The same daemon (same pid) answers the next request: one the policy
    # refuses, so no module runs.
    rc=0
    ft_request alice erin '' >/dev/null || rc=$?
    [[ $rc == 1 ]] || ft_fail "next request: exit $rc"
    p9_poll 10 grep -q "$(ft_who "$pid"): deny client_uid=2001 .*target=erin reason=policy" "$FT_TMP/syslog" ||
        ft_fail "next request not served by pid $pid"
    ft_pass "the same daemon (pid $pid) serves the next request"
    stop_factotum
    # Writes outside /run/faillock: Landlock (when the kernel has it).
    ft_start --pam-service p9auth-writer
    if grep -q "factotum\[$FT_PID\]: started: .*Landlock ABI" "$FT_TMP/syslog"; then
        rc=0
        ft_request alice bob '' >/dev/null || rc=$?
        [[ $rc == 1 && ! -e /run/factotum-wrote-here ]] || ft_fail "a module created a file outside /run/faillock (exit $rc)"
        ft_pass "a module cannot create a file outside /run/faillock (Landlock)"
    else
        echo "SKIP: no Landlock in this kernel: the write confinement is the unit's read-only view only"
    fi
fi
