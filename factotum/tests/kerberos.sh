#!/usr/bin/env bash
# factotum against a real MIT Kerberos KDC, pam_krb5 in its stack:
#  1. without --network the monitor's filter refuses the KDC's socket: the
#     request is refused as an internal error, the daemon serves on;
#  2. with --network, bob's Kerberos password (not his /etc/shadow one)
#     gets alice a capability for bob, and p9use makes her bob;
#  3. a wrong Kerberos password is refused, and enough of them lock
#     alice -> bob (factotum's own throttle); the KDC's lockout policy
#     counts failures from every host and refuses even the right password;
#  4. the KDC stopped: "the authentication service is unavailable", not
#     counted as a failure (more of them than --fail-limit lock nobody);
#     the KDC back: the next login works at once;
#  5. with the host's keytab, pam_krb5 checks the ticket against it: a KDC
#     that does not know the host's key is not believed;
#  6. nothing but the KDC's sockets: nothing trapped, no ticket written;
#  7. a stack without no_ccache fails closed, the reason logged.
# The KDC runs in the test's network namespace (loopback only) from a
# realm made here with kdb5_util; /etc/krb5.conf is the test's, bound over
# the host's in the test's mount namespace. Nothing on the host changes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
fixtures=$here/kerberos
PATH=$PATH:/usr/sbin:/sbin
for b in krb5kdc kdb5_util kadmin.local kinit ip; do
    command -v "$b" >/dev/null ||
        { echo "SKIP: $b not installed (packages krb5-kdc, krb5-admin-server, krb5-user, iproute2)" >&2; exit 77; }
done
module_dir=$(dirname "$(find /lib /usr/lib -name pam_unix.so 2>/dev/null | head -1)")
[[ -f $module_dir/pam_krb5.so ]] || { echo "SKIP: pam_krb5.so (libpam-krb5) not installed" >&2; exit 77; }
[[ -e /etc/krb5.conf ]] || { echo "SKIP: no /etc/krb5.conf to bind over (krb5-config)" >&2; exit 77; }
# A network namespace of our own, loopback only, for the KDC.
if [[ ${FT_KRB_IN_NETNS:-} != 1 && $(id -u) == 0 ]]; then
    export FT_KRB_IN_NETNS=1
    exec unshare --net -- "$0" "$@"
fi
ft_enter "$@"
ip link set lo up
[[ $FACTOTUM_SECCOMP == ON ]] || echo "NOTE: factotum built without the seccomp filter; the trap checks are weaker"

# The realm: a database with a stash, principals for bob and carol.
k=$FT_TMP/krb5
mkdir -p "$k"
sed "s|@TMP@|$FT_TMP|g" "$fixtures/kdc.conf.in" >"$k/kdc.conf"
: >"$k/kadm5.acl"
sed "s|@TMP@|$FT_TMP|g" "$fixtures/krb5.conf.in" >"$k/krb5.conf"
chmod 0644 "$k/krb5.conf"
mount --bind -o ro "$k/krb5.conf" /etc/krb5.conf
export KRB5_KDC_PROFILE=$k/kdc.conf
kdb5_util create -s -r P9AUTH.TEST -P 'test master key' >"$k/create.out" 2>&1 ||
    ft_fail "kdb5_util create: $(cat "$k/create.out")"
for p in 'bob:bob kerberos!' 'carol:carol kerberos!'; do
    kadmin.local addprinc -pw "${p#*:}" "${p%%:*}" >"$k/addprinc.out" 2>&1 &&
        kadmin.local getprinc "${p%%:*}" >/dev/null 2>&1 ||
        ft_fail "kadmin.local addprinc ${p%%:*}: $(cat "$k/addprinc.out")"
done
kdc_pid=
kdc_start() {
    # -n: in the foreground, a pid of ours to stop and start again.
    krb5kdc -n 2>>"$k/kdc.err" &
    kdc_pid=$!
    FT_DAEMONS+=("$kdc_pid")
    disown
    # Ready when it issues a ticket (to a memory cache: nothing written).
    kdc_answers() { KRB5CCNAME=MEMORY:probe kinit carol <<<'carol kerberos!' >/dev/null 2>&1; }
    p9_poll 15 kdc_answers || ft_fail "the KDC does not issue tickets: $(tail -5 "$k/kdc.err" "$k/kdc.log" 2>/dev/null)"
}
kdc_stop() {
    kill "$kdc_pid"
    p9_poll 10 p9_gone "$kdc_pid" || ft_fail "krb5kdc did not stop"
}
kdc_start

