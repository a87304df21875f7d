# shellcheck shell=bash
# Shared by factotum's end-to-end tests. Each test re-executes itself in a
# private mount and pid namespace and builds a small world there:
#   - a tmpfs on /run (p9authfs at /run/p9auth, factotum's socket),
#   - fixture users (alice, bob, carol, dave, erin, root) with real
#     password hashes (openssl passwd -6) bind-mounted over /etc/passwd,
#     /etc/shadow, /etc/group and /etc/nsswitch.conf,
#   - a private /etc/pam.d holding the test's PAM services,
#   - a private /dev (tmpfs with the host's null, zero, urandom, tty, fuse,
#     pts, shm bind-mounted in) whose /dev/log is our own syslog sink,
#   - a copy of p9use with its file capabilities.
# Nothing on the host changes; when the test exits, the namespace's init
# (the test) dies and the kernel kills every daemon and drops every mount.
#
# Binaries come from the environment (ctest passes them): FACTOTUM,
# P9AUTH_REQUEST, FT_CLIENT, FT_SYSLOG, P9AUTHFS, P9USE, P9GRANT.
: "${here:?lib.sh is sourced by a script that sets here to its own folder}"

FT_DAEMONS=()
FT_TMP=
FT_PID=
FT_SOCK=/run/p9auth-factotum.sock
FT_MNT=/run/p9auth

ft_fail() {
    echo "FAIL: $*" >&2
    [[ -n $FT_TMP && -f $FT_TMP/factotum.err ]] && sed 's/^/factotum stderr: /' "$FT_TMP/factotum.err" >&2
    [[ -n $FT_TMP && -f $FT_TMP/syslog ]] && tail -20 "$FT_TMP/syslog" | sed "s/^/factotum log: /" >&2
    exit 1
}
ft_pass() { echo "PASS: $*"; }

# p9_poll (poll with a deadline), p9_gone (a pid has exited) and p9_as (run
# as a user with that user's groups) come from the filesystem's integration
# tests, so both test suites mean the same by them.
# shellcheck source=../../tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../tests/integration/lib.sh"

# A field of the mount's status file ("granted", "expired", ...).
ft_status() { awk -v k="$1" '$1 == k { print $2 }' "$FT_MNT/status"; }


ft_hash() { openssl passwd -6 -salt "$2" "$1"; }

ft_fixtures() {
    local d=$FT_TMP/etc
    mkdir -p "$d/pam.d"
    cat >"$d/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
alice:x:2001:2001:Alice (client):/nonexistent:/bin/sh
bob:x:2002:2002:Bob (target):/nonexistent:/bin/sh
carol:x:2003:2003:Carol (another client):/nonexistent:/bin/sh
dave:x:2004:2004:Dave (expired account):/nonexistent:/bin/sh
erin:x:2005:2005:Erin (not in the policy):/nonexistent:/bin/sh
factotum:x:3010:3010:factotum:/nonexistent:/usr/sbin/nologin
p9front:x:3011:3011:factotum front:/nonexistent:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
P
    cat >"$d/group" <<'G'
root:x:0:
alice:x:2001:
bob:x:2002:
carol:x:2003:
dave:x:2004:
erin:x:2005:
staff:x:2100:alice,bob
dev:x:2101:bob
audio:x:2102:bob,carol
factotum:x:3010:
p9front:x:3011:
nogroup:x:65534:
G
    # Days since the epoch, for the shadow fields.
    local today=$(($(date +%s) / 86400))
    {
        echo "root:$(ft_hash root-secret rootsalt1):$today:0:99999:7:::"
        echo "alice:$(ft_hash alice-secret alicesalt):$today:0:99999:7:::"
        echo "bob:$(ft_hash 'bob secret!' bobsalt01):$today:0:99999:7:::"
        echo "carol:$(ft_hash carol-secret carolsalt):$today:0:99999:7:::"
        # dave's account expired two days ago (the 8th field).
        echo "dave:$(ft_hash dave-secret davesalt1):$today:0:99999:7::$((today - 2)):"
        echo "erin:$(ft_hash erin-secret erinsalt1):$today:0:99999:7:::"
        echo "factotum:!:$today:0:99999:7:::"
        echo "p9front:!:$today:0:99999:7:::"
        echo "nobody:*:$today:0:99999:7:::"
    } >"$d/shadow"
    chmod 0640 "$d/shadow"
    printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files\n' >"$d/nsswitch.conf"
    # The real pam_unix stack (nodelay: the tests count failures, not seconds).
    printf 'auth required pam_unix.so nodelay\naccount required pam_unix.so\n' >"$d/pam.d/p9auth-test"
    # pam_permit, for the dedicated-user deployment and the bench.
    printf 'auth required pam_permit.so\naccount required pam_permit.so\n' >"$d/pam.d/p9auth-permit"
    # A chatty stack: an info message before the password.
    printf 'auth optional pam_echo.so factotum test: hello %%u\nauth required pam_unix.so nodelay\naccount required pam_unix.so\n' \
        >"$d/pam.d/p9auth-chatty"
    cat >"$d/factotum.conf" <<'C'
# Test policy: staff may become staff; carol may become bob; nobody may
# become erin; dave and unknown names are allowed so PAM decides.
permit :staff as *
permit carol as bob
permit * as dave
permit * as nosuchuser
deny * as erin
C
    chmod 0644 "$d/factotum.conf"
}

