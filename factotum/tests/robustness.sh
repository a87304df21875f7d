#!/usr/bin/env bash
# Clients that break the protocol are refused and cut off; clients that
# stall are timed out; none of them keeps factotum from serving the others,
# not even one uid that stalls at prompts on as many connections as it may.
# 100 clients at once are all answered correctly.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
ft_enter "$@"

ft_mount
ft_start --timeout 4 --workers 3 --workers-per-uid 2 --queue-per-uid 2 --max-per-uid 40 --fail-limit 1000 \
    --client-fail-limit 1000

raw() { p9_as alice "$FT_CLIENT" raw "$FT_SOCK" "$@"; }
expect() {  # expect WHAT OUTPUT PATTERN
    [[ $2 == "$3" ]] || ft_fail "$1: got '$2', want '$3'"
    ft_pass "$1: $(echo "$2" | head -1)"
}
g0=$(ft_status granted)

expect "wrong protocol version" "$(raw w:02010003626f62 r e)" $'refused 6 wrong protocol version\neof'
expect "unknown message type" "$(raw frame:7f:hello r e)" $'refused 6 unknown message type 127\neof'
expect "an answer before any request" "$(raw frame:02:secret r e)" $'refused 6 \'answer\' not allowed now\neof'
expect "a reply type sent by the client" "$(raw frame:90:x r e)" $'refused 6 unknown message type 144\neof'
expect "empty request" "$(raw frame:01: r e)" $'refused 6 \'request\' of 0 bytes, allowed 1..256\neof'
expect "oversized request (65535 bytes announced, none sent)" "$(raw w:0101ffff r e)" \
    $'refused 6 \'request\' of 65535 bytes, allowed 1..256\neof'
expect "malformed user name" "$(raw 'frame:01:bo b' r e)" $'refused 6 malformed user name\neof'
expect "a second request instead of an answer" "$(raw frame:01:bob r frame:01:bob r e)" \
    $'prompt_echo_off Password: \nrefused 6 \'request\' not allowed now\neof'
expect "oversized answer (1025 bytes announced)" "$(raw frame:01:bob r w:01020401 r e)" \
    $'prompt_echo_off Password: \nrefused 6 \'answer\' of 1025 bytes, allowed 0..1024\neof'
# An answer holding a NUL byte (PAM's strings end there): a protocol error,
# said as one, logged as one, and factotum goes on serving.
expect "an answer holding a NUL byte" "$(raw frame:01:bob r w:01020003610062 r e)" \
    $'prompt_echo_off Password: \nrefused 6 an answer holding a NUL byte\neof'
p9_poll 5 grep -q 'target=bob reason=protocol (an answer holding a NUL byte)' "$FT_TMP/syslog" ||
    ft_fail "no protocol record of the NUL answer"
! grep -q 'reason=client gone (: Success)' "$FT_TMP/syslog" || ft_fail "a protocol error logged as a client gone"
# Truncated: a header announcing 3 bytes, 1 byte, then the client hangs up.
raw w:01010003 w:62 >/dev/null
p9_poll 5 grep -q 'reason=protocol (truncated request)' "$FT_TMP/syslog" || ft_fail "no record of the truncated request"
ft_pass "truncated request: dropped and logged"
# Truncated answer: hangs up in the middle of the password.
raw frame:01:bob r w:0102000a w:626f62 >/dev/null
p9_poll 5 grep -q 'target=bob reason=client gone' "$FT_TMP/syslog" || ft_fail "no record of the truncated answer"
ft_pass "truncated answer: dropped and logged"
[[ $(ft_status granted) == "$g0" ]] || ft_fail "a broken client got a grant"

