#!/usr/bin/env bash
# p9authfs per user namespace, without host root: a user namespace owned by
# host uid 3500 (its map written by root, as newuidmap would) mounts its own
# p9authfs. Inside: ns-root may grant, an ns user without capabilities may
# not; a use with ns ids works; a capability granted in one mount is refused
# by another.
#
# Stages (P9_STAGE): "" host root in a private namespace; "userns" the new
# user namespace before it has capabilities; "inside" ns-root in its own
# mount namespace.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
owner=3500

inside() {
    p9_start /run/p9auth
    local first=$P9_PID
    p9_start /run/p9auth2
    local second=$P9_PID
    [[ $(p9_superopts /run/p9auth) == *user_id=0* ]] || p9_fail "mount not owned by ns-root: $(p9_superopts /run/p9auth)"

    # ns-root (host uid 3500) holds CAP_SETUID and CAP_SETGID in this namespace.
    local cap
    cap=$("$P9CONF" --grant /run/p9auth 1 2:2:3) || p9_fail "ns-root could not grant"
    p9_pass "ns-root grants"

    # ns uid 1 has no capabilities: it may not grant.
    local rc=0 err
    err=$(p9_as 1 "$P9CONF" --grant /run/p9auth 1 2:2 2>&1) || rc=$?
    [[ $rc == 1 && $err == *"not permitted"* ]] || p9_fail "ns uid 1 granting: exit $rc: $err"
    grep -qx 'granted 1' /run/p9auth/status || p9_fail "status: $(tr '\n' ' ' </run/p9auth/status)"
    p9_pass "ns uid 1 may not grant: $err"

    # A use with ns ids: ns uid 1 becomes ns uid 2, gid 2, groups 3.
    local got
    got=$(p9_use 1 "$cap" /bin/cat /proc/self/status | p9_creds)
    [[ $got == "$(p9_want 2 2 3)" ]] || p9_fail "use in the user namespace: $got"
    p9_pass "p9use with ns ids: $got"

    # Two mounts, two tables.
    cap=$("$P9CONF" --grant /run/p9auth2 1 2:2) || p9_fail "grant in the second mount"
    local out
    rc=0
    out=$(p9_use 1 "$cap" /usr/bin/id -u 2>/dev/null) || rc=$?
    [[ $rc == 1 && -z $out ]] || p9_fail "the second mount's capability at the first: exit $rc, ran as '$out'"
    rc=0
    err=$(printf '%s' "$cap" | p9_as 1 dd of=/run/p9auth/capuse bs=1k conv=notrunc status=none 2>&1) || rc=$?
    [[ $rc != 0 && $err == *"not permitted"* ]] || p9_fail "direct write to the first mount: exit $rc: $err"
    printf '%s' "$cap" | p9_as 1 dd of=/run/p9auth2/capuse bs=1k conv=notrunc status=none ||
        p9_fail "the capability in its own mount"
    p9_pass "a capability from one mount is refused by another (EPERM)"

    p9_stop /run/p9auth "$first"
    p9_stop /run/p9auth2 "$second"
}

case ${P9_STAGE:-} in
inside)
    trap p9_cleanup EXIT
    inside
    exit 0
    ;;
userns)
    # Wait for root to write the maps, then exec: as ns uid 0 the exec gives
    # full capabilities in this namespace, and unshare -m makes a mount
    # namespace it owns.
    mapped() { grep -q . /proc/self/uid_map && grep -q . /proc/self/gid_map; }
    p9_poll 15 mapped || p9_fail "no uid_map written"
    P9_STAGE=inside exec unshare --mount --propagation private -- "$0"
    ;;
esac

p9_enter "$@"
# A user namespace's owner opens /dev/fuse as itself.
p9_open_dev_fuse
mkdir -p /run/p9auth /run/p9auth2
chown "$owner:$owner" /run/p9auth /run/p9auth2
chmod 0755 "$P9_TMP"

P9_STAGE=userns setpriv --reuid="$owner" --regid="$owner" --clear-groups -- unshare --user -- "$0" &
child=$!
in_userns() { [[ $(readlink "/proc/$child/ns/user") != "$(readlink /proc/self/ns/user)" ]]; }
p9_poll 15 in_userns || p9_fail "the child did not create a user namespace"
# A map must be written in one write(2): dd collects it first.
for map in uid_map gid_map; do
    printf '0 %s 1\n1 100000 65536\n' "$owner" | dd of="/proc/$child/$map" bs=4096 iflag=fullblock status=none ||
        p9_fail "cannot write $map"
done
rc=0
wait "$child" || rc=$?
[[ $rc == 0 ]] || p9_fail "the user-namespace part failed (exit $rc)"
p9_pass "rootless p9authfs"
