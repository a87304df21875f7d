#!/usr/bin/env bash
# p9logind over loopback with socat: the daemon runs as its own user
# (p9login) with no capability; bob logs in with his password and his
# commands run as exactly bob; a wrong password is refused and the
# connection closes; the daemon keeps serving; inetd mode works the same;
# no password or capability in the log. Hardening (issue 10): failed
# logins are throttled per source address (a guesser at 127.0.0.2 is
# locked, bob at 127.0.0.3 still logs in); a peer stalled at the password
# prompt holds no factotum worker and is cut at --auth-timeout, as is one
# whose factotum never answers; the listener bounds connections waiting
# to log in, in all and per source.
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

# The failed-login counts: the daemon's user's own directory (as
# /run/p9logind is, by tmpfiles.d).
STATE=$FT_TMP/logind-state
install -d -m 0700 -o p9login -g p9login "$STATE"
# setpriv itself (not p9_as, a shell function) so that $! is the daemon.
setpriv --reuid=p9login --regid=p9login --init-groups -- "$P9LOGIND" --listen 127.0.0.1:0 --service p9login-test --p9use "$P9USE_CAPS" \
    --auth-timeout 5 --idle-timeout 30 --state-dir "$STATE" --fail-limit 3 2>"$FT_TMP/logind.err" &
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
# One answer limit (terminal.hpp), said to the peer: 1025 bytes are
# refused, never cut to 1024 and sent; the connection ends without a shell.
out=$(login bob "$(head -c 1025 /dev/zero | tr '\0' x)" 'id')
grep -q 'p9logind: answer longer than 1024 bytes: refused, not sent' <<<"$out" || ft_fail "a 1025-byte password: $out"
! grep -q 'uid=' <<<"$out" || ft_fail "a command ran after a 1025-byte password: $out"
# One user-name check: a name factotum would refuse is not asked for a password.
out=$(login 'bo:b' 'bob secret!' 'id')
grep -q 'Login incorrect' <<<"$out" || ft_fail "login name bo:b: $out"
! grep -q 'Password:' <<<"$out" || ft_fail "login name bo:b was asked for a password: $out"
ft_pass "a 1025-byte password refused with the reason; a login name with ':' refused before the password"

p9_gone "$LD_PID" && ft_fail "the daemon died"
out=$(login bob 'bob secret!' 'id -un' exit)
grep -qE '^(\$ )?bob$' <<<"$out" || ft_fail "after the refusals: $out"
ft_pass "the daemon keeps serving after refusals"

# Authentication deadline: a client that says nothing is cut off.
start=$SECONDS
exec 3<>"/dev/tcp/127.0.0.1/$port"
out=$(timeout 60 cat <&3 | tr -d '\r') || true
exec 3<&-
grep -q 'authentication timed out' <<<"$out" || ft_fail "a silent client: '$out'"
((SECONDS - start < 15)) || ft_fail "a silent client was not cut off by the authentication deadline"
ft_pass "a silent client is cut off after the authentication deadline ($((SECONDS - start)) s)"

# At most --max-sessions at once: a second connection is told and closed,
# and the first is served as usual.
setpriv --reuid=p9login --regid=p9login --init-groups -- "$P9LOGIND" --listen 127.0.0.1:0 --max-sessions 1 --state-dir "$STATE" \
    --service p9login-test --p9use "$P9USE_CAPS" --auth-timeout 5 2>"$FT_TMP/logind2.err" &
FT_DAEMONS+=($!)
p9_poll 15 grep -q 'listening on' "$FT_TMP/logind2.err" || ft_fail "second p9logind did not listen"
port2=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$FT_TMP/logind2.err")
exec 4<>"/dev/tcp/127.0.0.1/$port2"
read -r -t 5 -d ':' _ <&4 || ft_fail "no greeting on the first connection"
out=$(timeout 10 socat -t 5 - "TCP:127.0.0.1:$port2" </dev/null | tr -d '\r') || true
grep -q 'too many sessions' <<<"$out" || ft_fail "a connection beyond --max-sessions: '$out'"
exec 4<&-
ft_pass "--max-sessions 1: the second connection is refused while the first is open"