# Stalled clients. 20 that never send a request hold no worker. alice
# stalls at the prompt on as many connections as she may (--workers-per-uid
# 2 of the 3 workers); two more of her requests wait in the queue
# (--queue-per-uid 2) and a third is refused as busy at once. carol is
# served while all of them still wait. The two at the prompt hang up after
# a second, so the queued two get their workers long before their own
# deadline (connect + --timeout) whatever the machine's speed; they stall
# at the prompt in turn and are refused for timeout, like the 20.
syslog_count() { grep -c "$1" "$FT_TMP/syslog" || true; }
pids=()
for i in $(seq 1 20); do raw s:1 r >"$FT_TMP/stall-$i" & pids+=($!); done
for i in 21 22; do raw frame:01:bob r s:1000 >"$FT_TMP/stall-$i" & pids+=($!); done
prompted() { [[ $(grep -l Password "$@" 2>/dev/null | wc -l) == "$#" ]]; }
p9_poll 5 prompted "$FT_TMP/stall-21" "$FT_TMP/stall-22" || ft_fail "alice's prompt-stalled clients did not get their prompts"
w0=$(syslog_count 'wait client_uid=2001 ')
for i in 23 24; do raw frame:01:bob r r >"$FT_TMP/stall-$i" & pids+=($!); done
waiting() { [[ $(syslog_count 'wait client_uid=2001 ') -ge $((w0 + $1)) ]]; }
p9_poll 5 waiting 2 || ft_fail "alice's third and fourth requests were not queued"
out=$(raw frame:01:bob r e)
[[ $out == $'refused 5 too many requests waiting\neof' ]] || ft_fail "alice's fifth request: '$out'"
p9_poll 5 grep -q 'deny client_uid=2001 client_pid=[0-9]* target=- reason=busy (2 requests of this uid wait already)' \
    "$FT_TMP/syslog" || ft_fail "no busy record for alice's fifth request"
start=$SECONDS
cap=$(ft_request carol bob 'bob secret!') || ft_fail "carol was not served while alice held her workers"
[[ $cap == 2003@2002:* ]] || ft_fail "good client's capability: '${cap%@*}'"
took=$((SECONDS - start))
for i in $(seq 1 20); do [[ ! -s $FT_TMP/stall-$i ]] || ft_fail "stalled client $i already answered: $(cat "$FT_TMP/stall-$i")"; done
for i in 21 22 23 24; do
    ! grep -q 'refused\|granted' "$FT_TMP/stall-$i" || ft_fail "client $i no longer stalled: $(cat "$FT_TMP/stall-$i")"
done
(( took < 3 )) || ft_fail "carol waited $took s"
ft_pass "carol served in $took s while alice held 2 workers at prompts, 2 requests queued, 20 clients stalled"
for p in "${pids[@]}"; do wait "$p" || true; done
for i in $(seq 1 20); do
    [[ $(cat "$FT_TMP/stall-$i") == "refused 7 no complete request in time" ]] ||
        ft_fail "stalled client $i: '$(cat "$FT_TMP/stall-$i")'"
done
for i in 21 22; do
    [[ $(cat "$FT_TMP/stall-$i") == 'prompt_echo_off Password: ' ]] || ft_fail "client $i that hung up: '$(cat "$FT_TMP/stall-$i")'"
done
# The queued two got their workers when the first two hung up, and stalled in turn.
for i in 23 24; do
    [[ $(cat "$FT_TMP/stall-$i") == $'prompt_echo_off Password: \nrefused 7 no answer in time' ]] ||
        ft_fail "prompt-stalled client $i: '$(cat "$FT_TMP/stall-$i")'"
done
ft_pass "stalled clients refused for timeout (20 before the request, 2 at the prompt after queueing)"

# A queued request is refused for timeout when no worker takes it by its
# deadline (--timeout from connect), while alice's workers are still held
# at prompts (25, 26, prompted after the late client connected, so they
# are held past its deadline).
raw p:connected s:2000 frame:01:bob r >"$FT_TMP/late" &
late=$!
p9_poll 5 grep -q connected "$FT_TMP/late" || ft_fail "the late client did not connect"
pids=()
for i in 25 26; do raw frame:01:bob r r >"$FT_TMP/stall-$i" & pids+=($!); done
p9_poll 5 prompted "$FT_TMP/stall-25" "$FT_TMP/stall-26" || ft_fail "alice's new prompt-stalled clients did not get their prompts"
wait "$late" || true
[[ $(cat "$FT_TMP/late") == $'connected\nrefused 7 no worker free in time' ]] || ft_fail "queued past its deadline: '$(cat "$FT_TMP/late")'"
# (The loop refuses it at its deadline, target=-; a worker that frees up
# in the same moment refuses it as well.)
grep -q 'deny client_uid=2001 client_pid=[0-9]* target=[-a-z]* reason=timeout (no worker free within 4s)' "$FT_TMP/syslog" ||
    ft_fail "no timeout record for the queued request"
