#!/usr/bin/env bash
# Rules on a client group are judged on the groups NSS gives the client's
# uid, not only on the groups the peer holds (issue 10, item 4; factotum.conf(5),
# docs/decisions.md 68): alice, in staff, drops staff in a user namespace
# and still meets "deny :staff as bob"; a group held without NSS's word
# meets a deny but earns no permit; a uid NSS does not know meets every
# deny on a group. And the capability's group list is one text, sorted, in
# factotum as in p9grant (decisions.md 67).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
ft_enter "$@"

# zed: primary gid 2300 above his supplementary ops (2050), so "sorted" and
# "primary first" are two texts for him. Appended in place: the bind mounts
# over /etc follow the files' inodes.
today=$(($(date +%s) / 86400))
echo 'zed:x:2300:2300:Zed (primary gid above a supplementary):/nonexistent:/bin/sh' >>"$FT_TMP/etc/passwd"
printf 'zed:x:2300:\nops:x:2050:zed\n' >>"$FT_TMP/etc/group"
echo "zed:$(ft_hash zed-secret zedsalt01):$today:0:99999:7:::" >>"$FT_TMP/etc/shadow"
cat >"$FT_TMP/etc/factotum.conf" <<'C'
permit * as bob
deny :staff as bob
permit :audio as zed
C

ft_mount
ft_start

granted() {  # granted WHAT CAPABILITY-PREFIX COMMAND...: the command prints a capability
    local what=$1 want=$2 out
    shift 2
    out=$("$@" 2>>"$FT_TMP/request.err") || ft_fail "$what: exit $?: $(tail -1 "$FT_TMP/request.err")"
    [[ $out == "$want"@* ]] || ft_fail "$what: got '${out%@*}@...', want '$want@...'"
    ft_pass "$what: granted ${out%@*}"
}
refused() {  # refused WHAT COMMAND...: refused by the policy, nothing written
    local what=$1 g rc=0 out
    shift
    g=$(ft_status granted)
    : >"$FT_TMP/request.err"
    out=$("$@" 2>>"$FT_TMP/request.err") || rc=$?
    [[ $rc == 1 && -z $out ]] || ft_fail "$what: exit $rc, printed '${out%@*}'"
    grep -q "not permitted" "$FT_TMP/request.err" || ft_fail "$what: message '$(cat "$FT_TMP/request.err")'"
    [[ $(ft_status granted) == "$g" ]] || ft_fail "$what: a hash was written"
    ft_pass "$what: refused ($(cat "$FT_TMP/request.err"))"
}
request() {  # request TARGET ANSWER: p9auth-request with the answer on stdin
    "$P9AUTH_REQUEST" --socket "$FT_SOCK" --stdin "$1" <<<"$2"
}

# in_userns USER GROUPS-INSIDE CMD...: CMD as USER in a new user namespace
# that maps USER's uid and gid to 0 and allows setgroups (what newuidmap and
# newgidmap give a user), after setgroups(GROUPS-INSIDE: "" drops them all).
# The maps are written from outside, by root, as newuidmap would.
own_userns() { [[ $(readlink "/proc/$1/ns/user") != "$(readlink /proc/self/ns/user)" ]]; }
in_userns() {
    local u=$1 groups=$2 uid gid pid fifo=$FT_TMP/userns.go rc=0
    shift 2
    uid=$(id -u "$u") gid=$(id -g "$u")
    rm -f "$fifo"
    mkfifo -m 0600 "$fifo"
    chown "$u" "$fifo"
    local drop=(--clear-groups)
    [[ -n $groups ]] && drop=(--groups "$groups")
    # setpriv itself, not p9_as: $! must be the process that unshares.
    setpriv --reuid="$u" --regid="$u" --init-groups -- unshare --user -- bash -c 'read -r _ <"$1"; shift; exec "$@"' _ "$fifo" \
        setpriv "${drop[@]}" -- "$@" >"$FT_TMP/userns.out" &
    pid=$!
    p9_poll 10 own_userns "$pid" || ft_fail "$u did not enter a user namespace"
    echo "0 $uid 1" >"/proc/$pid/uid_map"
    echo allow >"/proc/$pid/setgroups"
    echo "0 $gid 1" >"/proc/$pid/gid_map"
    echo go >"$fifo"
    wait "$pid" || rc=$?
    cat "$FT_TMP/userns.out"
    return "$rc"
}

# The bypass of issue 10 item 4: alice's peer groups lack staff.
peer_groups=$(in_userns alice "" bash -c 'id -G') || ft_fail "cannot drop groups in a user namespace"
[[ $peer_groups == 0 ]] || ft_fail "groups after the drop in the namespace: '$peer_groups', want only her gid"
# Inside, the client is uid 0 of its namespace: p9auth-request would refuse
# a capability FROM 2001 as not its own, so the raw test client asks.
ns_refused() {  # ns_refused WHAT USER TARGET
    local g out
    g=$(ft_status granted)
    out=$(in_userns "$2" "" "$FT_CLIENT" raw "$FT_SOCK" "frame:01:$3" r) || ft_fail "$1: the client failed"
    [[ $out == "refused 1"* ]] || ft_fail "$1: '$out', want refused 1 (not permitted)"
    [[ $(ft_status granted) == "$g" ]] || ft_fail "$1: a hash was written"
    ft_pass "$1: refused ($out)"
}
ns_granted() {  # ns_granted WHAT USER TARGET ANSWER CAPABILITY-PREFIX
    local out
    out=$(in_userns "$2" "" "$FT_CLIENT" raw "$FT_SOCK" "frame:01:$3" r "frame:02:$4" r) || ft_fail "$1: the client failed"
    [[ $out == *$'\n'"granted $5" ]] || ft_fail "$1: '$out', want granted $5"
    ft_pass "$1: ${out##*$'\n'}"
}
ns_refused "alice (staff per NSS) from a user namespace with her groups dropped, as bob" alice bob
refused "alice (staff) directly, as bob" p9_as alice bash -c "$(declare -f request); P9AUTH_REQUEST=$P9AUTH_REQUEST FT_SOCK=$FT_SOCK request bob 'bob secret!'"
# The same path for someone not in staff ends in a grant: the refusal above
# is the rule's, not the namespace's.
ns_granted "carol (not in staff) from a user namespace, as bob" carol bob 'bob secret!' 2003@2002:2002:2002,2100,2101,2102
granted "erin (not in staff) directly, as bob" 2005@2002:2002:2002,2100,2101,2102 \
    p9_as erin bash -c "$(declare -f request); P9AUTH_REQUEST=$P9AUTH_REQUEST FT_SOCK=$FT_SOCK request bob 'bob secret!'"
