#!/usr/bin/env bash
# A login daemon (uid p9login) names where each login comes from (origin
# frame, rhost=), and factotum's throttle keys on it: 3 wrong passwords
# for bob from 10.0.0.1 lock that host, not 10.0.0.2, nor the daemon's
# logins that name no host. The failures for bob from all its hosts
# together are still bounded (--origin-fail-limit): then bob is locked
# for that client from every host. Any other client's rhost reaches PAM
# and the log, but not the throttle's keys. Stalled peers of the login
# daemon (half a frame, nothing at all, silence at the prompt) hold no
# worker beyond their deadline.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
ft_enter "$@"

# The login daemon's user (appended: the fixture files are bound already).
echo 'p9login:x:3020:3020:p9logind:/nonexistent:/usr/sbin/nologin' >>"$FT_TMP/etc/passwd"
echo 'p9login:x:3020:' >>"$FT_TMP/etc/group"
printf 'permit * as bob\npermit * as carol\n' >>"$FT_TMP/etc/factotum.conf"
ft_mount
ft_start --fail-limit 3 --client-fail-limit 100 --target-fail-limit 1000 --origin-fail-limit 7 --lockout 60

try() {  # try USER TARGET ANSWER [OPTIONS]: prints the exit status and the message
    local rc=0
    : >"$FT_TMP/request.err"
    ft_request "$@" >/dev/null || rc=$?
    echo "$rc $(tail -1 "$FT_TMP/request.err")"
}
failed() { [[ $(try "$@") == "1 "*"authentication failed"* ]] || ft_fail "not a plain failure: $*"; }
throttled() { [[ $(try "$@") == "1 "*"too many failures"* ]] || ft_fail "not throttled: $*"; }
granted() { [[ $(try "$@") == "0 "* ]] || ft_fail "not granted: $* ($(tail -1 "$FT_TMP/request.err"))"; }

for i in 1 2 3; do failed p9login bob wrong --rhost 10.0.0.1; done
throttled p9login bob 'bob secret!' --rhost 10.0.0.1
grep -q 'lock client_uid=3020 target=bob for 60s rhost=10.0.0.1$' "$FT_TMP/syslog" || ft_fail "no lock record for the host"
granted p9login bob 'bob secret!' --rhost 10.0.0.2
granted p9login bob 'bob secret!' --tty pts/3
ft_pass "3 failures for bob from 10.0.0.1 lock that host only: bob logs in from 10.0.0.2 and without a host"

# alice is no login daemon: her rhost does not split her throttle.
for i in 1 2 3; do failed alice bob wrong --rhost "192.0.2.$i"; done
throttled alice bob 'bob secret!' --rhost 192.0.2.99
throttled alice bob 'bob secret!'
grep -q 'deny client_uid=2001 client_pid=[0-9]* target=bob reason=throttled (60s left) rhost=192.0.2.99 tty=-$' \
    "$FT_TMP/syslog" || ft_fail "alice's refusal is not logged with the rhost she named"
ft_pass "an untrusted client's made-up hosts share one throttle key (3 hosts, one lock)"

# The ceiling: 3 (10.0.0.1) + 2 + 2 = 7 failures for bob from all the daemon's hosts.
for h in 10.0.0.2 10.0.0.3; do for i in 1 2; do failed p9login bob wrong --rhost "$h"; done; done
p9_poll 5 grep -q 'lock client_uid=3020 target=bob for 60s from every rhost (7 failures from all its hosts' \
    "$FT_TMP/syslog" || ft_fail "no record of the ceiling"
throttled p9login bob 'bob secret!' --rhost 10.0.0.9
throttled p9login bob 'bob secret!'
granted carol bob 'bob secret!'
granted p9login carol carol-secret --rhost 10.0.0.9
ft_pass "7 failures for bob over 3 hosts lock bob for the daemon from every host; carol, and other targets, unaffected"

# Stalled peers. 2 workers, both the daemon's (--workers-per-uid 2): 10
# connections with half a frame or nothing hold none; two silent at the
# prompt hold both until the session deadline (3 s), then carol is served
# well before her own queue deadline (20 s).
kill "$FT_PID"
p9_poll 10 p9_gone "$FT_PID" || ft_fail "factotum did not stop"
ft_start --workers 2 --workers-per-uid 2 --timeout 20 --session-timeout 3
raw() { p9_as p9login "$FT_CLIENT" raw "$FT_SOCK" "$@"; }
pids=()
for i in 1 2 3 4 5; do raw w:01010003 w:62 s:30000 >"$FT_TMP/half-$i" 2>&1 & pids+=($!); done
for i in 1 2 3 4 5; do raw s:30000 >"$FT_TMP/none-$i" 2>&1 & pids+=($!); done
accepted() { [[ $(grep -c " $FT_SOCK\$" /proc/net/unix) -ge $1 ]]; }
p9_poll 10 accepted 11 || ft_fail "the 10 stalled connections were not all accepted"
granted carol bob 'bob secret!'
ft_pass "10 connections with half a request or none hold no worker: carol served"
for i in 1 2; do raw frame:01:bob r r >"$FT_TMP/prompt-$i" & pids+=($!); done
prompted() { grep -q Password "$FT_TMP/prompt-1" && grep -q Password "$FT_TMP/prompt-2"; }
p9_poll 10 prompted || ft_fail "the prompt-stalled peers got no prompt"
start=$SECONDS
granted carol bob 'bob secret!'
took=$((SECONDS - start))
for i in 1 2; do
    [[ $(cat "$FT_TMP/prompt-$i") == $'prompt_echo_off Password: \nrefused 7 no answer in time' ]] ||
        ft_fail "prompt-stalled peer $i: '$(cat "$FT_TMP/prompt-$i")'"
done
(( took < 15 )) || ft_fail "carol waited $took s"
ft_pass "two peers silent at the prompt held both workers for the session deadline only: carol served in $took s"
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
! grep -q 'forbidden system call' "$FT_TMP/syslog" || ft_fail "a call the seccomp filter forbids: $(grep 'forbidden system call' "$FT_TMP/syslog" | head -1)"