ft_private_dev() {
    local nd=$FT_TMP/dev n
    mkdir -p "$nd"
    mount -t tmpfs -o mode=0755 factotum-test-dev "$nd"
    for n in null zero full random urandom tty fuse; do
        [[ -e /dev/$n ]] || continue
        touch "$nd/$n"
        mount --bind "/dev/$n" "$nd/$n"
    done
    mkdir -p "$nd/pts" "$nd/shm"
    mount --bind /dev/pts "$nd/pts" 2>/dev/null || true
    mount -t tmpfs -o mode=1777 shm "$nd/shm"
    ln -s /proc/self/fd "$nd/fd"
    ln -s /proc/self/fd/0 "$nd/stdin"
    ln -s /proc/self/fd/1 "$nd/stdout"
    ln -s /proc/self/fd/2 "$nd/stderr"
    mount --move "$nd" /dev
}

ft_cleanup() {
    local rc=$? pid
    trap - EXIT
    # A sanitizer report from factotum fails the test even if every check passed.
    if [[ $rc == 0 && -n $FT_TMP ]] && grep -qE 'Sanitizer|runtime error' "$FT_TMP/factotum.err" 2>/dev/null; then
        echo "FAIL: sanitizer report from factotum:" >&2
        head -40 "$FT_TMP/factotum.err" >&2
        rc=1
    fi
    for pid in "${FT_DAEMONS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    while read -r m; do umount -l "$m" 2>/dev/null || true; done < <(awk '$5 ~ /^\/run\// { print $5 }' /proc/self/mountinfo | tac)
    if [[ -n $FT_TMP ]]; then rm -rf "$FT_TMP" || true; fi
    exit "$rc"
}

ft_enter() {
    if [[ ${FT_IN_NS:-} != 1 ]]; then
        [[ $(id -u) == 0 ]] || { echo "SKIP: $0 needs root" >&2; exit 77; }
        for v in FACTOTUM P9AUTH_REQUEST FT_CLIENT FT_SYSLOG P9AUTHFS P9USE; do
            [[ -n ${!v:-} && -x ${!v} ]] || { echo "SKIP: \$$v not set or not executable" >&2; exit 77; }
        done
        export FT_IN_NS=1
        exec unshare --mount --pid --fork --propagation private --mount-proc -- "$0" "$@"
    fi
    trap ft_cleanup EXIT
    FT_TMP=$(mktemp -d /tmp/factotum-test.XXXXXX)
    chmod 0755 "$FT_TMP"
    ft_fixtures
    mount -t tmpfs -o mode=0755 factotum-test-run /run
    local f
    for f in passwd group shadow nsswitch.conf; do mount --bind -o ro "$FT_TMP/etc/$f" "/etc/$f"; done
    mount --bind -o ro "$FT_TMP/etc/pam.d" /etc/pam.d
    ft_private_dev
    "$FT_SYSLOG" /dev/log "$FT_TMP/syslog" &
    FT_DAEMONS+=($!)
    disown
    p9_poll 10 test -S /dev/log || ft_fail "syslog sink did not bind /dev/log"
    export P9USE_CAPS=$FT_TMP/p9use
    install -m 0755 "$P9USE" "$P9USE_CAPS"
    setcap cap_setuid,cap_setgid,cap_setpcap=p "$P9USE_CAPS"
}