# The stack a Kerberos host would give factotum: pam_krb5 decides, and
# keeps no ticket (no_ccache: factotum's Landlock forbids the write, and a
# grant needs none). minimum_uid: root stays with the local files.
printf 'auth required pam_krb5.so minimum_uid=1000 no_ccache\naccount required pam_krb5.so minimum_uid=1000 no_ccache\n' \
    >"$FT_TMP/etc/pam.d/p9auth-krb5"

try() {  # try USER TARGET ANSWER: prints the exit status and the message
    local rc=0
    : >"$FT_TMP/request.err"
    ft_request "$@" >/dev/null || rc=$?
    echo "$rc $(tail -1 "$FT_TMP/request.err")"
}
stop_factotum() { kill "$FT_PID"; p9_poll 10 p9_gone "$FT_PID" || ft_fail "factotum did not stop"; }
ft_mount

# 1. Without --network: the filter holds.
if [[ $FACTOTUM_SECCOMP == ON ]]; then
    ft_start --pam-service p9auth-krb5
    out=$(try alice bob 'bob kerberos!')
    [[ $out == "3 "*"internal error"*"socket"* ]] || ft_fail "without --network: '$out', want an internal error naming socket"
    p9_poll 10 grep -q "$(ft_who "$FT_PID"): deny client_uid=2001 .*reason=seccomp (forbidden system call socket" "$FT_TMP/syslog" ||
        ft_fail "without --network: no trap of socket logged"
    p9_gone "$FT_PID" && ft_fail "without --network: factotum died"
    ft_pass "without --network the monitor may not open the KDC's socket: refused ($out), the daemon serves on"
    stop_factotum
fi

# 2. With --network: bob's Kerberos password.
ft_start --pam-service p9auth-krb5 --network --fail-limit 3 --lockout 60
cap=$(ft_request alice bob 'bob kerberos!') || ft_fail "bob's Kerberos password: exit $?: $(tail -1 "$FT_TMP/request.err")"
[[ $cap == 2001@2002:2002:2002,2100,2101,2102@* ]] || ft_fail "capability '${cap%@*}'"
got=$(ft_use alice "$cap" /usr/bin/id -u) || ft_fail "p9use refused the capability"
[[ $got == 2002 ]] || ft_fail "p9use made alice uid $got, want 2002"
grep -q 'ISSUE: .* bob@P9AUTH.TEST for krbtgt/P9AUTH.TEST' "$k/kdc.log" || ft_fail "the KDC issued bob no ticket"
ft_pass "bob's Kerberos password (checked by the KDC) got alice a capability; p9use made her bob"
# bob's local password is not his Kerberos one: the KDC decided.
out=$(try alice bob 'bob secret!')
[[ $out == "1 "*"authentication failed"* ]] || ft_fail "bob's /etc/shadow password through pam_krb5: '$out'"
ft_pass "bob's /etc/shadow password is refused: pam_krb5, not pam_unix, decides"

# 3. Wrong passwords: refused, then the pair is locked (one above was the first).
for i in 2 3; do
    out=$(try alice bob 'not bob kerberos')
    [[ $out == "1 "*"authentication failed"* ]] || ft_fail "wrong Kerberos password $i: '$out'"
done
grep -q "$(ft_who "$FT_PID"): deny client_uid=2001 .*target=bob reason=auth" "$FT_TMP/syslog" ||
    ft_fail "no auth denial logged"
out=$(try alice bob 'bob kerberos!')
[[ $out == "1 "*"too many failures"* ]] || ft_fail "after 3 failures, the right password: '$out'"
ft_pass "wrong Kerberos passwords refused; after 3, alice -> bob is locked ($out)"
cap=$(ft_request carol bob 'bob kerberos!') || ft_fail "carol locked out of bob by alice's failures"
[[ $cap == 2003@2002:* ]] || ft_fail "carol's capability '${cap%@*}'"
ft_pass "the lock is alice's: carol still becomes bob"

