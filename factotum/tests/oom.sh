#!/usr/bin/env bash
# An exception in a worker is a refusal of that request, never the end of
# the daemon. The trigger is real: factotum's data limit (RLIMIT_DATA,
# set from outside with prlimit) of its monitor, which looks users up, is
# lowered to just above what it uses, and a request names a user whose
# passwd entry is 2 MB, so the buffer for its lookup (4 MiB) cannot grow:
# std::bad_alloc in the monitor's login. factotum refuses that request
# (internal), logs what was thrown, and once the limit is lifted serves
# the next request.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
ft_enter "$@"
command -v prlimit >/dev/null || { echo "SKIP: prlimit (util-linux) not installed" >&2; exit 77; }
# The sanitizers' operator new reports a failed allocation and aborts: it never throws.
if grep -qaE '__asan_init|__tsan_init' "$FACTOTUM"; then echo "SKIP: a sanitizer build's new does not throw" >&2; exit 77; fi

# mallory's entry: a legal passwd line, a 2 MB comment field.
printf 'mallory:x:2006:2006:%s:/nonexistent:/bin/sh\n' "$(head -c 2000000 /dev/zero | tr '\0' m)" >>"$FT_TMP/etc/passwd"
ft_mount
ft_start --workers 1
cap=$(ft_request alice bob 'bob secret!') || ft_fail "no grant before the limit"
data_kb=$(awk '/^VmData:/ { print $2 }' "/proc/$FT_PID/status")
prlimit --pid "$FT_PID" --data=$((data_kb * 1024)):  # the soft limit (no CAP_SYS_RESOURCE needed to lift it again), at what it uses: nothing new can be mapped
out=$(p9_as alice "$FT_CLIENT" raw "$FT_SOCK" frame:01:mallory r) || true
prlimit --pid "$FT_PID" --data=unlimited: 2>/dev/null || true
p9_gone "$FT_PID" && ft_fail "factotum died of the exception (the client read: '$out')"
[[ $out == "refused 8 internal error; see factotum's log" ]] || ft_fail "the request that ran out of memory: '$out'"
grep -q 'monitor: out of memory (std::bad_alloc) during a login; refused, serving on' "$FT_TMP/syslog" ||
    ft_fail "no record of the exception"
grep -q 'deny client_uid=2001 client_pid=[0-9]* target=- reason=internal (out of memory (std::bad_alloc))' \
    "$FT_TMP/syslog" || ft_fail "no record of the refusal"
cap=$(ft_request alice bob 'bob secret!') || ft_fail "factotum no longer grants after the exception"
[[ $cap == 2001@2002:* ]] || ft_fail "capability after the exception: '${cap%@*}'"
ft_pass "std::bad_alloc in the monitor during a login: that request refused (internal), the next one granted by the same factotum"
