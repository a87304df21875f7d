#!/usr/bin/env bash
# What an operator uses: the command line (getopt_long, one style),
# factotum --check (a usable policy, a broken one, names NSS does not
# know; no mount, socket or caphash touched), and SIGHUP (a new policy
# decides the next request; a bad one is logged and the old one kept).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
ft_enter "$@"
conf=$FT_TMP/etc/factotum.conf

# 1. The command line.
out=$("$FACTOTUM" --help) || ft_fail "--help: exit $?"
[[ $out == usage:\ factotum* && $out == *--check* ]] || ft_fail "--help: '$out'"
[[ $("$FACTOTUM" --version) =~ ^factotum\ [0-9]+\.[0-9]+ ]] || ft_fail "--version: '$("$FACTOTUM" --version)'"
rc=0
"$FACTOTUM" --no-such-option >/dev/null 2>"$FT_TMP/opt.err" || rc=$?
[[ $rc == 2 ]] && head -1 "$FT_TMP/opt.err" | grep -q "^factotum: unknown option --no-such-option$" &&
    grep -q "^usage: factotum" "$FT_TMP/opt.err" || ft_fail "bad option: exit $rc: $(cat "$FT_TMP/opt.err")"
rc=0
"$FACTOTUM" --workers 0 2>"$FT_TMP/opt.err" || rc=$?
[[ $rc == 2 ]] && grep -q "^factotum: --workers wants a number in 1..256, not '0'" "$FT_TMP/opt.err" ||
    ft_fail "--workers 0: exit $rc: $(cat "$FT_TMP/opt.err")"
rc=0
"$FACTOTUM" --policy 2>"$FT_TMP/opt.err" || rc=$?
[[ $rc == 2 ]] && grep -q "^factotum: --policy: missing value" "$FT_TMP/opt.err" ||
    ft_fail "--policy without a value: exit $rc: $(cat "$FT_TMP/opt.err")"
ft_pass "--help (stdout, 0), --version, a bad option, a bad number and a missing value (stderr + usage, 2)"

# 2. --check. No mount at $FT_MNT and no socket: it must not need them.
check() {  # check EXPECTED-STATUS [OPTIONS]: runs --check, output in $FT_TMP/check.{out,err}
    local want=$1 rc=0
    shift
    "$FACTOTUM" --check --mount "$FT_MNT" --socket "$FT_SOCK" --policy "$conf" --pam-service p9auth-test "$@" \
        >"$FT_TMP/check.out" 2>"$FT_TMP/check.err" || rc=$?
    [[ $rc == "$want" ]] || ft_fail "--check $*: exit $rc, wanted $want: $(cat "$FT_TMP/check.out" "$FT_TMP/check.err")"
}
check 0
grep -q "factotum.conf: 5 rules; .*usable" "$FT_TMP/check.out" || ft_fail "--check: '$(cat "$FT_TMP/check.out")'"
grep -q "warning: .*factotum.conf:6: user 'nosuchuser' is not known to the user database (NSS)" "$FT_TMP/check.err" ||
    ft_fail "--check did not warn about nosuchuser: '$(cat "$FT_TMP/check.err")'"
[[ ! -e $FT_SOCK && ! -e $FT_MNT/caphash ]] || ft_fail "--check touched the socket or the mount"
ft_pass "--check on the test policy: 0, $(cat "$FT_TMP/check.out"); warned: $(grep -c warning "$FT_TMP/check.err")"
cp "$conf" "$FT_TMP/good.conf"
echo "permit :no-such-group as bob" >>"$conf"
check 0
grep -q "factotum.conf:8: group 'no-such-group' is not known" "$FT_TMP/check.err" || ft_fail "no unknown-group warning"
ft_pass "--check warns about an unknown group and still says usable"
echo "permit alice bob" >>"$conf"
check 78
grep -q "factotum.conf:9: expected 'permit|deny CLIENT as TARGET'" "$FT_TMP/check.err" &&
    grep -q "1 problem: factotum would not start" "$FT_TMP/check.err" || ft_fail "--check bad policy: '$(cat "$FT_TMP/check.err")'"
ft_pass "--check on a policy with a syntax error: 78: $(head -1 "$FT_TMP/check.err")"
cp "$FT_TMP/good.conf" "$conf"
chmod 0666 "$conf"
check 78
grep -q "writable by group or others" "$FT_TMP/check.err" || ft_fail "--check mode: '$(cat "$FT_TMP/check.err")'"
chmod 0644 "$conf"
check 78 --user no-such-daemon-user
grep -q -- "--user no-such-daemon-user: no such user" "$FT_TMP/check.err" || ft_fail "--check --user: '$(cat "$FT_TMP/check.err")'"
ft_pass "--check refuses a world-writable policy and an unknown --user (78)"

# 3. SIGHUP.
ft_mount
ft_start
cap=$(ft_request carol bob 'bob secret!') || ft_fail "carol as bob before the HUP: exit $?"
printf 'permit :staff as *\ndeny carol as bob\n' >"$conf"
kill -HUP "$FT_PID"
p9_poll 10 grep -q "factotum\[$FT_PID\]: reloaded $conf (2 rules)" "$FT_TMP/syslog" || ft_fail "no reload record"
rc=0
ft_request carol bob 'bob secret!' >/dev/null || rc=$?
[[ $rc == 1 ]] || ft_fail "carol as bob after the HUP: exit $rc (the new policy denies it)"
p9_poll 10 grep -q "$(ft_who "$FT_PID"): deny client_uid=2003 .*target=bob reason=policy (line 2)" "$FT_TMP/syslog" ||
    ft_fail "the denial does not cite the new policy's line 2"
ft_pass "SIGHUP: the reload is logged with the file's name; carol as bob, permitted before, is denied by line 2 after"
echo "permit carol" >>"$conf"
kill -HUP "$FT_PID"
p9_poll 10 grep -q "factotum\[$FT_PID\]: reload $conf failed, keeping the policy in force: .*factotum.conf:3: expected" \
    "$FT_TMP/syslog" || ft_fail "a bad reload was not logged: $(grep "factotum\[$FT_PID\]" "$FT_TMP/syslog" | tail -2)"
cap=$(ft_request alice bob 'bob secret!') || ft_fail "after a bad reload, alice (staff) as bob: exit $?"
rc=0
ft_request carol bob 'bob secret!' >/dev/null || rc=$?
[[ $rc == 1 ]] || ft_fail "after a bad reload carol as bob: exit $rc (the kept policy denies it)"
p9_gone "$FT_PID" && ft_fail "factotum died of a bad reload"
ft_pass "SIGHUP with a broken policy: logged, the policy in force kept (alice granted, carol still denied)"
