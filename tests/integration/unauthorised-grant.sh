#!/usr/bin/env bash
# A plain user cannot grant: p9grant fails with EPERM's message and nothing
# is granted. With grant_uid= the named identity can.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
p9_enter "$@"
# strerror(EPERM), or p9grant's own words for it.
eperm="not permitted|not allowed to grant"

p9_start /run/p9auth
rc=0
err=$(p9_as alice "$P9GRANT" alice bob 2>&1 >/dev/null) || rc=$?
[[ $rc != 0 ]] || p9_fail "p9grant as alice succeeded"
grep -qiE "$eperm" <<<"$err" || p9_fail "p9grant as alice: exit $rc, message '$err' does not say EPERM"
grep -qx 'granted 0' /run/p9auth/status || p9_fail "status: $(tr '\n' ' ' </run/p9auth/status)"
p9_pass "p9grant as alice: exit $rc: $err"
p9_stop /run/p9auth "$P9_PID"

p9_start /run/p9auth grant_uid=3001
cap=$(p9_as granter "$P9GRANT" alice bob) || p9_fail "p9grant as granter with grant_uid=3001 exited $?"
rc=0
err=$("$P9GRANT" alice bob 2>&1 >/dev/null) || rc=$?
if [[ $rc == 0 ]] || ! grep -qiE "$eperm" <<<"$err"; then
    p9_fail "p9grant as root with grant_uid=3001: exit $rc '$err'"
fi
got=$(p9_use alice "$cap" /bin/cat /proc/self/status | p9_creds)
[[ $got == "$(p9_want 2002 2002 "2002 2100 2101 2102")" ]] || p9_fail "use of granter's grant: $got"
p9_pass "grant_uid=3001: granter may, root may not"
p9_stop /run/p9auth "$P9_PID"
