#!/usr/bin/env bash
# factotum on a directory-joined host: a real slapd holds users
# (posixAccount) and groups (posixGroup) that no /etc file knows, and the
# host reads it through the stock NSS and PAM modules:
#  1. nslcd (libnss-ldapd, libpam-ldapd): "passwd: files ldap", pam_ldap
#     in factotum's stack. alice asks for dora, who exists only in the
#     directory: the grant is the full form with the directory's uid, gid
#     and groups, p9use makes alice exactly that, a wrong password is
#     refused, p9grant resolves dora too, nothing is trapped by seccomp.
#  2. SSSD (libnss-sss, libpam-sss, sssd-ldap): the same with "passwd:
#     files sss" and pam_sss, sssd's ldap id and auth providers.
#  3. SSSD again with factotum as its dedicated user (--user, a
#     grant_uid= mount): no shadow needed, pam_sss's unprivileged pipe.
# And, with nslcd, dora logs in through p9su (a real pty) and p9logind
# (TCP, as its own user p9login): the directory's uid, gid and groups.
# Every daemon runs in the test's namespaces: slapd listens only on a Unix
# socket (ldapi) in the private /run, nslcd and sssd read configuration
# bind-mounted over /etc (fixtures in directory/) and keep their state in
# the test's directory; the host's /etc, /var and services are untouched.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
fixtures=$here/directory
for b in slapd slapadd slappasswd nslcd; do
    command -v "$b" >/dev/null || [[ -x /usr/sbin/$b ]] ||
        { echo "SKIP: $b not installed (packages slapd, nslcd, libnss-ldapd, libpam-ldapd)" >&2; exit 77; }
done
module_dir=$(dirname "$(find /lib /usr/lib -name pam_unix.so 2>/dev/null | head -1)")
[[ -f $module_dir/pam_ldap.so ]] || { echo "SKIP: pam_ldap.so (libpam-ldapd) not installed" >&2; exit 77; }
# (Not ldconfig -p | grep -q: grep leaving early makes ldconfig's SIGPIPE the pipeline's status under pipefail.)
[[ $(ldconfig -p) == *libnss_ldap.so.2* ]] || { echo "SKIP: libnss_ldap.so.2 (libnss-ldapd) not installed" >&2; exit 77; }
PATH=$PATH:/usr/sbin:/sbin
command -v ip >/dev/null || { echo "SKIP: ip (iproute2) not installed" >&2; exit 77; }
# A network namespace of our own, loopback only, for slapd's TCP listener
# (SSSD's failover resolves a server name and cannot use ldapi://).
if [[ ${FT_DIR_IN_NETNS:-} != 1 && $(id -u) == 0 ]]; then
    export FT_DIR_IN_NETNS=1
    exec unshare --net -- "$0" "$@"
fi
ft_enter "$@"
ip link set lo up
[[ $FACTOTUM_SECCOMP == ON ]] || echo "NOTE: factotum built without the seccomp filter; the trap checks are weaker"

# The directory: slapd from a slapd.conf of our own, database by slapadd.
mkdir -p "$FT_TMP/ldapdb" /run/slapd
sed "s|@TMP@|$FT_TMP|g" "$fixtures/slapd.conf.in" >"$FT_TMP/slapd.conf"
sed -e "s|@DORA_HASH@|$(slappasswd -s 'dora secret!')|" -e "s|@FRED_HASH@|$(slappasswd -s 'fred secret!')|" \
    "$fixtures/tree.ldif" >"$FT_TMP/tree.ldif"
slapadd -q -f "$FT_TMP/slapd.conf" -l "$FT_TMP/tree.ldif" 2>"$FT_TMP/slapadd.err" ||
    ft_fail "slapadd: $(cat "$FT_TMP/slapadd.err")"
# -d: stay in the foreground (a pid of ours to kill); level 0 is quiet.
# ldapi for nslcd, loopback TCP (this namespace's only) for SSSD.
slapd -f "$FT_TMP/slapd.conf" -h 'ldapi://%2Frun%2Fslapd%2Fldapi ldap://127.0.0.1:389/' -d 0 2>"$FT_TMP/slapd.err" &
FT_DAEMONS+=($!)
disown
p9_poll 15 test -S /run/slapd/ldapi || ft_fail "slapd did not come up: $(cat "$FT_TMP/slapd.err")"

ft_mount
# The fixture policy lets :staff (alice) become anyone, so PAM decides.
want_cap='^2001@5001:5001:5001,5100,5101@[A-Za-z0-9_-]{43}$'
want_creds="uid=5001 5001 5001 5001 gid=5001 5001 5001 5001 groups=5001 5100 5101"
stop_factotum() { kill "$FT_PID"; p9_poll 10 p9_gone "$FT_PID" || ft_fail "factotum did not stop"; }

