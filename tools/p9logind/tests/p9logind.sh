#!/usr/bin/env bash
# p9logind over loopback with socat: the daemon runs as its own user
# (p9login) with no capability; bob logs in with his password and his
# commands run as exactly bob; a wrong password is refused and the
# connection closes; the daemon keeps serving; inetd mode works the same;
# no password or capability in the log.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../../pam_p9auth/tests/lib.sh
. "$here/../../../pam_p9auth/tests/lib.sh"
[[ -n ${P9LOGIND:-} && -x ${P9LOGIND} ]] || { echo "SKIP: \$P9LOGIND not set" >&2; exit 77; }
command -v socat >/dev/null || { echo "SKIP: socat not installed (scripts/debian-packages.txt)" >&2; exit 77; }
login_enter "$@"

# The daemon's dedicated user.
echo 'p9login:x:3020:3020:p9logind:/nonexistent:/usr/sbin/nologin' >>"$FT_TMP/etc/passwd"
echo 'p9login:x:3020:' >>"$FT_TMP/etc/group"
echo "p9login:!:$(($(date +%s) / 86400)):0:99999:7:::" >>"$FT_TMP/etc/shadow"
# bob's home: only bob may enter it, so the shell can start there only if
# the directory is entered after the switch, as bob.
chmod 0755 "$FT_TMP"
install -d -m 0700 -o bob -g bob "$FT_TMP/home-bob"
# (rewritten in place: /etc/passwd is a bind mount of this very inode)
passwd=$(sed "s|^bob:\([^:]*:[^:]*:[^:]*:[^:]*\):[^:]*:|bob:\1:$FT_TMP/home-bob:|" "$FT_TMP/etc/passwd")
printf '%s\n' "$passwd" >"$FT_TMP/etc/passwd"
[[ $(getent passwd bob | cut -d: -f6) == "$FT_TMP/home-bob" ]] || ft_fail "bob's home not set: $(getent passwd bob)"
# The session phase: pam_env sets a variable the login shell sees, and
# pam_limits lowers a limit (both as p9login, unprivileged).
printf 'P9LOGIND_TEST_ENV DEFAULT=set-by-pam-env\n' >"$FT_TMP/pam_env.conf"
printf 'bob hard nofile 321\n' >"$FT_TMP/limits.conf"
chmod 0644 "$FT_TMP/pam_env.conf" "$FT_TMP/limits.conf"
printf 'session required pam_env.so readenv=0 conffile=%s\nsession required pam_limits.so conf=%s\n' \
    "$FT_TMP/pam_env.conf" "$FT_TMP/limits.conf" >>"$FT_TMP/etc/pam.d/p9login-test"
# utmp, wtmp and lastlog of this namespace only (a tmpfs on /var/log, /run
# is one already), root:utmp 0664 as on Debian; p9login is in group utmp.
echo 'utmp:x:43:p9login' >>"$FT_TMP/etc/group"
mount -t tmpfs -o mode=0755 p9logind-test-log /var/log
for f in /run/utmp /var/log/wtmp /var/log/lastlog; do install -m 0664 -o root -g utmp /dev/null "$f"; done
[[ $(readlink -f /var/run/utmp) == /run/utmp ]] || ft_fail "/var/run/utmp is not /run/utmp here"

# setpriv itself (not p9_as, a shell function) so that $! is the daemon.
setpriv --reuid=p9login --regid=p9login --init-groups -- "$P9LOGIND" --listen 127.0.0.1:0 --service p9login-test --p9use "$P9USE_CAPS" \
    --auth-timeout 5 --idle-timeout 30 2>"$FT_TMP/logind.err" &
LD_PID=$!
FT_DAEMONS+=("$LD_PID")
p9_poll 15 grep -q 'listening on' "$FT_TMP/logind.err" || ft_fail "p9logind did not listen: $(cat "$FT_TMP/logind.err")"
port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$FT_TMP/logind.err")

login() {  # login LINES...: one connection with socat; prints what came back
    printf '%s\n' "$@" | timeout 30 socat -t 10 - "TCP:127.0.0.1:$port" | tr -d '\r'
}

