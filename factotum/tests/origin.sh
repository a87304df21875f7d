#!/usr/bin/env bash
# Where a login comes from reaches factotum's PAM stack: the client's
# origin frame (PAM_TTY, PAM_RHOST) is set before pam_authenticate, and
# pam_access, keyed on the origin, refuses one host and one tty and allows
# others. Each grant and denial is logged with rhost= and tty=. A bad
# origin is refused (protocol) before PAM; so is a second one. Under the
# seccomp filter: an rhost must not make libpam/libaudit resolve it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
ft_enter "$@"

sec=$FT_TMP/security
mkdir -p "$sec"
cat >"$sec/access.conf" <<'A'
# factotum origin test: pam_access sees PAM_RHOST, else PAM_TTY (without /dev/)
-:ALL:192.0.2.66
-:ALL:pts/66
+:ALL:ALL
A
mount --bind -o ro "$sec" /etc/security
printf 'auth required pam_permit.so\naccount required pam_access.so\n' >"$FT_TMP/etc/pam.d/p9auth-origin"
ft_mount
rm -f "$FT_SOCK"
"$FACTOTUM" --mount "$FT_MNT" --socket "$FT_SOCK" --policy "$FT_TMP/etc/factotum.conf" \
    --pam-service p9auth-origin 2>>"$FT_TMP/factotum.err" &
FT_PID=$!
FT_DAEMONS+=("$FT_PID")
disown
p9_poll 15 ft_ready || ft_fail "factotum did not come up"

granted() {  # granted WHAT OPTIONS...: alice asks for bob with OPTIONS
    local what=$1 cap
    shift
    cap=$(ft_request alice bob '' "$@") || ft_fail "$what: refused (exit $?): $(tail -1 "$FT_TMP/request.err")"
    [[ $cap == 2001@2002:* ]] || ft_fail "$what: '${cap%@*}'"
}
refused() {  # refused WHAT OPTIONS...
    local what=$1 rc=0
    shift
    ft_request alice bob '' "$@" >/dev/null || rc=$?
    [[ $rc == 1 ]] || ft_fail "$what: exit $rc, want 1 (refused)"
}
logged() { grep -qE "$1" "$FT_TMP/syslog" || ft_fail "not in the log: $1"; }

granted "from 192.0.2.1" --rhost 192.0.2.1
logged 'grant client_uid=2001 client_pid=[0-9]+ target=bob to=[0-9:,]+ rhost=192\.0\.2\.1 tty=-$'
refused "from 192.0.2.66" --rhost 192.0.2.66
logged 'deny client_uid=2001 client_pid=[0-9]+ target=bob reason=account \(.*\) rhost=192\.0\.2\.66 tty=-$'
ft_pass "pam_access sees PAM_RHOST: 192.0.2.1 granted, 192.0.2.66 refused; both logged with rhost="

granted "on pts/1" --tty /dev/pts/1
logged 'grant client_uid=2001 .* rhost=- tty=/dev/pts/1$'
refused "on pts/66" --tty /dev/pts/66
logged 'deny client_uid=2001 .*reason=account .* rhost=- tty=/dev/pts/66$'
# Both: pam_access decides by the host, as for sshd.
granted "from 192.0.2.1 on pts/66" --tty /dev/pts/66 --rhost 192.0.2.1
refused "from 192.0.2.66 on pts/1" --tty /dev/pts/1 --rhost 192.0.2.66
granted "no origin"
logged 'grant client_uid=2001 .* rhost=- tty=-$'
ft_pass "pam_access sees PAM_TTY: pts/1 granted, pts/66 refused; with both, the host decides; no origin: rhost=- tty=-"

# The client library refuses a bad origin before it connects (exit 2, usage).
rc=0
ft_request alice bob '' --rhost 'evil host' >/dev/null || rc=$?
[[ $rc == 2 ]] || ft_fail "p9auth-request --rhost 'evil host': exit $rc, want 2"
grep -q "rhost holds a character" "$FT_TMP/request.err" || ft_fail "no message for a bad rhost: $(tail -1 "$FT_TMP/request.err")"
rc=0
ft_request alice bob '' --tty "$(printf 't%.0s' {1..33})" >/dev/null || rc=$?
[[ $rc == 2 ]] || ft_fail "p9auth-request with a 33-byte tty: exit $rc, want 2"

# factotum itself refuses what a client library would not send.
raw() { p9_as alice "$FT_CLIENT" raw "$FT_SOCK" "$@"; }
out=$(raw "frame:03:tty=a b" r)
[[ $out == "refused 6 bad origin: tty holds a character other than letters, digits and /._-" ]] || ft_fail "bad tty: $out"
out=$(raw "frame:03:user=root" r)
[[ $out == "refused 6 bad origin: "* ]] || ft_fail "unknown origin field: $out"
out=$(raw "frame:03:tty=pts/1" "frame:03:tty=pts/2" r)
[[ $out == "refused 6 'origin' not allowed now" ]] || ft_fail "a second origin: $out"
out=$(raw "frame:01:bob" "frame:03:tty=pts/1" r)
# factotum may refuse and hang up before the client's second frame is
# written (EPIPE, ECONNRESET): then its log says what it refused.
case $out in
    "refused 6 'origin' not allowed now" | prompt* | granted*) ;;
    "send-error Broken pipe"* | "send-error Connection reset by peer"*)
        p9_poll 10 bash -c '(( $(grep -c "reason=protocol ('"'"'origin'"'"' not allowed now)" "$1") >= 2 ))' _ "$FT_TMP/syslog" ||
            ft_fail "origin after the request: $out, and no second refusal in the log" ;;
    *) ft_fail "origin after the request: $out" ;;
esac
out=$(raw "frame:03:rhost=192.0.2.1" "frame:01:bob" r)
[[ $out == "granted 2001@2002:"* ]] || ft_fail "origin then request by hand: $out"
logged 'deny client_uid=2001 client_pid=[0-9]+ target=- reason=protocol \(bad origin: tty holds'
p9_gone "$FT_PID" && ft_fail "factotum died (seccomp?): $(tail -2 "$FT_TMP/factotum.err")"
ft_pass "a malformed, unknown or second origin is refused (protocol) and logged; factotum alive under its filter"