ft_pass "a request queued past its deadline refused for timeout"
for p in "${pids[@]}"; do wait "$p" || true; done

# One whose client hung up while it waited is dropped before PAM. The two
# at the prompt (27, 28) hang up a second after it, so a worker takes the
# hung-up request some three seconds before its own deadline, whatever
# the machine's speed (a worker freed by the prompt's timeout instead
# would race that deadline within milliseconds).
pids=()
for i in 27 28; do raw frame:01:bob r s:1000 >"$FT_TMP/stall-$i" & pids+=($!); done
p9_poll 5 prompted "$FT_TMP/stall-27" "$FT_TMP/stall-28" || ft_fail "alice's clients 27 and 28 did not get their prompts"
w0=$(syslog_count 'wait client_uid=2001 ')
g0=$(syslog_count 'reason=client gone (hung up while queued)')
raw frame:01:bob
p9_poll 5 waiting 1 || ft_fail "the hung-up request was not queued"
gone() { [[ $(syslog_count 'reason=client gone (hung up while queued)') -gt $g0 ]]; }
p9_poll 10 gone || ft_fail "the hung-up queued request was not dropped"
for p in "${pids[@]}"; do wait "$p" || true; done
ft_pass "a request whose client hung up while queued dropped before PAM"

# Busy: more connections from one uid than --max-per-uid are refused at once.
pids=()
for i in $(seq 1 40); do raw s:1 r >"$FT_TMP/busy-$i" & pids+=($!); done
# Accepted connections show the socket's path in /proc/net/unix.
accepted() { [[ $(grep -c " $FT_SOCK\$" /proc/net/unix) -ge $1 ]]; }
p9_poll 10 accepted 41 || ft_fail "the 40 connections were not all accepted"
out=$(raw r e)
[[ $out == $'refused 5 too many connections\neof' ]] || ft_fail "41st connection of alice: '$out'"
cap=$(ft_request carol bob 'bob secret!') || ft_fail "carol not served while alice is at her limit"
ft_pass "41st connection of one uid refused as busy; another uid still served"
for p in "${pids[@]}"; do wait "$p" || true; done

# 100 clients of one uid at once (a busy login daemon), each answered with
# its own capability, all usable: the default limits, with room in the
# queue for all of them (--queue-per-uid is 32 by default), served by the
# default 2 workers of that uid.
kill "$FT_PID"
p9_poll 10 p9_gone "$FT_PID" || ft_fail "factotum did not stop on SIGTERM"
ft_start --queue-per-uid 100
g0=$(ft_status granted)
printf 'bob secret!\n' | p9_as alice "$FT_CLIENT" many "$FT_SOCK" bob 100 >"$FT_TMP/many" ||
    ft_fail "100 concurrent clients: $(tail -1 "$FT_TMP/many"); $(head -3 "$FT_TMP/request.err" 2>/dev/null)"
[[ $(grep -c '^2001@2002:2002:2002,2100,2101,2102@' "$FT_TMP/many") == 100 ]] || ft_fail "100 clients: wrong capabilities"
[[ $(sort -u "$FT_TMP/many" | grep -c @) == 100 ]] || ft_fail "100 clients: capabilities not distinct"
[[ $(ft_status granted) == $((g0 + 100)) ]] || ft_fail "100 clients: granted went from $g0 to $(ft_status granted)"
used=$(grep @ "$FT_TMP/many" | p9_as alice "$FT_CLIENT" use "$FT_MNT")
[[ $used == "used 100 of 100" ]] || ft_fail "100 clients: $used"
ft_pass "100 concurrent clients: 100 distinct capabilities, all accepted by capuse"
# And from two uids at once (alice as staff, carol by her own rule), 50
# each: every capability names its own client, and each uses only hers.
g0=$(ft_status granted)
printf 'bob secret!\n' | p9_as alice "$FT_CLIENT" many "$FT_SOCK" bob 50 >"$FT_TMP/many-a" &
ma=$!
printf 'bob secret!\n' | p9_as carol "$FT_CLIENT" many "$FT_SOCK" bob 50 >"$FT_TMP/many-c" ||
    ft_fail "carol's 50: $(tail -1 "$FT_TMP/many-c")"
