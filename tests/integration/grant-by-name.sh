#!/usr/bin/env bash
# p9grant resolves names through NSS (the fixture files): alice may become
# bob, and p9use makes her exactly bob: uid, gid and bob's groups.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
p9_enter "$@"

# The daemon's log (stderr in the foreground) is kept, to look for secrets.
log=$(mktemp /tmp/p9authfs-log.XXXXXX)
keys=()
p9_start /run/p9auth 2>"$log"
daemon=$P9_PID

cap=$("$P9GRANT" alice bob) || p9_fail "p9grant alice bob exited $?"
[[ $cap =~ ^2001@2002:2002(:[0-9,]+)?@[A-Za-z0-9_-]{43}$ ]] || p9_fail "p9grant printed '${cap%@*}@...'"
keys+=("${cap##*@}")

# bob's groups as a login gets them (initgroups): primary group and memberships.
groups=$(id -G bob | tr ' ' '\n' | sort -n | tr '\n' ' ')
groups=${groups% }
[[ $groups == "2002 2100 2101 2102" ]] || p9_fail "fixture NSS not in effect: id -G bob = $groups"

got=$(p9_use alice "$cap" /bin/cat /proc/self/status | p9_creds)
want=$(p9_want 2002 2002 "$groups")
[[ $got == "$want" ]] || p9_fail "after p9use: $got, want $want"
p9_pass "p9grant alice bob; p9use as alice: $got"

# The capability is spent.
rc=0
out=$(p9_use alice "$cap" /usr/bin/id -u 2>/dev/null) || rc=$?
[[ $rc == 1 && -z $out ]] || p9_fail "replay: p9use exited $rc, printed '$out'"
p9_pass "replay refused"

# The bare form (--uid-only): uids only, alice keeps her gid and groups.
cap=$("$P9GRANT" --uid-only alice bob) || p9_fail "p9grant --uid-only exited $?"
[[ $cap =~ ^2001@2002@ ]] || p9_fail "p9grant --uid-only printed '${cap%@*}@...'"
keys+=("${cap##*@}")
got=$(p9_use alice "$cap" /bin/cat /proc/self/status | p9_creds)
want='uid=2002 2002 2002 2002 gid=2001 2001 2001 2001 groups=2001 2100 capprm=0000000000000000 capeff=0000000000000000 nnp=0'
[[ $got == "$want" ]] || p9_fail "bare form: $got, want $want"
p9_pass "p9grant --uid-only: $got"

# Carol cannot use alice's capability, and does not use it up.
cap=$("$P9GRANT" alice carol) || p9_fail "p9grant alice carol exited $?"
keys+=("${cap##*@}")
rc=0
out=$(p9_use carol "$cap" /usr/bin/id -u 2>/dev/null) || rc=$?
[[ $rc == 1 && -z $out ]] || p9_fail "carol using alice's capability: p9use exited $rc, printed '$out'"
got=$(p9_use alice "$cap" /bin/cat /proc/self/status | p9_creds)
want=$(p9_want 2003 2003 "2003 2102")
[[ $got == "$want" ]] || p9_fail "alice after carol's attempt: $got, want $want"
p9_pass "wrong user refused, capability kept"

# Unknown names are errors, not guesses.
rc=0
"$P9GRANT" alice nosuchuser >/dev/null 2>&1 || rc=$?
[[ $rc != 0 ]] || p9_fail "p9grant alice nosuchuser succeeded"
grep -qx 'granted 3' /run/p9auth/status || p9_fail "status: $(tr '\n' ' ' </run/p9auth/status)"
p9_pass "unknown user refused"

p9_stop /run/p9auth "$daemon"

# Uses, refusals and grants were logged; no key was, nor any hash.
grep -q 'capability accepted for uid 2001' "$log" || p9_fail "no use in the daemon's log: $(cat "$log")"
grep -q 'capuse: capability refused' "$log" || p9_fail "no refusal in the daemon's log: $(cat "$log")"
for k in "${keys[@]}"; do
    ! grep -qF "$k" "$log" || p9_fail "a key is in the daemon's log"
done
! grep -qE '[A-Za-z0-9_-]{43}|[0-9a-f]{40}' "$log" || p9_fail "something like a key or a hash is in the log: $(grep -E '[A-Za-z0-9_-]{43}|[0-9a-f]{40}' "$log")"
p9_pass "the daemon's log has the uses and refusals, and no key or hash (${#keys[@]} keys checked)"
rm -f "$log"
