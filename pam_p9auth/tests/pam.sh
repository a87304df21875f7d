#!/usr/bin/env bash
# pam_p9auth through pamtester and a small PAM application: the right
# password authenticates and leaves a capability the application can take
# once and use through p9use; wrong password and unknown user fail; account
# reports factotum's verdict; the capability is never in the environment.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
login_enter "$@"
command -v pamtester >/dev/null || { echo "SKIP: pamtester not installed" >&2; exit 77; }

pt() {  # pt USER PASSWORD OPS...: pamtester as alice
    local u=$1 pw=$2
    shift 2
    printf '%s\n' "$pw" | login_sanitized p9_as alice pamtester -v p9login-test "$u" "$@" 2>&1
}

out=$(pt bob 'bob secret!' authenticate acct_mgmt) || ft_fail "pamtester, right password: $out"
grep -q 'successfully authenticated' <<<"$out" || ft_fail "right password: $out"
grep -q 'account management done' <<<"$out" || ft_fail "acct_mgmt after the right password: $out"
ft_pass "pamtester: bob's password authenticates (auth and account)"

rc=0; out=$(pt bob 'not bob' authenticate) || rc=$?
[[ $rc != 0 ]] && grep -q 'Authentication failure' <<<"$out" || ft_fail "wrong password: rc=$rc $out"
ft_pass "pamtester: wrong password fails ($(tail -1 <<<"$out"))"

rc=0; out=$(pt nosuchuser 'whatever' authenticate) || rc=$?
[[ $rc != 0 ]] && grep -q 'Authentication failure' <<<"$out" || ft_fail "unknown user: rc=$rc $out"
ft_pass "pamtester: unknown user fails"

rc=0; out=$(pt bob 'bob secret!' acct_mgmt) || rc=$?
[[ $rc != 0 ]] || ft_fail "account without authentication succeeded: $out"
ft_pass "account without an authentication through pam_p9auth is refused (fail closed)"

# The capability, taken from the handle by an application, makes alice bob.
out=$(printf '%s\n' 'bob secret!' | p9_as alice env -i PATH=/usr/bin:/bin "$PAM_TAKE" p9login-test bob "$P9USE_CAPS" \
    /bin/sh -c 'cat /proc/self/status; env' 2>"$FT_TMP/take.err") || ft_fail "pam_take: $(cat "$FT_TMP/take.err")"
got=$(p9_creds <<<"$out")
want=$(p9_want 2002 2002 "2002 2100 2101 2102")
[[ $got == "$want" ]] || ft_fail "after p9use with the taken capability: $got, want $want"
grep -q '^take: ok; again: No such file or directory$' "$FT_TMP/take.err" || ft_fail "take twice: $(cat "$FT_TMP/take.err")"
grep -q '^from: 2001$' "$FT_TMP/take.err" || ft_fail "FROM: $(cat "$FT_TMP/take.err")"
! grep -qE '@[A-Za-z0-9_-]{43}' <<<"$out" || ft_fail "the capability is in the environment of the program"
ft_pass "the taken capability makes alice exactly bob ($got); taken once; not in the environment"

rc=0
printf '%s\n' 'nope' | p9_as alice "$PAM_TAKE" p9login-test bob "$P9USE_CAPS" /bin/true 2>"$FT_TMP/take.err" || rc=$?
[[ $rc == 1 ]] && grep -q '^take: No such file or directory' "$FT_TMP/take.err" || ft_fail "wrong password, take: rc=$rc $(cat "$FT_TMP/take.err")"
ft_pass "after a wrong password there is no capability to take"

log=$FT_TMP/syslog
for secret in 'bob secret' 'not bob'; do
    ! grep -qF "$secret" "$log" || ft_fail "the log contains a password"
done
! grep -qE '@[A-Za-z0-9_-]{43}' "$log" || ft_fail "the log contains a capability"
ft_pass "no password or capability in the log"
login_clean "$FT_TMP/take.err"