# directory_checks NAME SERVICE: what both stacks must show.
directory_checks() {
    local name=$1 service=$2 cap got rc
    [[ $(getent passwd dora) == dora:*:5001:5001:* ]] || ft_fail "$name: getent does not see dora: '$(getent passwd dora)'"
    ! grep -q '^dora:' /etc/passwd || ft_fail "dora is in the fixture /etc/passwd"
    ft_start --pam-service "$service"
    cap=$(ft_request alice dora 'dora secret!') || ft_fail "$name: dora: exit $?: $(tail -1 "$FT_TMP/request.err")"
    [[ $cap =~ $want_cap ]] || ft_fail "$name: capability '${cap%@*}', want the directory's 2001@5001:5001:5001,5100,5101"
    got=$(ft_use alice "$cap" /bin/cat /proc/self/status | ft_creds)
    [[ $got == "$want_creds" ]] || ft_fail "$name: after p9use: $got, want $want_creds"
    ft_pass "$name: dora (directory only) granted with the directory's ids; p9use made alice exactly her ($got)"
    rc=0
    ft_request alice dora 'not dora secret' >/dev/null || rc=$?
    [[ $rc == 1 ]] || ft_fail "$name: wrong password: exit $rc"
    p9_poll 10 grep -q "$(ft_who "$FT_PID"): deny client_uid=2001 .*target=dora reason=auth" "$FT_TMP/syslog" ||
        ft_fail "$name: no auth denial logged: $(grep "$(ft_who "$FT_PID")" "$FT_TMP/syslog" | tail -2)"
    ft_pass "$name: a wrong password for dora is refused"
    # The same directory user, a second time: the module keeps working
    # once its connection to the daemon is open.
    cap=$(ft_request alice fred 'fred secret!') || ft_fail "$name: fred: exit $?: $(tail -1 "$FT_TMP/request.err")"
    [[ $cap == 2001@5002:5002:5002,5100@* ]] || ft_fail "$name: fred: '${cap%@*}'"
    ft_pass "$name: fred granted as 5002:5002:5002,5100"
    if [[ -n ${P9GRANT:-} && -x $P9GRANT ]]; then
        cap=$("$P9GRANT" alice dora) || ft_fail "$name: p9grant alice dora exited $?"
        [[ $cap =~ $want_cap ]] || ft_fail "$name: p9grant printed '${cap%@*}'"
        got=$(ft_use alice "$cap" /usr/bin/id -u) || ft_fail "$name: p9grant's capability refused"
        [[ $got == 5001 ]] || ft_fail "$name: p9grant's capability made alice $got"
        ft_pass "$name: p9grant resolves dora through the same NSS"
    fi
    p9_gone "$FT_PID" && ft_fail "$name: factotum died"
    ! grep -q "seccomp" "$FT_TMP/syslog" || ft_fail "$name: something was trapped: $(grep seccomp "$FT_TMP/syslog")"
    ft_pass "$name: nothing trapped by the seccomp filter"
    stop_factotum
}

# 1. nslcd.
install -m 0600 "$fixtures/nslcd.conf" "$FT_TMP/etc/nslcd.conf"
[[ -e /etc/nslcd.conf ]] || ft_fail "no /etc/nslcd.conf to bind over (nslcd package incomplete)"
mount --bind -o ro "$FT_TMP/etc/nslcd.conf" /etc/nslcd.conf
mkdir -p /run/nslcd
nslcd -n 2>"$FT_TMP/nslcd.err" &
FT_DAEMONS+=($!)
nslcd_pid=$!
disown
p9_poll 15 test -S /run/nslcd/socket || ft_fail "nslcd did not come up: $(cat "$FT_TMP/nslcd.err")"
printf 'passwd: files ldap\ngroup: files ldap\nshadow: files\nhosts: files\n' >"$FT_TMP/etc/nsswitch.conf"
# Debian's pam-auth-update puts pam_ldap after pam_unix; factotum's own
# service needs only the directory.
printf 'auth required pam_ldap.so minimum_uid=1000\naccount required pam_ldap.so minimum_uid=1000\n' \
    >"$FT_TMP/etc/pam.d/p9auth-ldap"
directory_checks nslcd p9auth-ldap