ft_mounted() { awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; }

# ft_mount [OPTIONS]: p9authfs at /run/p9auth.
ft_mount() {
    mkdir -p "$FT_MNT"
    if [[ -n ${1:-} ]]; then "$P9AUTHFS" -o "$1" "$FT_MNT"; else "$P9AUTHFS" "$FT_MNT"; fi ||
        ft_fail "p9authfs exited $?"
    p9_poll 15 ft_mounted "$FT_MNT" || ft_fail "p9authfs did not mount $FT_MNT"
}


# ft_start [FACTOTUM OPTIONS]: factotum in the background, ready when its
# socket accepts. Sets FT_PID.
ft_start() {
    rm -f "$FT_SOCK"
    TSAN_OPTIONS="suppressions=$here/tsan.supp ${TSAN_OPTIONS:-}" "$FACTOTUM" --mount "$FT_MNT" --socket "$FT_SOCK" --policy "$FT_TMP/etc/factotum.conf" \
        --pam-service p9auth-test "$@" 2>>"$FT_TMP/factotum.err" &
    FT_PID=$!
    FT_DAEMONS+=("$FT_PID")
    disown
    p9_poll 15 ft_ready || ft_fail "factotum did not come up"
    # The front (it accepts the clients): its pid from the start record.
    FT_FRONT=$(sed -n "s/.*factotum\[$FT_PID\]: started: .* front_pid=\([0-9]*\) .*/\1/p" "$FT_TMP/syslog" | tail -1)
    # (A factotum from before the split, as bench/factotum may run, is one process.)
    [[ -n $FT_FRONT ]] || FT_FRONT=$FT_PID
}
# ft_who PID: a grep pattern (BRE) for the records of the factotum started
# as PID: its monitor's and its front's (front_pid= in the start record).
ft_who() {
    local f
    f=$(sed -n "s/.*factotum\[$1\]: started: .* front_pid=\([0-9]*\) .*/\1/p" "$FT_TMP/syslog" | tail -1)
    printf 'factotum\\[\\(%s\\|%s\\)\\]' "$1" "${f:-$1}"
}
ft_ready() {
    p9_gone "$FT_PID" && ft_fail "factotum exited before it was ready"
    [[ -S $FT_SOCK ]] && grep -q "factotum\[$FT_PID\]: started" "$FT_TMP/syslog" 2>/dev/null
}

# ft_request USER TARGET ANSWER: p9auth-request as USER, answers on stdin.
# Prints the capability; returns p9auth-request's status.
ft_request() {
    local u=$1 t=$2 a=$3
    shift 3
    # A here-string, not a pipe: a request that reads no answer (no prompt)
    # must not fail the writer with SIGPIPE (141 under pipefail).
    p9_as "$u" "$P9AUTH_REQUEST" --socket "$FT_SOCK" --stdin "$@" "$t" <<<"$a" 2>>"$FT_TMP/request.err"
}

# One line describing a process's credentials, from /proc/PID/status text.
ft_creds() {
    awk '/^Uid:/ { u = $2 " " $3 " " $4 " " $5 }
         /^Gid:/ { g = $2 " " $3 " " $4 " " $5 }
         /^Groups:/ { $1 = ""; gr = $0; gsub(/^ +| +$/, "", gr) }
         END { printf "uid=%s gid=%s groups=%s\n", u, g, gr }'
}

ft_use() {
    local u=$1 cap=$2
    shift 2
    printf '%s\n' "$cap" | p9_as "$u" "$P9USE_CAPS" "$@"
}