# inetd style: one connection on standard input and output.
out=$(printf '%s\n' bob 'bob secret!' 'id -u' exit | p9_as p9login "$P9LOGIND" --inetd --service p9login-test --state-dir "$STATE" \
    --p9use "$P9USE_CAPS" 2>&1 | tr -d '\r')
grep -qE '^(\$ )?2002$' <<<"$out" || ft_fail "inetd mode: $out"
ft_pass "inetd mode: a session on standard input and output"

# The shipped /etc/pam.d/p9logind, its session section as it is (only
# pam_p9auth pointed at this test's module and factotum), works unprivileged.
sed "s|pam_p9auth\.so|$LOGIN_MODULE socket=$FT_SOCK|" "$here/../p9logind.pam" >"$FT_TMP/etc/pam.d/p9login-shipped"
out=$(printf '%s\n' bob 'bob secret!' 'id -u' exit | p9_as p9login "$P9LOGIND" --inetd --service p9login-shipped --state-dir "$STATE" \
    --p9use "$P9USE_CAPS" 2>&1 | tr -d '\r')
grep -qE '^(\$ )?2002$' <<<"$out" || ft_fail "with the shipped PAM file: $out"
p9_poll 5 grep -q 'pam_unix(p9login-shipped:session): session opened for user bob' "$FT_TMP/syslog" ||
    ft_fail "the shipped file's session phase did not run: $(grep p9login-shipped "$FT_TMP/syslog")"
ft_pass "the shipped /etc/pam.d/p9logind: its session phase runs unprivileged (pam_unix logged the session)"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
login_from() {  # login_from ADDR LINES...: login() from the source address ADDR
    local from=$1
    shift
    printf '%s\n' "$@" | timeout 30 socat -t 10 - "TCP:127.0.0.1:$port,bind=$from" | tr -d '\r'
}
asked() { grep -c "factotum\\[[0-9]*\\]: request client_uid=3020 client_pid=[0-9]* target=bob rhost=$1 tty=p9logind\$" "$FT_TMP/syslog" || true; }

# Failed logins per source (--fail-limit 3): a guesser at 127.0.0.2 gets
# three guesses, then is told to wait, before any prompt; factotum was
# asked three times, with the guesser's address as rhost.
for i in 1 2 3; do
    out=$(login_from 127.0.0.2 bob "guess $i" id)
    grep -q 'Login incorrect' <<<"$out" || ft_fail "guess $i from 127.0.0.2: $out"
done
out=$(login_from 127.0.0.2 bob 'bob secret!' id)
grep -qE '^p9logind: too many failed logins from your address; try again in [0-9]+ s$' <<<"$out" ||
    ft_fail "a fourth try from 127.0.0.2 (the right password): $out"
! grep -qE 'login:|uid=' <<<"$out" || ft_fail "a locked source was prompted or served: $out"
p9_poll 5 eval '[[ $(asked 127.0.0.2) == 3 ]]' || ft_fail "factotum saw $(asked 127.0.0.2) requests from rhost=127.0.0.2, want 3"
[[ $(stat -c '%U %a' "$STATE/127.0.0.2") == 'p9login 600' ]] || ft_fail "the count's file: $(ls -l "$STATE")"
ft_pass "127.0.0.2: 3 wrong passwords, then refused before the prompt (even with the right one); factotum saw rhost=127.0.0.2 three times"
out=$(login_from 127.0.0.3 bob 'bob secret!' 'id -un' exit)
grep -qE '^(\$ )?bob$' <<<"$out" || ft_fail "bob from 127.0.0.3 while 127.0.0.2 is locked: $out"
p9_poll 5 eval '[[ $(asked 127.0.0.3) == 1 ]]' || ft_fail "factotum did not see rhost=127.0.0.3"
ft_pass "bob logs in from 127.0.0.3 while 127.0.0.2 is locked out"

