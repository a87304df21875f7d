#!/usr/bin/env bash
# The monitor against a hostile front (hostile_front.cpp): the real
# Monitor::serve with the real policy, the real PAM stack and the caphash of
# a real p9authfs mount, driven by a front that breaks every rule it can
# (forged or missing connections, packets out of turn, over their limits, a
# verdict of its own). It must get no grant an honest front could not have
# got: the mount's granted counter says how many hashes were written.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
ft_enter "$@"

ft_mount
printf 'permit alice as *\n' >"$FT_TMP/etc/factotum.conf"
out=$("$FT_HOSTILE_FRONT" "$FT_MNT" "$FT_SOCK" "$FT_TMP/etc/factotum.conf" p9auth-test 2>&1) ||
    ft_fail "hostile front: $(grep -v '^PASS' <<<"$out")"
n=$(grep -c '^PASS' <<<"$out")
((n >= 20)) || ft_fail "only $n checks ran: $out"
grep -q 'monitor: the front broke the protocol (.*a listening socket, not a connection' "$FT_TMP/syslog" ||
    ft_fail "the monitor does not say why it stopped"
ft_pass "$n checks: the honest front gets its grants; every hostile one is refused and stops the monitor, no hash written"
