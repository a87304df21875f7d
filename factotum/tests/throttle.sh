#!/usr/bin/env bash
# Failed authentications lock the (client, target) pair, then the client;
# never the target for everybody else. Failures for one target from several
# clients put it under attack: each client is then locked after one
# failure, and a client that has not failed is still served.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
ft_enter "$@"

ft_mount
ft_start --fail-limit 3 --client-fail-limit 8 --lockout 60

try() {  # try USER TARGET ANSWER: prints the exit status and the message
    local rc=0
    : >"$FT_TMP/request.err"
    ft_request "$@" >/dev/null || rc=$?
    echo "$rc $(tail -1 "$FT_TMP/request.err")"
}

# Neither a protocol error (an answer holding a NUL byte) nor walking away
# before answering is a failed guess: after 3 of each and 2 wrong
# passwords, carol -> bob is not locked (--fail-limit 3).
for i in 1 2 3; do
    out=$(p9_as carol "$FT_CLIENT" raw "$FT_SOCK" frame:01:bob r w:01020003610062 r)
    [[ $out == $'prompt_echo_off Password: \nrefused 6 an answer holding a NUL byte' ]] || ft_fail "NUL answer $i: '$out'"
    p9_as carol "$FT_CLIENT" raw "$FT_SOCK" frame:01:bob r >/dev/null  # reads the prompt, hangs up
done
gone() { [[ $(grep -c 'client_uid=2003 client_pid=[0-9]* target=bob reason=client gone' "$FT_TMP/syslog") == 3 ]]; }
p9_poll 10 gone || ft_fail "the walk-aways were not all logged"
for i in 1 2; do [[ $(try carol bob wrong) == "1 "*"authentication failed"* ]] || ft_fail "carol's wrong password $i"; done
out=$(try carol bob 'bob secret!')
[[ $out == "0 "* ]] || ft_fail "carol locked out by protocol errors or walk-aways: '$out'"
! grep -q 'lock client_uid=2003' "$FT_TMP/syslog" || ft_fail "carol was locked"
ft_pass "protocol errors and walk-aways before an answer are not counted as failures"

# A success between failures clears the pair's count.
for a in wrong wrong 'bob secret!' wrong wrong 'bob secret!'; do try alice bob "$a" >/dev/null; done
[[ $(try alice bob 'bob secret!') == "0 "* ]] || ft_fail "alice locked out although she never failed 3 times in a row"
ft_pass "a success resets the pair's failures"

for i in 1 2 3; do
    out=$(try alice bob wrong)
    [[ $out == "1 "*"authentication failed"* ]] || ft_fail "failure $i: $out"
done
out=$(try alice bob 'bob secret!')
[[ $out == "1 "*"too many failures"* ]] || ft_fail "after 3 failures the right password: '$out'"
grep -q 'deny client_uid=2001 client_pid=[0-9]* target=bob reason=throttled' "$FT_TMP/syslog" || ft_fail "no throttled record"
ft_pass "alice -> bob locked after 3 failures, even with the right password ($out)"

# The lock is alice's, not bob's: carol still becomes bob.
cap=$(ft_request carol bob 'bob secret!') || ft_fail "carol was locked out of bob by alice's failures"
[[ $cap == 2003@2002:* ]] || ft_fail "carol's capability: '${cap%@*}'"
ft_pass "carol can still authenticate bob"
# And alice may still ask for other targets.
cap=$(ft_request alice carol 'carol-secret') || ft_fail "alice locked out of carol"
ft_pass "alice can still authenticate carol"

# The client-wide limit: 8 failures in all (4, 3, and this one) lock alice
# for every target.
try alice carol wrong >/dev/null
out=$(try alice carol 'carol-secret')
[[ $out == "1 "*"too many failures"* ]] || ft_fail "alice after 8 failures overall: '$out'"
[[ $(try alice nosuchuser x) == "1 "*"too many failures"* ]] || ft_fail "alice not locked for every target"
cap=$(ft_request carol bob 'bob secret!') || ft_fail "carol locked out by alice's failures"
ft_pass "8 failures overall lock alice for every target; carol unaffected"

# Per target: erin alone cannot put dave under attack (each client counts
# at most --fail-limit of its failures towards --target-fail-limit 5).
kill "$FT_PID"
p9_poll 10 p9_gone "$FT_PID" || ft_fail "factotum did not stop"
ft_start --fail-limit 3 --client-fail-limit 100 --target-fail-limit 5 --lockout 60
for i in 1 2 3; do [[ $(try erin dave wrong) == "1 "*"authentication failed"* ]] || ft_fail "erin -> dave failure $i"; done
[[ $(try erin dave wrong) == "1 "*"too many failures"* ]] || ft_fail "erin -> dave not locked after 3 failures"
! grep -q 'attack target=dave' "$FT_TMP/syslog" || ft_fail "one client put dave under attack"
# bob's two failures make five: dave is under attack.
for i in 1 2; do [[ $(try bob dave wrong) == "1 "*"authentication failed"* ]] || ft_fail "bob -> dave failure $i"; done
p9_poll 5 grep -q 'factotum\[[0-9]*\]: attack target=dave ' "$FT_TMP/syslog" || ft_fail "dave not under attack after 5 failures"
# carol: locked after her first failure; bob after his third (not his fourth).
[[ $(try carol dave wrong) == "1 "*"authentication failed"* ]] || ft_fail "carol -> dave failure"
out=$(try carol dave dave-secret)
[[ $out == "1 "*"too many failures"* ]] || ft_fail "carol not locked after one failure for a target under attack: '$out'"
[[ $(try bob dave wrong) == "1 "*"authentication failed"* ]] || ft_fail "bob -> dave failure 3"
[[ $(try bob dave dave-secret) == "1 "*"too many failures"* ]] || ft_fail "bob not locked"
ft_pass "dave under attack: each client locked after its next failure ($out)"
# alice never failed for dave: PAM still asks (and refuses the expired account).
out=$(try alice dave dave-secret)
[[ $out == "1 "*"account not usable"* ]] || ft_fail "alice refused for dave although she never failed: '$out'"
ft_pass "a client that never failed is still served for a target under attack ($out)"

# A target NSS does not know is throttled like any other, but never named in the log.
for i in 1 2 3; do try alice nosuchuser 'a password typed as a name' >/dev/null; done
[[ $(try alice nosuchuser x) == "1 "*"too many failures"* ]] || ft_fail "unknown target not throttled"
grep -q 'deny client_uid=2001 client_pid=[0-9]* target=?(unknown) reason=throttled' "$FT_TMP/syslog" ||
    ft_fail "no throttled record for the unknown target"
! grep -q nosuchuser "$FT_TMP/syslog" || ft_fail "an unknown target name reached the log"
ft_pass "unknown targets throttled and logged as ?(unknown)"
