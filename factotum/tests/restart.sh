#!/usr/bin/env bash
# factotum killed in the middle of a grant: the hash it wrote is never
# usable past the mount's timeout; a restarted factotum (on a mount without
# grant_once) grants again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
ft_enter "$@"

ft_mount timeout=2
ft_start

g0=$(ft_status granted)
e0=$(ft_status expired)
# A client that answers, then is slow to read: factotum writes the hash...
p9_as alice "$FT_CLIENT" raw "$FT_SOCK" frame:01:bob r "frame:02:bob secret!" s:3000 r >"$FT_TMP/slow" &
client=$!
above() { [[ $(ft_status "$1") -gt $2 ]]; }
p9_poll 10 above granted "$g0" || ft_fail "factotum did not grant"
# ... and is killed right after it.
kill -KILL "$FT_PID"
p9_poll 10 p9_gone "$FT_PID" || ft_fail "factotum survived SIGKILL"
ft_pass "factotum killed after writing the hash (granted $g0 -> $(ft_status granted))"
wait "$client" || true

# The hash expires: outstanding back to 0, expired up by one.
expired() { [[ $(ft_status expired) -gt $e0 && $(ft_status outstanding) == 0 ]]; }
p9_poll 15 expired || ft_fail "hash not expired: $(tr '\n' ' ' <"$FT_MNT/status")"
ft_pass "the orphaned hash expired ($(tr '\n' ' ' <"$FT_MNT/status"))"

# A capability delivered before the kill, unused: useless after the timeout.
ft_start
cap=$(ft_request alice bob 'bob secret!') || ft_fail "restarted factotum: exit $?"
kill -KILL "$FT_PID"
e1=$(ft_status expired)
p9_poll 15 above expired "$e1" || ft_fail "capability never expired"
rc=0
ft_use alice "$cap" /usr/bin/id -u >/dev/null 2>&1 || rc=$?
[[ $rc != 0 ]] || ft_fail "a capability was usable after the mount's timeout"
ft_pass "a capability granted just before the kill is refused after the timeout"

# A fresh factotum grants again on the same (non-grant_once) mount.
ft_start
cap=$(ft_request alice bob 'bob secret!') || ft_fail "restarted factotum: exit $?"
got=$(ft_use alice "$cap" /usr/bin/id -u) || ft_fail "capability from the restarted factotum refused"
[[ $got == 2002 ]] || ft_fail "became $got"
ft_pass "restarted factotum grants; capability used (uid $got)"
