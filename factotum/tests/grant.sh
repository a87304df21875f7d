#!/usr/bin/env bash
# factotum against the real pam_unix stack: the right password grants a
# capability that makes the client exactly the target; wrong password,
# unknown user, expired account, policy denial and root all refuse and
# write no hash. FROM is always the client's kernel-reported uid. The
# audit log has every decision and never a password.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
ft_enter "$@"

ft_mount
ft_start

# The right password: a full-form capability from alice to bob.
g0=$(ft_status granted)
cap=$(ft_request alice bob 'bob secret!') || ft_fail "alice asking for bob with the right password: exit $?"
[[ $cap =~ ^2001@2002:2002:2002,2100,2101,2102@[A-Za-z0-9_-]{43}$ ]] || ft_fail "capability shape: '${cap%@*}@...'"
[[ $(ft_status granted) == $((g0 + 1)) ]] || ft_fail "status granted did not go up by one"
got=$(ft_use alice "$cap" /bin/cat /proc/self/status | ft_creds)
want="uid=2002 2002 2002 2002 gid=2002 2002 2002 2002 groups=2002 2100 2101 2102"
[[ $got == "$want" ]] || ft_fail "after p9use: $got, want $want"
ft_pass "right password: alice became exactly bob ($got)"

# FROM is the peer's uid: carol asking for bob gets a capability from 2003,
# alice cannot use it, and carol can.
cap=$(ft_request carol bob 'bob secret!') || ft_fail "carol asking for bob: exit $?"
[[ $cap == 2003@2002:* ]] || ft_fail "carol's capability is FROM '${cap%%@*}', want 2003"
rc=0
ft_use alice "$cap" /usr/bin/id -u >/dev/null 2>&1 || rc=$?
[[ $rc != 0 ]] || ft_fail "alice used carol's capability"
got=$(ft_use carol "$cap" /usr/bin/id -u) || ft_fail "carol could not use her own capability"
[[ $got == 2002 ]] || ft_fail "carol became $got"
ft_pass "FROM is the kernel's uid of the client (carol: 2003), not choosable"

# The protocol has no field for FROM: a name that looks like one is refused.
out=$(p9_as alice "$FT_CLIENT" raw "$FT_SOCK" "frame:01:2001@2002:2002" r)
[[ $out == "refused 6 "* ]] || ft_fail "a FROM-looking target: '$out'"
ft_pass "a target that smuggles FROM@TO is a protocol error"

# Refusals: nothing granted, a clear message, the right exit status.
refuse() {  # refuse WHAT USER TARGET ANSWER EXPECTED-MESSAGE
    local what=$1 u=$2 t=$3 a=$4 msg=$5 g rc=0 out
    g=$(ft_status granted)
    : >"$FT_TMP/request.err"
    out=$(ft_request "$u" "$t" "$a") || rc=$?
    [[ $rc == 1 && -z $out ]] || ft_fail "$what: exit $rc, printed '${out%@*}'"
    grep -q "$msg" "$FT_TMP/request.err" || ft_fail "$what: message '$(cat "$FT_TMP/request.err")', want '$msg'"
    [[ $(ft_status granted) == "$g" ]] || ft_fail "$what: a hash was written"
    ft_pass "$what refused: $(cat "$FT_TMP/request.err")"
}
refuse "wrong password" alice bob 'not bob' "authentication failed"
refuse "unknown user" alice nosuchuser 'whatever' "authentication failed"
refuse "expired account" alice dave 'dave-secret' "account not usable"
refuse "policy deny (erin)" alice erin 'erin-secret' "not permitted"
refuse "policy: no rule for carol as alice" carol alice 'alice-secret' "not permitted"
refuse "root without a rule naming it" alice root 'root-secret' "not permitted"
refuse "empty password" alice bob '' "authentication failed"

# Prompts reach the client as PAM sent them; echo-off stays echo-off.
out=$(p9_as alice "$FT_CLIENT" raw "$FT_SOCK" "frame:01:bob" r "frame:02:bob secret!" r)
[[ $out == $'prompt_echo_off Password: \ngranted 2001@2002:2002:2002,2100,2101,2102' ]] || ft_fail "raw conversation: '$out'"
ft_pass "pam_unix's prompt arrives as prompt_echo_off"

