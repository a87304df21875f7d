#!/usr/bin/env bash
# Failed authentications lock the (client, target) pair, then the client;
# never the target for everybody else.
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