# dora logs in through the login programs, as a person would: p9su on a
# real terminal and p9logind over TCP. Both get her capability from the
# same factotum (pam_ldap) and run p9use; what she becomes is what the
# directory says, names included (id asks NSS, that is nslcd).
want_id='uid=5001(dora) gid=5001(dora) groups=5001(dora),5100(dirstaff),5101(dirlab)'
login_module=
if [[ -n ${PAM_P9AUTH:-} && -e $PAM_P9AUTH ]]; then
    # The module is loaded by unprivileged programs: a world-readable copy.
    login_module=$FT_TMP/pam_p9auth.so
    install -m 0644 "$PAM_P9AUTH" "$login_module"
    # p9logind asks as its own user, p9login.
    echo 'p9login:x:3020:3020:p9logind:/nonexistent:/usr/sbin/nologin' >>"$FT_TMP/etc/passwd"
    echo 'p9login:x:3020:' >>"$FT_TMP/etc/group"
    echo 'permit p9login as dora' >>"$FT_TMP/etc/factotum.conf"
    # Pseudo-terminals of our own (the private /dev has none).
    mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 dir-test-pts /dev/pts
    ln -sf pts/ptmx /dev/ptmx
    chmod 0755 "$FT_TMP"
    ft_start --pam-service p9auth-ldap
fi
if [[ -n $login_module && -n ${P9SU:-} && -x $P9SU ]]; then
    printf 'session required pam_unix.so\n' >"$FT_TMP/etc/pam.d/p9su"
    su_dora() {  # su_dora PASSWORD: alice runs p9su - dora -c id on a pty; sets rc
        rc=0
        printf '%s\n' "$1" | python3 "$here/../../tools/p9su/tests/pty_drive.py" "$FT_TMP/su" -- \
            setpriv --reuid=alice --regid=alice --init-groups -- \
            env -i TERM=xterm PATH=/usr/bin:/bin "$P9SU" --socket "$FT_SOCK" --p9use "$P9USE_CAPS" \
            - dora -c 'id; echo "USER=$USER HOME=$HOME SHELL=$SHELL"' || rc=$?
        out=$(tr -d '\r' <"$FT_TMP/su.out")
    }
    su_dora 'dora secret!'
    [[ $rc == 0 ]] || ft_fail "p9su - dora: exit $rc: $out"
    grep -qxF "$want_id" <<<"$out" || ft_fail "p9su - dora: id says '$(grep uid= <<<"$out")', want $want_id"
    grep -qx 'USER=dora HOME=/nonexistent SHELL=/bin/sh' <<<"$out" || ft_fail "p9su - dora: login environment: $out"
    ft_pass "p9su - dora on a pty: $want_id, the directory's home and shell"
    su_dora 'not dora secret'
    [[ $rc == 1 ]] || ft_fail "p9su, wrong password: exit $rc, want 1: $out"
    ! grep -q 'uid=5001' <<<"$out" || ft_fail "p9su ran the command after a wrong password"
    ft_pass "p9su - dora with a wrong password: exit 1, nothing run"
else
    echo "SKIP: \$P9SU or \$PAM_P9AUTH not set: no p9su login for dora" >&2
fi
if [[ -n $login_module && -n ${P9LOGIND:-} && -x $P9LOGIND ]] && command -v socat >/dev/null; then
    printf 'auth required %s socket=%s\naccount required %s\nsession required pam_unix.so\n' \
        "$login_module" "$FT_SOCK" "$login_module" >"$FT_TMP/etc/pam.d/p9login-dir"
    # utmp, wtmp and lastlog of this namespace only, as on Debian.
    echo 'utmp:x:43:p9login' >>"$FT_TMP/etc/group"
    mount -t tmpfs -o mode=0755 dir-test-log /var/log
    for f in /run/utmp /var/log/wtmp /var/log/lastlog; do install -m 0664 -o root -g utmp /dev/null "$f"; done
    install -d -m 0700 -o p9login -g p9login "$FT_TMP/logind-state"
    setpriv --reuid=p9login --regid=p9login --init-groups -- "$P9LOGIND" --listen 127.0.0.1:0 --service p9login-dir \
        --p9use "$P9USE_CAPS" --state-dir "$FT_TMP/logind-state" --auth-timeout 10 2>"$FT_TMP/logind.err" &
    logind_pid=$!
    FT_DAEMONS+=("$logind_pid")
    disown
    p9_poll 15 grep -q 'listening on' "$FT_TMP/logind.err" || ft_fail "p9logind did not listen: $(cat "$FT_TMP/logind.err")"
    port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$FT_TMP/logind.err")
    login() { printf '%s\n' "$@" | timeout 30 socat -t 10 - "TCP:127.0.0.1:$port" | tr -d '\r'; }
    out=$(login dora 'dora secret!' 'id; echo "USER=$USER HOME=$HOME"' exit)
    # (lines the shell prints may follow its prompt, "$ ")
    sed 's/^\$ //' <<<"$out" | grep -qxF "$want_id" || ft_fail "p9logind, dora: $out"
    sed 's/^\$ //' <<<"$out" | grep -qx 'USER=dora HOME=/nonexistent' || ft_fail "p9logind, dora's environment: $out"
    ft_pass "p9logind: dora logs in over TCP as $want_id"
    out=$(login dora 'not dora secret' 'id')
    grep -q 'Login incorrect' <<<"$out" || ft_fail "p9logind, wrong password: $out"
    ! grep -q 'uid=5001' <<<"$out" || ft_fail "p9logind ran a command after a wrong password: $out"
    ft_pass "p9logind: a wrong password for dora is 'Login incorrect'"
    kill "$logind_pid"
    p9_poll 10 p9_gone "$logind_pid" || ft_fail "p9logind did not stop"