out=$(login bob 'bob secret!' 'id; echo "HOME=$HOME USER=$USER PWD=$(pwd)"; echo "ARGV0=$(tr "\0" "\n" </proc/$$/cmdline | head -1)"; stat -c "tty owner %U" "$(tty)"; echo "TTY=$(tty)"; who | sed "s/^/WHO: /"; echo "ENV=$P9LOGIND_TEST_ENV NOFILE=$(ulimit -Hn)"' exit)
# (lines the shell prints may follow its prompt, "$ ")
grep -qE '^(\$ )?uid=2002\(bob\) gid=2002\(bob\) groups=2002\(bob\),2100\(staff\),2101\(dev\),2102\(audio\)$' <<<"$out" ||
    ft_fail "bob's session: $out"
grep -qE "^(\\$ )?HOME=$FT_TMP/home-bob USER=bob PWD=$FT_TMP/home-bob\$" <<<"$out" || ft_fail "bob's environment and directory: $out"
grep -qE '^(\$ )?ARGV0=-sh$' <<<"$out" || ft_fail "a login shell's argv[0] is -sh: $out"
grep -qE '^(\$ )?tty owner p9login$' <<<"$out" || ft_fail "the pty's owner: $out"
! grep -qF 'bob secret' <<<"$out" || ft_fail "the password came back"
ft_pass "socat login as bob: $(grep -o 'uid=.*' <<<"$out"); a login shell (-sh) in his home (mode 0700); the pty belongs to p9login, as documented"

grep -qE '^(\$ )?ENV=set-by-pam-env NOFILE=321$' <<<"$out" || ft_fail "the session phase (pam_env, pam_limits): $out"
ft_pass "the session phase ran: pam_env's variable and pam_limits' lowered nofile (321) in bob's shell"

# who, inside the session, shows it: bob on his pty, from the peer.
line=$(sed -nE 's|^(\$ )?TTY=/dev/(pts/[0-9]+)$|\2|p' <<<"$out")
[[ -n $line ]] || ft_fail "no tty in the session: $out"
grep -qE "^WHO: bob +$line .*\(127\.0\.0\.1\)\$" <<<"$out" || ft_fail "who in bob's session: $out"
# After the logout: gone from utmp, a login and a logout in wtmp, lastlog.
who_bob() { who /var/run/utmp | grep -q "^bob "; }
p9_poll 15 eval '! who_bob' || ft_fail "bob still in utmp after his logout: $(who /var/run/utmp)"
# (wtmp is written just after utmp)
logged_out() { last -f /var/log/wtmp -w | grep -qE "^bob +$line +127\.0\.0\.1 .* - [0-9]"; }
p9_poll 15 logged_out || ft_fail "last -f wtmp: $(last -f /var/log/wtmp -w) $(utmpdump /var/log/wtmp 2>&1)"
ll=$(lastlog -u bob)
grep -qE "^bob +$line +127\.0\.0\.1 " <<<"$ll" || ft_fail "lastlog -u bob: $ll"
ft_pass "who shows bob on $line from 127.0.0.1 while he is on; after: not in utmp, login and logout in wtmp (last), lastlog"

st=$(cat "/proc/$LD_PID/status")
creds=$(p9_creds <<<"$st")
[[ $creds == "uid=3020 3020 3020 3020 gid=3020 3020 3020 3020 groups=43 3020 capprm=0000000000000000 capeff=0000000000000000 nnp=0" ]] ||
    ft_fail "the daemon: $creds"
for f in CapInh CapPrm CapEff CapAmb; do
    [[ $(awk -v f="$f:" '$1 == f { print $2 }' <<<"$st") == 0000000000000000 ]] || ft_fail "the daemon has $f"
done
ft_pass "the daemon is p9login with no capability ($creds)"

rc=0
out=$(login bob 'not bob' 'id') || rc=$?
grep -q 'Login incorrect' <<<"$out" || ft_fail "wrong password: $out"
! grep -q 'uid=' <<<"$out" || ft_fail "a command ran after a wrong password: $out"
out=$(login nosuchuser 'whatever' 'id')
grep -q 'Login incorrect' <<<"$out" || ft_fail "unknown user: $out"
ft_pass "wrong password and unknown user: Login incorrect, connection closed"

