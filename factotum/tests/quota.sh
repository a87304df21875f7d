#!/usr/bin/env bash
# One client uid's successful grants are bounded (--grants-per-uid, refilled
# over --grant-window): alice asking for herself with her own password gets
# her share, then a clear refusal (busy), while bob's grants go on; a wrong
# password does not spend her share; the refusal is logged.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
ft_enter "$@"

ft_mount
printf 'permit * as alice\npermit * as bob\n' >"$FT_TMP/etc/factotum.conf"
ft_start --grants-per-uid 3 --grant-window 3600

# A wrong password first: it must not use up one of her three.
rc=0
ft_request alice alice wrong >/dev/null || rc=$?
[[ $rc == 1 ]] || ft_fail "a wrong password: exit $rc, want 1"
for i in 1 2 3; do
    cap=$(ft_request alice alice alice-secret) || ft_fail "alice's grant $i refused: $(tail -1 "$FT_TMP/request.err")"
    [[ $cap == 2001@2001:* ]] || ft_fail "alice's grant $i: '${cap%@*}'"
done
rc=0
: >"$FT_TMP/request.err"
ft_request alice alice alice-secret >/dev/null || rc=$?
[[ $rc == 1 ]] || ft_fail "alice's fourth grant: exit $rc, want 1 (refused)"
grep -q 'too many grants for this user lately; try again in [0-9]* s' "$FT_TMP/request.err" ||
    ft_fail "the refusal does not say why: $(cat "$FT_TMP/request.err")"
p9_poll 5 grep -qE 'deny client_uid=2001 client_pid=[0-9]+ target=alice reason=grant quota \(3 per 3600s; [0-9]+s until the next\)' \
    "$FT_TMP/syslog" || ft_fail "the refusal is not logged"
ft_pass "alice: 3 grants (a wrong password spent none), the fourth refused with the reason, and logged"

cap=$(ft_request bob bob 'bob secret!') || ft_fail "bob refused while alice is at her quota: $(tail -1 "$FT_TMP/request.err")"
[[ $cap == 2002@2002:* ]] || ft_fail "bob's grant: '${cap%@*}'"
out=$(awk '$1 == "outstanding" { print $2 }' "$FT_MNT/status")
[[ $out == 4 ]] || ft_fail "outstanding hashes: $out, want 4 (alice's 3 and bob's 1)"
ft_pass "bob is served while alice is at her quota; the table holds exactly 4 hashes"
