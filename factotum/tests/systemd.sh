#!/usr/bin/env bash
# factotum under a service manager, played by factotum-test-systemd:
#  1. READY=1 and FDSTORE=1 (FDNAME=caphash, the descriptor attached) arrive;
#     factotum is killed; started again with the stored descriptor
#     (LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES=caphash) on the same grant_once
#     mount, it grants.
#  2. Started again without it, it exits 78 saying why, so the unit's
#     RestartPreventExitStatus= stops the loop.
#  3. A stored descriptor that is not caphash is refused and the file opened.
#  4. systemd-analyze verify accepts the unit as configured.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
ft_enter "$@"
[[ -n ${FT_SYSTEMD:-} && -x $FT_SYSTEMD ]] || ft_fail "FT_SYSTEMD (factotum-test-systemd) not built"

factotum_cmd=("$FACTOTUM" --mount "$FT_MNT" --socket "$FT_SOCK" --policy "$FT_TMP/etc/factotum.conf" --pam-service p9auth-test)
export TSAN_OPTIONS="suppressions=$here/tsan.supp ${TSAN_OPTIONS:-}"
harness() {  # harness --store|--no-store OUT
    "$FT_SYSTEMD" "$FT_TMP/notify.sock" "$1" -- "${factotum_cmd[@]}" >"$2" 2>>"$FT_TMP/factotum.err" &
    HARNESS=$!
    FT_DAEMONS+=("$HARNESS")
    disown
}
remount() {
    p9_poll 10 umount "$FT_MNT" 2>/dev/null || ft_fail "cannot unmount $FT_MNT"
    ft_mount grant_once
}

# 1. The store carries caphash across a restart on grant_once.
ft_mount grant_once
rm -f "$FT_SOCK"
harness --store "$FT_TMP/h1"
p9_poll 30 grep -q "^second: \(READY\|exit\)" "$FT_TMP/h1" || ft_fail "harness: $(cat "$FT_TMP/h1")"
grep -q "^second: READY" "$FT_TMP/h1" || ft_fail "second start not ready: $(cat "$FT_TMP/h1")"
grep -q "^notify [0-9]*: FDSTORE=1 FDNAME=caphash" "$FT_TMP/h1" || ft_fail "no FDSTORE=1: $(cat "$FT_TMP/h1")"
grep -q "^fd [0-9]*: caphash" "$FT_TMP/h1" || ft_fail "FDSTORE=1 without the descriptor: $(cat "$FT_TMP/h1")"
grep -q "^notify [0-9]*: READY=1 STATUS=granting on $FT_MNT" "$FT_TMP/h1" || ft_fail "no READY=1: $(cat "$FT_TMP/h1")"
ft_pass "first start: $(grep -c '^notify' "$FT_TMP/h1") notifications, READY=1 and FDSTORE=1 with caphash; killed"
p9_poll 10 test -S "$FT_SOCK" || ft_fail "second factotum has no socket"
cap=$(ft_request alice bob 'bob secret!') || ft_fail "restart with the stored descriptor: exit $?: $(tail -1 "$FT_TMP/request.err")"
got=$(ft_use alice "$cap" /usr/bin/id -u) || ft_fail "capability from the restarted factotum refused"
[[ $got == 2002 ]] || ft_fail "became $got"
p9_poll 10 grep -q "caphash: the descriptor from the service manager's store" "$FT_TMP/syslog" ||
    ft_fail "the second factotum did not say it used the store"
ft_pass "second start on the same grant_once mount, with the stored descriptor: granted, capability used (uid $got)"
kill "$HARNESS"
p9_poll 10 p9_gone "$HARNESS" || ft_fail "harness did not stop"

# 2. Without the store: 78 and a message that says what to do.
remount
rm -f "$FT_SOCK"
: >"$FT_TMP/factotum.err"
harness --no-store "$FT_TMP/h2"
p9_poll 30 grep -q "^second: exit" "$FT_TMP/h2" || ft_fail "harness: $(cat "$FT_TMP/h2")"
grep -q "^second: exit 78$" "$FT_TMP/h2" || ft_fail "restart without the store: $(grep '^second' "$FT_TMP/h2")"
grep -q "configuration error: caphash was already opened on this grant_once mount; .*FileDescriptorStoreMax=" \
    "$FT_TMP/factotum.err" || ft_fail "exit 78 without the message: $(cat "$FT_TMP/factotum.err")"
ft_pass "restart on grant_once without the store: exit 78: $(grep -o 'configuration error: [^.]*' "$FT_TMP/factotum.err" | head -1)"
: >"$FT_TMP/factotum.err"

# 3. A stored descriptor that is not caphash (write-only, but /dev/null).
p9_poll 10 umount "$FT_MNT" 2>/dev/null || ft_fail "cannot unmount $FT_MNT"
ft_mount
rm -f "$FT_SOCK"
(exec 3>/dev/null; LISTEN_FDS=1 LISTEN_FDNAMES=caphash exec sh -c 'LISTEN_PID=$$ exec "$@"' sh "${factotum_cmd[@]}") \
    2>>"$FT_TMP/factotum.err" &
FT_PID=$!
FT_DAEMONS+=("$FT_PID")
disown
p9_poll 15 ft_ready || ft_fail "factotum with a bogus stored descriptor did not come up"
grep -q "not using the stored caphash descriptor 3 is not on a p9auth filesystem; opening $FT_MNT/caphash instead" \
    "$FT_TMP/syslog" || ft_fail "bogus descriptor not refused: $(grep "$(ft_who "$FT_PID")" "$FT_TMP/syslog")"
cap=$(ft_request alice bob 'bob secret!') || ft_fail "after refusing the bogus descriptor: exit $?"
ft_pass "a stored descriptor on another filesystem is refused; the file is opened and grants"
kill "$FT_PID"

# 4. The unit as configured, ExecStart= pointed at this build.
if command -v systemd-analyze >/dev/null && [[ -f ${FT_SERVICE_UNIT:-} && -f ${FT_SOCKET_UNIT:-} ]]; then
    u=$FT_TMP/units
    mkdir -p "$u"
    sed "s|^ExecStart=[^ ]*|ExecStart=$FACTOTUM|" "$FT_SERVICE_UNIT" >"$u/factotum.service"
    cp "$FT_SOCKET_UNIT" "$u/factotum.socket"
    out=$(cd "$u" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no ./factotum.socket ./factotum.service 2>&1) ||
        ft_fail "systemd-analyze verify: $out"
    [[ -z $out ]] || ft_fail "systemd-analyze verify has remarks: $out"
    ft_pass "systemd-analyze verify: factotum.service and factotum.socket clean"
else
    echo "SKIP: systemd-analyze not installed; the unit is not verified"
fi