wait "$ma" || ft_fail "alice's 50: $(tail -1 "$FT_TMP/many-a")"
[[ $(grep -c '^2001@2002:2002:2002,2100,2101,2102@' "$FT_TMP/many-a") == 50 ]] || ft_fail "alice's 50: wrong capabilities"
[[ $(grep -c '^2003@2002:2002:2002,2100,2101,2102@' "$FT_TMP/many-c") == 50 ]] || ft_fail "carol's 50: wrong capabilities"
[[ $(ft_status granted) == $((g0 + 50 + 50)) ]] || ft_fail "two uids: granted went from $g0 to $(ft_status granted)"
used=$(grep @ "$FT_TMP/many-c" | p9_as alice "$FT_CLIENT" use "$FT_MNT")
[[ $used == "used 0 of 50" ]] || ft_fail "alice used carol's capabilities: $used"
used_a=$(grep @ "$FT_TMP/many-a" | p9_as alice "$FT_CLIENT" use "$FT_MNT")
used_c=$(grep @ "$FT_TMP/many-c" | p9_as carol "$FT_CLIENT" use "$FT_MNT")
[[ $used_a == "used 50 of 50" && $used_c == "used 50 of 50" ]] || ft_fail "two uids: alice $used_a, carol $used_c"
ft_pass "two uids, 50 concurrent clients each: each got 50 capabilities of her own and could use only hers"
p9_gone "$FT_PID" && ft_fail "factotum died"
ft_pass "factotum still serving"

# (A fresh factotum: the 200 clients above used up alice's audit quota,
# and the records below are checked. One grant warms it up first: under
# UBSan, the first check of a class's vptr probes memory through a pipe,
# which a process out of descriptors cannot make.)
kill "$FT_PID"
p9_poll 10 p9_gone "$FT_PID" || ft_fail "factotum did not stop on SIGTERM"
ft_start
ft_request alice bob 'bob secret!' >/dev/null || ft_fail "the fresh factotum did not grant"

# Out of descriptors. The limit is lowered from outside (prlimit on the
# running factotum) to the lowest free descriptor number (+1), since a new
# descriptor always takes the lowest free one.
# The monitor (FT_PID) runs NSS and PAM; the front (FT_FRONT) accepts.
lowest_free() {
    local n=0 pid=${1:-$FT_PID}
    while [[ -e /proc/$pid/fd/$n ]]; do n=$((n + 1)); done
    echo "$n"
}
limits0=$(awk '/Max open files/ { print $4 ":" $5 }' "/proc/$FT_PID/limits")
hard=${limits0#*:}
# (a) One descriptor left: the connection is accepted but NSS and PAM can
# open nothing (/etc/passwd, modules). The request is refused as an internal
# error, not as "no such user", and is not charged; factotum lives.
prlimit --pid "$FT_PID" --nofile="$(($(lowest_free) + 1)):$hard"
out=$(raw frame:01:bob r e)
prlimit --pid "$FT_PID" --nofile="$limits0"
[[ $out == $'refused 8 the user database could not be read; see factotum\'s log\neof' ]] ||
    ft_fail "request while NSS is out of descriptors: '$out'"
grep -q 'target=?(unknown) reason=nss (getpwnam_r: Too many open files)' "$FT_TMP/syslog" ||
    ft_fail "no nss record: $(grep deny "$FT_TMP/syslog" | tail -1)"
p9_gone "$FT_PID" && ft_fail "factotum died out of descriptors: $(tail -2 "$FT_TMP/factotum.err")"
ft_pass "NSS out of descriptors: refused as internal (nss), factotum alive"
# (a') With NSS answered first, PAM alone out of descriptors: libaudit then
# asks prctl for our capabilities (libcap-ng cannot open /proc/self/status),
# which the filter allows; the request is refused and factotum lives.
# How many descriptors PAM needs depends on the build (sanitizers), so the
# spare ones grow until PAM runs; one of the tries must have failed in PAM.
pam_refused=0
for spare in 2 3 4 5 6 7 8; do
    prlimit --pid "$FT_PID" --nofile="$(($(lowest_free) + spare)):$hard"
    out=$(raw frame:01:bob r)
    prlimit --pid "$FT_PID" --nofile="$limits0"
    p9_gone "$FT_PID" && ft_fail "factotum died when PAM ran out of descriptors ($spare spare): $(tail -2 "$FT_TMP/factotum.err")"
    [[ $out == 'prompt_echo_off Password: ' ]] && break
    case $out in
    "refused 8 authentication could not run; see factotum's log") pam_refused=$((pam_refused + 1)) ;;
    "refused 8 the user database could not be read; see factotum's log") ;;
    *) ft_fail "request with $spare spare descriptors: '$out'" ;;
    esac