# 4. The KDC down: unavailable, not a failure. carol asks 5 times (more
# than --fail-limit 3) and is not locked.
kdc_stop
for i in 1 2 3 4 5; do
    out=$(try carol bob 'bob kerberos!')
    [[ $out == "3 "*"authentication service is unavailable"* ]] || ft_fail "KDC down, request $i: '$out'"
done
p9_poll 10 grep -q "$(ft_who "$FT_PID"): deny client_uid=2003 .*target=bob reason=unavailable" "$FT_TMP/syslog" ||
    ft_fail "no 'unavailable' refusal logged: $(grep 'client_uid=2003' "$FT_TMP/syslog" | tail -2)"
! grep -q "lock client_uid=2003" "$FT_TMP/syslog" || ft_fail "carol was locked while the KDC was down"
ft_pass "KDC stopped: 'the authentication service is unavailable' ($out), 5 times, nobody locked"
kdc_start
cap=$(ft_request carol bob 'bob kerberos!') || ft_fail "KDC back: exit $?: $(tail -1 "$FT_TMP/request.err")"
[[ $cap == 2003@2002:* ]] || ft_fail "KDC back: capability '${cap%@*}'"
ft_pass "KDC back: carol becomes bob at once (the outage was not charged)"

# Over TCP (a reply too large for UDP, or a site that blocks UDP): the
# same file rewritten in place (the bind mount holds its inode); libkrb5
# reads it again at each login.
sed -e "s|@TMP@|$FT_TMP|g" -e 's/udp_preference_limit = .*/udp_preference_limit = 1/' "$fixtures/krb5.conf.in" >"$k/krb5.conf.tcp"
cat "$k/krb5.conf.tcp" >"$k/krb5.conf"
grep -q 'udp_preference_limit = 1$' /etc/krb5.conf || ft_fail "/etc/krb5.conf was not switched to TCP"
cap=$(ft_request carol bob 'bob kerberos!') || ft_fail "over TCP: exit $?: $(tail -1 "$FT_TMP/request.err")"
[[ $cap == 2003@2002:* ]] || ft_fail "over TCP: capability '${cap%@*}'"
ft_pass "the KDC over TCP: carol becomes bob"

# The realm's own lockout counts every host's failures: dave's principal
# locks after 3 (a kadmin policy). Two wrong passwords on "another host"
# (kinit here) and one through factotum lock him at the KDC, although this
# factotum saw only one failure; then even his right password is refused
# (the KDC says LOCKED_OUT), for a client factotum never throttled. An
# admin's unlock lets him in again.
kadmin.local addpol -maxfailure 3 -failurecountinterval 600 -lockoutduration 600 fleet >"$k/pol.out" 2>&1 &&
    kadmin.local addprinc -policy fleet -pw 'dave kerberos!' dave >>"$k/pol.out" 2>&1 || ft_fail "lockout policy: $(cat "$k/pol.out")"
for i in 1 2; do
    ! KRB5CCNAME=MEMORY:other kinit dave <<<'not dave kerberos' >/dev/null 2>&1 || ft_fail "kinit with a wrong password worked"
done
out=$(try alice dave 'not dave kerberos')
[[ $out == "1 "*"authentication failed"* ]] || ft_fail "dave, wrong password: '$out'"
out=$(try carol dave 'dave kerberos!')
[[ $out == "1 "*"authentication failed"* ]] || ft_fail "dave locked at the KDC, right password: '$out'"
grep -q 'LOCKED_OUT: dave@P9AUTH.TEST' "$k/kdc.log" || ft_fail "the KDC did not lock dave: $(grep dave@ "$k/kdc.log" | tail -1)"
! grep -q 'lock client_uid=2003' "$FT_TMP/syslog" || ft_fail "factotum locked carol"
ft_pass "the KDC's lockout (3 failures over all hosts) refuses dave's right password ($out); factotum throttled nobody"
kadmin.local modprinc -unlock dave >/dev/null 2>&1 || ft_fail "kadmin.local modprinc -unlock dave"
cap=$(ft_request carol dave 'dave kerberos!') || ft_fail "dave after the unlock: exit $?: $(tail -1 "$FT_TMP/request.err")"
[[ $cap == 2003@2004:* ]] || ft_fail "dave after the unlock: '${cap%@*}'"
ft_pass "unlocked at the KDC, dave's password works again"