# Stalled peers hold no factotum worker: factotum with a single worker,
# two peers stopped at the password prompt, and bob's login goes through
# at once; the two are cut at --auth-timeout (5 s).
kill "$FT_PID"
p9_poll 15 p9_gone "$FT_PID" || ft_fail "factotum did not stop"
here=$(cd "$here/../../../factotum/tests" && pwd) ft_start --workers 1
stall_start=$(now_ms)
for n in 4 5; do
    mkfifo "$FT_TMP/stall$n.in"
    timeout 60 socat -t 1 - "TCP:127.0.0.1:$port,bind=127.0.0.$n" <"$FT_TMP/stall$n.in" >"$FT_TMP/stall$n.out" &
    FT_DAEMONS+=($!)
    eval "exec $((n + 3))>\"\$FT_TMP/stall$n.in\""
    printf 'bob\n' >&$((n + 3))
done
for n in 4 5; do p9_poll 10 grep -q 'Password:' "$FT_TMP/stall$n.out" || ft_fail "no password prompt for 127.0.0.$n"; done
out=$(login_from 127.0.0.3 bob 'bob secret!' 'id -un' exit)
done_at=$(now_ms)
grep -qE '^(\$ )?bob$' <<<"$out" || ft_fail "bob's login while two peers stall: $out"
((done_at - stall_start < 4500)) || ft_fail "bob's login waited for the stalled peers ($((done_at - stall_start)) ms)"
for n in 4 5; do ! grep -q 'timed out' "$FT_TMP/stall$n.out" || ft_fail "127.0.0.$n cut too early"; done
ft_pass "two peers stalled at Password: with factotum at 1 worker; bob logged in $((done_at - stall_start)) ms after they connected"
for n in 4 5; do
    p9_poll 15 grep -q 'p9logind: authentication timed out' "$FT_TMP/stall$n.out" ||
        ft_fail "127.0.0.$n not cut: $(cat "$FT_TMP/stall$n.out")"
done
cut_at=$(now_ms)
((cut_at - stall_start >= 4500 && cut_at - stall_start < 10000)) || ft_fail "stalled peers cut after $((cut_at - stall_start)) ms, want ~5000"
exec 7>&- 8>&-
ft_pass "the stalled peers were cut at the deadline ($((cut_at - stall_start)) ms after connecting, --auth-timeout 5)"

# The deadline covers the wait for factotum: a "factotum" that accepts and
# never answers holds p9logind no longer than --auth-timeout (2 s here),
# and its connection is closed when p9logind gives up.
cat >"$FT_TMP/mute.py" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
s.listen(8)
log = open(sys.argv[2], "a", buffering=1)
log.write("listening\n")
while True:
    c, _ = s.accept()
    log.write("accepted\n")
    while c.recv(4096):
        pass
    log.write("closed\n")
    c.close()
PY
python3 "$FT_TMP/mute.py" "$FT_TMP/mute.sock" "$FT_TMP/mute.log" &
FT_DAEMONS+=($!)
p9_poll 10 grep -q listening "$FT_TMP/mute.log" || ft_fail "the mute factotum did not start"
printf 'auth required %s socket=%s\naccount required %s\n' "$LOGIN_MODULE" "$FT_TMP/mute.sock" "$LOGIN_MODULE" \
    >"$FT_TMP/etc/pam.d/p9login-mute"
mkfifo "$FT_TMP/mute.in"
start=$(now_ms)
setpriv --reuid=p9login --regid=p9login --init-groups -- "$P9LOGIND" --inetd --service p9login-mute --state-dir "$STATE" \
    --auth-timeout 2 <"$FT_TMP/mute.in" >"$FT_TMP/mute.out" 2>&1 &