p9_gone "$LD_PID" && ft_fail "the daemon died"
out=$(login bob 'bob secret!' 'id -un' exit)
grep -qE '^(\$ )?bob$' <<<"$out" || ft_fail "after the refusals: $out"
ft_pass "the daemon keeps serving after refusals"

# Authentication deadline: a client that says nothing is cut off.
start=$SECONDS
exec 3<>"/dev/tcp/127.0.0.1/$port"
out=$(timeout 60 cat <&3 | tr -d '\r') || true
exec 3<&-
grep -q 'no login name' <<<"$out" || ft_fail "a silent client: '$out'"
((SECONDS - start < 15)) || ft_fail "a silent client was not cut off by the authentication deadline"
ft_pass "a silent client is cut off after the authentication deadline ($((SECONDS - start)) s)"

# At most --max-sessions at once: a second connection is told and closed,
# and the first is served as usual.
setpriv --reuid=p9login --regid=p9login --init-groups -- "$P9LOGIND" --listen 127.0.0.1:0 --max-sessions 1 \
    --service p9login-test --p9use "$P9USE_CAPS" --auth-timeout 5 2>"$FT_TMP/logind2.err" &
FT_DAEMONS+=($!)
p9_poll 15 grep -q 'listening on' "$FT_TMP/logind2.err" || ft_fail "second p9logind did not listen"
port2=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$FT_TMP/logind2.err")
exec 4<>"/dev/tcp/127.0.0.1/$port2"
read -r -t 5 -d ':' greeting <&4 || ft_fail "no greeting on the first connection"
out=$(timeout 10 socat -t 5 - "TCP:127.0.0.1:$port2" </dev/null | tr -d '\r') || true
grep -q 'too many sessions' <<<"$out" || ft_fail "a connection beyond --max-sessions: '$out'"
exec 4<&-
ft_pass "--max-sessions 1: the second connection is refused while the first is open"

# inetd style: one connection on standard input and output.
out=$(printf '%s\n' bob 'bob secret!' 'id -u' exit | p9_as p9login "$P9LOGIND" --inetd --service p9login-test \
    --p9use "$P9USE_CAPS" 2>&1 | tr -d '\r')
grep -qE '^(\$ )?2002$' <<<"$out" || ft_fail "inetd mode: $out"
ft_pass "inetd mode: a session on standard input and output"

# The shipped /etc/pam.d/p9logind, its session section as it is (only
# pam_p9auth pointed at this test's module and factotum), works unprivileged.
sed "s|pam_p9auth\.so|$LOGIN_MODULE socket=$FT_SOCK|" "$here/../p9logind.pam" >"$FT_TMP/etc/pam.d/p9login-shipped"
out=$(printf '%s\n' bob 'bob secret!' 'id -u' exit | p9_as p9login "$P9LOGIND" --inetd --service p9login-shipped \
    --p9use "$P9USE_CAPS" 2>&1 | tr -d '\r')
grep -qE '^(\$ )?2002$' <<<"$out" || ft_fail "with the shipped PAM file: $out"
p9_poll 5 grep -q 'pam_unix(p9login-shipped:session): session opened for user bob' "$FT_TMP/syslog" ||
    ft_fail "the shipped file's session phase did not run: $(grep p9login-shipped "$FT_TMP/syslog")"
ft_pass "the shipped /etc/pam.d/p9logind: its session phase runs unprivileged (pam_unix logged the session)"

log=$FT_TMP/syslog
p9_poll 5 grep -q 'p9logind\[[0-9]*\]: login user=bob uid=2002' "$log" || ft_fail "no login record"
grep -q 'p9logind\[[0-9]*\]: login refused user=bob' "$log" || ft_fail "no refusal record"
# An unknown name may be a password typed at the prompt: not logged.
grep -q 'p9logind\[[0-9]*\]: login refused user=?(unknown) ' "$log" || ft_fail "no refusal record for an unknown name"
! grep -qF nosuchuser "$log" || ft_fail "the log names a login name nobody has: $(grep -F nosuchuser "$log")"
! grep -qF 'bob secret' "$log" || ft_fail "the log has a password"
! grep -qE '@[A-Za-z0-9_-]{43}' "$log" || ft_fail "the log has a capability"
ft_pass "log: logins and refusals, no secret"
login_clean "$FT_TMP/logind.err"