else
    echo "SKIP: \$P9LOGIND, \$PAM_P9AUTH or socat missing: no p9logind login for dora" >&2
fi
if [[ -n $login_module ]]; then
    ! grep "$(ft_who "$FT_PID")" "$FT_TMP/syslog" | grep -q seccomp || ft_fail "logins: something was trapped"
    stop_factotum
fi
kill "$nslcd_pid"
p9_poll 10 p9_gone "$nslcd_pid" || ft_fail "nslcd did not stop"

# 2. SSSD.
if ! command -v sssd >/dev/null || [[ ! -f $module_dir/pam_sss.so ]] || [[ $(ldconfig -p) != *libnss_sss.so.2* ]]; then
    echo "SKIP: sssd, libnss-sss or libpam-sss not installed: the SSSD stack is not tested" >&2
    exit 0
fi
# sssd's state and sockets in the test's directory, not the host's /var.
mkdir -p "$FT_TMP/sss/db" "$FT_TMP/sss/pipes/private" "$FT_TMP/sss/mc" "$FT_TMP/sss/pubconf" \
    "$FT_TMP/sss/gpo_cache" "$FT_TMP/sss/secrets" "$FT_TMP/sss/deskprofile" "$FT_TMP/sssd-log" "$FT_TMP/sssd-etc"
chmod 0700 "$FT_TMP/sss/db" "$FT_TMP/sss/pipes/private" "$FT_TMP/sss/secrets"
chmod 0775 "$FT_TMP/sss/mc"
mount --bind "$FT_TMP/sss" /var/lib/sss
mkdir -p /var/log/sssd
mount --bind "$FT_TMP/sssd-log" /var/log/sssd
install -m 0600 "$fixtures/sssd.conf" "$FT_TMP/sssd-etc/sssd.conf"
mkdir -p /etc/sssd
mount --bind -o ro "$FT_TMP/sssd-etc" /etc/sssd
printf 'passwd: files sss\ngroup: files sss\nshadow: files\nhosts: files\n' >"$FT_TMP/etc/nsswitch.conf"
sssd -i --logger=stderr 2>"$FT_TMP/sssd.err" &
FT_DAEMONS+=($!)
disown
p9_poll 30 test -S /var/lib/sss/pipes/nss || ft_fail "sssd did not come up: $(tail -20 "$FT_TMP/sssd.err")"
dora_known() { [[ $(getent passwd dora | cut -d: -f3) == 5001 ]]; }
# sssd answers "offline" until its provider has connected: poll.
p9_poll 30 dora_known ||
    ft_fail "sssd: dora not found: $(tail -20 "$FT_TMP/sssd.err")"
printf 'auth required pam_sss.so\naccount required pam_sss.so\n' >"$FT_TMP/etc/pam.d/p9auth-sss"
directory_checks sssd p9auth-sss

# 3. SSSD reads no shadow, so factotum may drop to a dedicated user: the
# mount lets only uid 3010 grant, and pam_sss, no longer run by uid 0,
# takes sssd's unprivileged pipe.
p9_poll 10 umount "$FT_MNT" 2>/dev/null || ft_fail "cannot unmount $FT_MNT"
ft_mount grant_uid=3010
ft_start --user factotum --pam-service p9auth-sss
cap=$(ft_request alice dora 'dora secret!') || ft_fail "sssd, --user factotum: exit $?: $(tail -1 "$FT_TMP/request.err")"
[[ $cap =~ $want_cap ]] || ft_fail "sssd, --user factotum: '${cap%@*}'"
[[ $(ft_use alice "$cap" /usr/bin/id -G) == "5001 5100 5101" ]] || ft_fail "sssd, --user factotum: p9use: $(ft_use alice "$cap" /usr/bin/id -G)"
rc=0
ft_request alice dora 'not dora secret' >/dev/null || rc=$?
[[ $rc == 1 ]] || ft_fail "sssd, --user factotum: wrong password: exit $rc"
! grep -q "seccomp" "$FT_TMP/syslog" || ft_fail "sssd, --user factotum: something was trapped: $(grep seccomp "$FT_TMP/syslog")"
ft_pass "sssd with factotum as the dedicated user (uid 3010): dora granted, a wrong password refused, nothing trapped"
