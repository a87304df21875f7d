#!/usr/bin/env bash
# A plain user cannot grant: p9grant fails with EPERM's message and nothing
# is granted, not even as root of a user namespace of her own. With
# grant_uid= the named identity can.
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

# Capabilities held only in a user namespace of her own do not make alice
# a granter on this mount: the privilege is judged in the mount's namespace.
rc=0
err=$(p9_as alice unshare -Ur sh -c \
    'grep "^CapEff:" /proc/self/status; id -u; "$0" alice bob >/dev/null; exec 3>/run/p9auth/caphash' \
    "$P9GRANT" 2>&1) || rc=$?
grep -qE '^CapEff:[[:space:]]*0*1?[f]{9,}' <<<"$err" && grep -qx 0 <<<"$err" ||
    p9_fail "premise: alice is not root with every capability in her namespace: $err"
[[ $rc != 0 ]] || p9_fail "alice opened caphash with capabilities of her own user namespace"
grep -qiE "$eperm" <<<"$err" || p9_fail "caphash from a child user namespace: exit $rc, '$err' does not say EPERM"
grep -qx 'granted 0' /run/p9auth/status || p9_fail "status after the child-namespace attempt: $(tr '\n' ' ' </run/p9auth/status)"
p9_pass "alice as root of her own user namespace (every capability there) cannot grant: EPERM, nothing granted"
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