# 5. The host's keytab: pam_krb5 then asks the KDC for a ticket to the
# host's own principal and decrypts it with the keytab, so a forged KDC
# (which does not know the host's key) cannot answer for bob. factotum
# reads the keytab (uid 0, read-only) and needs no replay cache.
host=host/factotum.p9auth.test
kadmin.local addprinc -randkey "$host" >"$k/host.out" 2>&1 &&
    kadmin.local ktadd -k "$k/krb5.keytab" "$host" >>"$k/host.out" 2>&1 || ft_fail "host keytab: $(cat "$k/host.out")"
chmod 0600 "$k/krb5.keytab"
tgs() { grep -c "TGS_REQ .* bob@P9AUTH.TEST for $host@P9AUTH.TEST" "$k/kdc.log" || true; }
before=$(tgs)
cap=$(ft_request carol bob 'bob kerberos!') || ft_fail "with a keytab: exit $?: $(tail -1 "$FT_TMP/request.err")"
[[ $cap == 2003@2002:* ]] || ft_fail "with a keytab: capability '${cap%@*}'"
(($(tgs) > before)) || ft_fail "pam_krb5 did not check the ticket against the keytab (no TGS_REQ for $host)"
ft_pass "with the host's keytab, pam_krb5 validates the ticket (a TGS for $host) inside factotum's filter"
# The KDC's key for the host changes, the keytab does not: what a KDC that
# does not know the host's key would give. The right password is refused.
kadmin.local cpw -randkey "$host" >"$k/cpw.out" 2>&1 || ft_fail "cpw: $(cat "$k/cpw.out")"
out=$(try carol bob 'bob kerberos!')
[[ $out == "1 "*"authentication failed"* ]] || ft_fail "a ticket the keytab cannot check: '$out'"
ft_pass "a ticket the host's keytab cannot decrypt is refused, right password or not ($out)"

# 6. Nothing trapped, no credential cache left behind.
p9_gone "$FT_PID" && ft_fail "factotum died"
! grep "$(ft_who "$FT_PID")" "$FT_TMP/syslog" | grep -q seccomp ||
    ft_fail "something was trapped: $(grep "$(ft_who "$FT_PID")" "$FT_TMP/syslog" | grep seccomp)"
ccs=$(find /tmp /run -maxdepth 2 -name 'krb5cc*' -newer "$k/kdc.conf" 2>/dev/null | head -3)
[[ -z $ccs ]] || ft_fail "a credential cache was written: $ccs"
ft_pass "--network: nothing trapped by the seccomp filter, no credential cache written"
stop_factotum

# 7. The stack without no_ccache: pam_krb5 would keep the ticket in /tmp,
# which factotum's Landlock rule forbids. Refused as an internal error
# (not a wrong password), the cause in the log. (The keytab step 5
# spoiled goes first.)
rm -f "$k/krb5.keytab"
printf 'auth required pam_krb5.so minimum_uid=1000\naccount required pam_krb5.so minimum_uid=1000\n' \
    >"$FT_TMP/etc/pam.d/p9auth-krb5-ccache"
ft_start --pam-service p9auth-krb5-ccache --network
out=$(try carol bob 'bob kerberos!')
[[ $out == "3 "*"internal error"* ]] || ft_fail "without no_ccache: '$out', want an internal error"
p9_poll 10 grep -q "$(ft_who "$FT_PID"): pam_krb5.*mkstemp(\"/tmp/krb5cc_pam_.*Permission denied" "$FT_TMP/syslog" ||
    ft_fail "without no_ccache: the refused credential cache is not in the log"
ft_pass "without no_ccache: refused as an internal error, pam_krb5's refused ticket file in the log ($out)"
stop_factotum
