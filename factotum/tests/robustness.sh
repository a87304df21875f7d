#!/usr/bin/env bash
# Clients that break the protocol are refused and cut off; clients that
# stall are timed out; none of them keeps factotum from serving the others.
# 100 clients at once are all answered correctly.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
ft_enter "$@"

ft_mount
ft_start --timeout 4 --workers 4 --max-per-uid 40 --fail-limit 1000 --client-fail-limit 1000

raw() { p9_as alice "$FT_CLIENT" raw "$FT_SOCK" "$@"; }
expect() {  # expect WHAT OUTPUT PATTERN
    [[ $2 == $3 ]] || ft_fail "$1: got '$2', want '$3'"
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
# Truncated: a header announcing 3 bytes, 1 byte, then the client hangs up.
raw w:01010003 w:62 >/dev/null
p9_poll 5 grep -q 'reason=protocol (truncated request)' "$FT_TMP/syslog" || ft_fail "no record of the truncated request"
ft_pass "truncated request: dropped and logged"
# Truncated answer: hangs up in the middle of the password.
raw frame:01:bob r w:0102000a w:626f62 >/dev/null
p9_poll 5 grep -q 'target=bob reason=client gone' "$FT_TMP/syslog" || ft_fail "no record of the truncated answer"
ft_pass "truncated answer: dropped and logged"
[[ $(ft_status granted) == "$g0" ]] || ft_fail "a broken client got a grant"

# Stalled clients: 20 that never send a request, 3 that never answer the
# prompt (3 of the 4 workers held). A well-behaved client is served while
# they all still wait, and each stalled one is then refused for timeout.
pids=()
for i in $(seq 1 20); do raw s:1 r >"$FT_TMP/stall-$i" & pids+=($!); done
for i in $(seq 21 23); do raw frame:01:bob r r >"$FT_TMP/stall-$i" & pids+=($!); done
p9_poll 5 bash -c "[[ \$(grep -l Password $FT_TMP/stall-2[123] 2>/dev/null | wc -l) == 3 ]]" ||
    ft_fail "the prompt-stalled clients did not get their prompts"
start=$SECONDS
cap=$(ft_request carol bob 'bob secret!') || ft_fail "a good client was not served while others stalled"
[[ $cap == 2003@2002:* ]] || ft_fail "good client's capability: '${cap%@*}'"
for i in $(seq 1 20); do [[ ! -s $FT_TMP/stall-$i ]] || ft_fail "stalled client $i already answered: $(cat "$FT_TMP/stall-$i")"; done
ft_pass "a good client was served in $((SECONDS - start)) s while 23 clients stalled"
for p in "${pids[@]}"; do wait "$p" || true; done
for i in $(seq 1 20); do
    [[ $(cat "$FT_TMP/stall-$i") == "refused 7 no complete request in time" ]] ||
        ft_fail "stalled client $i: '$(cat "$FT_TMP/stall-$i")'"
done
for i in 21 22 23; do
    [[ $(cat "$FT_TMP/stall-$i") == $'prompt_echo_off Password: \nrefused 7 no answer in time' ]] ||
        ft_fail "prompt-stalled client $i: '$(cat "$FT_TMP/stall-$i")'"
done
ft_pass "stalled clients refused for timeout (20 before the request, 3 at the prompt)"

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

# 100 clients at once, each answered with its own capability, all usable
# (a factotum with the default connection limits).
kill "$FT_PID"
p9_poll 10 p9_gone "$FT_PID" || ft_fail "factotum did not stop on SIGTERM"
ft_start
g0=$(ft_status granted)
printf 'bob secret!\n' | p9_as alice "$FT_CLIENT" many "$FT_SOCK" bob 100 >"$FT_TMP/many" ||
    ft_fail "100 concurrent clients: $(tail -1 "$FT_TMP/many"); $(head -3 "$FT_TMP/request.err" 2>/dev/null)"
[[ $(grep -c '^2001@2002:2002:2002,2100,2101,2102@' "$FT_TMP/many") == 100 ]] || ft_fail "100 clients: wrong capabilities"
[[ $(sort -u "$FT_TMP/many" | grep -c @) == 100 ]] || ft_fail "100 clients: capabilities not distinct"
[[ $(ft_status granted) == $((g0 + 100)) ]] || ft_fail "100 clients: granted went from $g0 to $(ft_status granted)"
used=$(grep @ "$FT_TMP/many" | p9_as alice "$FT_CLIENT" use "$FT_MNT")
[[ $used == "used 100 of 100" ]] || ft_fail "100 clients: $used"
ft_pass "100 concurrent clients: 100 distinct capabilities, all accepted by capuse"
p9_gone "$FT_PID" && ft_fail "factotum died"
ft_pass "factotum still serving"