# Holding staff without NSS's word meets the deny too.
refused "erin holding staff (2100) that NSS does not give her, as bob" \
    setpriv --reuid=erin --regid=erin --groups=2100 -- bash -c "$(declare -f request); P9AUTH_REQUEST=$P9AUTH_REQUEST FT_SOCK=$FT_SOCK request bob 'bob secret!'"
# A uid NSS does not know: its groups cannot be proven, the deny holds.
refused "uid 2999 (no passwd entry), as bob" \
    setpriv --reuid=2999 --regid=2999 --clear-groups -- bash -c "$(declare -f request); P9AUTH_REQUEST=$P9AUTH_REQUEST FT_SOCK=$FT_SOCK request bob 'bob secret!'"

# A permit on a client group needs NSS's word: carol is in audio; erin
# holding audio (2102) is not.
granted "carol (audio per NSS), as zed" 2003@2300:2300:2050,2300 \
    p9_as carol bash -c "$(declare -f request); P9AUTH_REQUEST=$P9AUTH_REQUEST FT_SOCK=$FT_SOCK request zed zed-secret"
ns_granted "carol (audio per NSS) with her groups dropped in a user namespace, as zed" carol zed zed-secret 2003@2300:2300:2050,2300
refused "erin holding audio (2102) that NSS does not give her, as zed" \
    setpriv --reuid=erin --regid=erin --groups=2102 -- bash -c "$(declare -f request); P9AUTH_REQUEST=$P9AUTH_REQUEST FT_SOCK=$FT_SOCK request zed zed-secret"

log=$FT_TMP/syslog
p9_poll 5 grep -q 'deny client_uid=2999 client_pid=[0-9]* target=bob reason=policy (line 2)' "$log" ||
    ft_fail "no policy record for uid 2999"
[[ $(grep -c 'deny client_uid=2001 client_pid=[0-9]* target=bob reason=policy (line 2)' "$log") == 2 ]] ||
    ft_fail "alice's two refusals are not both line 2's"
ft_pass "the audit log names the deciding rule"

# One text for one meaning: factotum and p9grant give zed the same TO, sorted.
if [[ -n ${P9GRANT:-} && -x $P9GRANT ]]; then
    cap=$("$P9GRANT" -m "$FT_MNT" carol zed) || ft_fail "p9grant carol zed: exit $?"
    [[ ${cap%@*} == 2003@2300:2300:2050,2300 ]] || ft_fail "p9grant's text: '${cap%@*}'"
    ft_pass "p9grant's text for zed is factotum's: ${cap%@*}"
fi

# A rule whose group NSS cannot look up fails closed: with "group: files
# ldap" and no nslcd, a group that is not in the files cannot be read, and
# the request is refused as an internal error (it used to read as "nobody
# is in it", which for a deny granted).
if [[ -e /lib/x86_64-linux-gnu/libnss_ldap.so.2 || -e /usr/lib/x86_64-linux-gnu/libnss_ldap.so.2 ]]; then
    kill "$FT_PID"
    p9_poll 10 p9_gone "$FT_PID" || ft_fail "factotum did not stop"
    printf 'passwd: files\ngroup: files ldap\nshadow: files\nhosts: files\n' >"$FT_TMP/etc/nsswitch.conf"
    printf 'permit * as bob\ndeny :directorygroup as bob\n' >"$FT_TMP/etc/factotum.conf"
    [[ ! -e /run/nslcd/socket ]] || ft_fail "an nslcd socket in the test's /run"
    ft_start
    g=$(ft_status granted)
    out=$(p9_as erin "$FT_CLIENT" raw "$FT_SOCK" frame:01:bob r)
    [[ $out == "refused 8 the user database could not be read"* ]] || ft_fail "a deny whose group cannot be read: '$out'"
    [[ $(ft_status granted) == "$g" ]] || ft_fail "a deny whose group cannot be read: a hash was written"
    p9_poll 5 grep -q 'deny client_uid=2005 client_pid=[0-9]* target=bob reason=nss (policy line 2: getgrnam_r: ' "$FT_TMP/syslog" ||
        ft_fail "no nss record for the unreadable group"
    ft_pass "a deny on a group NSS cannot read: refused as internal ($(grep -o 'reason=nss (policy line 2: [^)]*)' "$FT_TMP/syslog" | tail -1))"
else
    echo "SKIP: libnss-ldapd not installed: the unreadable-group case"
fi