# Audit: every decision, with uid and pid, never the password or a key.
log=$FT_TMP/syslog
p9_poll 5 grep -q 'deny client_uid=2003 client_pid=[0-9]* target=alice reason=policy' "$log" || ft_fail "no policy deny record"
for re in 'request client_uid=2001 client_pid=[0-9]* target=bob' \
    'grant client_uid=2001 client_pid=[0-9]* target=bob to=2002:2002:2002,2100,2101,2102' \
    'grant client_uid=2003 client_pid=[0-9]* target=bob' \
    'deny client_uid=2001 client_pid=[0-9]* target=bob reason=auth' \
    'deny client_uid=2001 client_pid=[0-9]* target=?(unknown) reason=auth' \
    'deny client_uid=2001 client_pid=[0-9]* target=dave reason=account' \
    'deny client_uid=2001 client_pid=[0-9]* target=erin reason=policy (line 7)' \
    'deny client_uid=2001 client_pid=[0-9]* target=root reason=policy' \
    'deny client_uid=2001 client_pid=[0-9]* target=- reason=protocol'; do
    grep -q "factotum\[[0-9]*\]: $re" "$log" || ft_fail "audit log lacks '$re'"
done
grep -q '<8[0-9]>' "$log" || ft_fail "audit records are not LOG_AUTHPRIV"
# A name NSS does not know may be a password typed as a user name: never logged.
! grep -q 'nosuchuser' "$log" || ft_fail "the audit log names a target NSS does not know"
for secret in 'bob secret' 'not bob' 'dave-secret' 'erin-secret' 'alice-secret' 'root-secret'; do
    ! grep -qF "$secret" "$log" || ft_fail "the audit log contains a password ('$secret')"
done
! grep -qE '@[A-Za-z0-9_-]{43}' "$log" || ft_fail "the audit log contains a capability"
ft_pass "audit log: $(grep -c 'factotum\[' "$log") records, all decisions, no secret"

# PAM's messages reach the client as sent: PAM_ERROR_MSG from pam_unix for
# the expired account, PAM_TEXT_INFO from pam_echo, in order.
out=$(p9_as alice "$FT_CLIENT" raw "$FT_SOCK" frame:01:dave r frame:02:dave-secret r r)
[[ $out == $'prompt_echo_off Password: \nerror_msg Your account has expired; please contact your system administrator.\nrefused 3 User account has expired' ]] ||
    ft_fail "expired account conversation: '$out'"
ft_pass "PAM_ERROR_MSG relayed (pam_unix, expired account)"
kill "$FT_PID"
p9_poll 10 p9_gone "$FT_PID" || ft_fail "factotum did not stop"
ft_start --pam-service p9auth-chatty
out=$(p9_as alice "$FT_CLIENT" raw "$FT_SOCK" frame:01:bob r r "frame:02:bob secret!" r)
[[ $out == $'text_info factotum test: hello bob\nprompt_echo_off Password: \ngranted 2001@2002:2002:2002,2100,2101,2102' ]] ||
    ft_fail "chatty stack conversation: '$out'"
ft_pass "PAM_TEXT_INFO relayed before the prompt (pam_echo)"

# One answer limit for every tool (tools/common/terminal.hpp): 1024 bytes
# go to factotum, 1025 are refused by p9auth-request, never cut and sent.
long=$(head -c 1024 /dev/zero | tr '\0' x)
auth_failures() { grep -c "target=bob reason=auth" "$FT_TMP/syslog" || true; }
before=$(auth_failures)
rc=0
: >"$FT_TMP/request.err"
ft_request alice bob "${long}x" >/dev/null || rc=$?
[[ $rc == 3 ]] || ft_fail "a 1025-byte answer: exit $rc, want 3: $(cat -A "$FT_TMP/request.err")"
grep -q "p9auth-request: answer longer than 1024 bytes: refused, not sent" "$FT_TMP/request.err" ||
    ft_fail "a 1025-byte answer: $(cat -A "$FT_TMP/request.err")"
rc=0
ft_request alice bob "$long" >/dev/null || rc=$?
[[ $rc == 1 ]] || ft_fail "a 1024-byte answer: exit $rc, want 1 (sent, wrong): $(cat "$FT_TMP/request.err")"
p9_poll 10 test "$(auth_failures)" -gt "$before" || ft_fail "no record of the 1024-byte answer"
[[ $(auth_failures) == $((before + 1)) ]] || ft_fail "auth failures for bob: $before before, $(auth_failures) after (the 1025-byte answer was sent?)"
rc=0
: >"$FT_TMP/request.err"
ft_request alice 'bo b' '' >/dev/null || rc=$?
[[ $rc == 2 ]] || ft_fail "TARGET 'bo b': exit $rc, want 2: $(cat "$FT_TMP/request.err")"
grep -q "^p9auth-request: TARGET: 'bo b' is not a user name" "$FT_TMP/request.err" ||
    ft_fail "TARGET 'bo b': $(cat "$FT_TMP/request.err")"
ft_pass "answers: 1025 bytes refused by the client, 1024 sent; a bad TARGET is a usage error"