mute_pid=$!
exec 9>"$FT_TMP/mute.in"
printf 'bob\nbob secret!\n' >&9
rc=0
wait "$mute_pid" || rc=$?
took=$(($(now_ms) - start))
exec 9>&-
grep -q 'p9logind: authentication timed out' "$FT_TMP/mute.out" || ft_fail "waiting for a mute factotum: $(cat "$FT_TMP/mute.out")"
[[ $rc == 1 ]] || ft_fail "p9logind exited $rc after its deadline, want 1"
((took >= 1900 && took < 6000)) || ft_fail "p9logind waited $took ms for a mute factotum, want ~2000"
p9_poll 5 grep -q closed "$FT_TMP/mute.log" || ft_fail "the connection to the mute factotum stayed open: $(cat "$FT_TMP/mute.log")"
ft_pass "a factotum that never answers: cut at the deadline ($took ms, --auth-timeout 2), its connection closed"

# The listener bounds connections not yet logged in: 2 per source, 3 in all.
setpriv --reuid=p9login --regid=p9login --init-groups -- "$P9LOGIND" --listen 127.0.0.1:0 --state-dir "$STATE" \
    --max-unauthenticated 3 --max-per-source 2 --service p9login-test --p9use "$P9USE_CAPS" --auth-timeout 60 \
    2>"$FT_TMP/logind3.err" &
FT_DAEMONS+=($!)
p9_poll 15 grep -q 'listening on' "$FT_TMP/logind3.err" || ft_fail "third p9logind did not listen"
port3=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$FT_TMP/logind3.err")
hold() {  # hold N ADDR: connection N from ADDR, kept open; its output in hold$N.out
    mkfifo "$FT_TMP/hold$1.in"
    timeout 90 socat -t 1 - "TCP:127.0.0.1:$port3,bind=$2" <"$FT_TMP/hold$1.in" >"$FT_TMP/hold$1.out" &
    FT_DAEMONS+=($!)
    eval "exec $(($1 + 10))>\"\$FT_TMP/hold$1.in\""
}
greeted() { grep -q 'login:' "$FT_TMP/hold$1.out"; }
hold 1 127.0.0.6
hold 2 127.0.0.6
for n in 1 2; do p9_poll 10 greeted $n || ft_fail "connection $n from 127.0.0.6 not greeted"; done
out=$(timeout 10 socat -t 5 - "TCP:127.0.0.1:$port3,bind=127.0.0.6" </dev/null | tr -d '\r') || true
grep -qx 'p9logind: too many connections from your address waiting to log in, try later' <<<"$out" ||
    ft_fail "a third from 127.0.0.6: '$out'"
hold 3 127.0.0.7
p9_poll 10 greeted 3 || ft_fail "127.0.0.7 not greeted"
out=$(timeout 10 socat -t 5 - "TCP:127.0.0.1:$port3,bind=127.0.0.8" </dev/null | tr -d '\r') || true
grep -qx 'p9logind: too many connections waiting to log in, try later' <<<"$out" || ft_fail "a fourth in all: '$out'"
ft_pass "--max-per-source 2, --max-unauthenticated 3: the third from one source and the fourth in all are refused"
# One of them logs in: it no longer waits, so a new peer is taken.
printf '%s\n' bob 'bob secret!' >&11
p9_poll 10 grep -q '\$ ' "$FT_TMP/hold1.out" || ft_fail "connection 1 did not log in: $(cat "$FT_TMP/hold1.out")"
hold 4 127.0.0.8
p9_poll 10 greeted 4 || ft_fail "after a login, 127.0.0.8 was not taken: $(cat "$FT_TMP/hold4.out")"
exec 11>&- 12>&- 13>&- 14>&-
ft_pass "a connection that logged in no longer counts: the next peer is greeted"

# A state directory p9login does not own: the daemon does not start.
rc=0
out=$(setpriv --reuid=p9login --regid=p9login --init-groups -- "$P9LOGIND" --listen 127.0.0.1:0 --state-dir "$FT_TMP" 2>&1) || rc=$?
[[ $rc == 1 ]] && grep -qx "p9logind: the state directory $FT_TMP: not owned by the daemon's user (uid 3020) (--state-dir; see p9logind(8))" <<<"$out" ||
    ft_fail "a state directory of root's: exit $rc: $out"
ft_pass "a state directory not its own: exit 1, $out"

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