done
[[ $out == 'prompt_echo_off Password: ' ]] || ft_fail "PAM never ran, even with $spare spare descriptors"
((pam_refused > 0)) || ft_fail "no try ran out of descriptors inside PAM"
grep -q 'reason=pam error' "$FT_TMP/syslog" || ft_fail "no pam error record"
ft_pass "PAM out of descriptors: refused as an internal error $pam_refused time(s), factotum alive, served with $spare spare"
# (b) None left: accept() fails with EMFILE. factotum stops listening for a
# moment at a time instead of spinning on a readable listener, logs the
# episode once, and serves the waiting client once descriptors are back.
# The front's limits are set as its own user: root here may lack
# CAP_SYS_RESOURCE, which prlimit on another uid's process needs.
e0=$(syslog_count 'accept: Too many open files')
p9_as p9front prlimit --pid "$FT_FRONT" --nofile="$(lowest_free "$FT_FRONT"):$hard"
raw frame:01:bob r >"$FT_TMP/emfile" &
emfile=$!
logged() { [[ $(syslog_count 'accept: Too many open files; not accepting') -gt $e0 ]]; }
p9_poll 10 logged || ft_fail "no record of EMFILE at accept"
[[ ! -s $FT_TMP/emfile ]] || ft_fail "served while out of descriptors: $(cat "$FT_TMP/emfile")"
p9_as p9front prlimit --pid "$FT_FRONT" --nofile="$limits0"
p9_poll 10 grep -q Password "$FT_TMP/emfile" || ft_fail "the waiting client was not served once descriptors were back"
wait "$emfile" || true
[[ $(syslog_count 'accept: Too many open files') == $((e0 + 1)) ]] ||
    ft_fail "EMFILE logged $(($(syslog_count "accept: Too many open files") - e0)) times for one episode: $(grep -n "accept:\\|deny" "$FT_TMP/syslog" | tail -5)"
p9_gone "$FT_PID" && ft_fail "factotum died out of descriptors"
ft_pass "out of descriptors at accept: logged once, not accepting until they were back, then the waiting client served"

# A flood of cheap refusals (connect, a wrong version, hang up) cannot
# flood the log: each client uid has an audit quota (200 records at once,
# 10 a second after). The records held back are counted in a "suppressed"
# record, so logged + suppressed is exactly what happened. (A fresh
# factotum: alice's quota is whole and nothing is owed from before.)
kill "$FT_PID"
p9_poll 10 p9_gone "$FT_PID" || ft_fail "factotum did not stop on SIGTERM"
ft_start
n=600
flood_logged() { syslog_count 'client_uid=2001 .*reason=protocol (wrong protocol version)'; }
flood_suppressed() { awk '/suppressed client_uid=2001 / { sub(/.*records=/, ""); s += $1 } END { print s + 0 }' "$FT_TMP/syslog"; }
p0=$(flood_logged)
s0=$(flood_suppressed)
p9_as alice /usr/bin/python3 -c '
import socket, sys
for _ in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(bytes.fromhex("02010003626f62"))
    s.recv(64)
    s.close()' "$FT_SOCK" "$n"
accounted() {
    logged=$(($(flood_logged) - p0))
    held=$(($(flood_suppressed) - s0))
    [[ $((logged + held)) == "$n" && $held -gt 0 ]]
}
p9_poll 10 accounted || ft_fail "flood of $n: $logged logged, $held counted as suppressed"
((logged < n)) || ft_fail "flood: all $n logged"
cap=$(ft_request carol bob 'bob secret!') || ft_fail "carol not served after alice's flood"
grep -q 'deny client_uid=2003\|grant client_uid=2003' "$FT_TMP/syslog" || ft_fail "carol's records missing"
ft_pass "a flood of $n refusals: $logged logged, the rest counted in suppressed records; carol unaffected"
