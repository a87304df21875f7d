# shellcheck shell=bash
# Shared by the integration tests. Each test runs as root in its own mount
# and pid namespace: a tmpfs on /run (so /run/p9auth is private), the
# fixture users bind-mounted over /etc/passwd, group, shadow and
# nsswitch.conf, and a copy of p9use with its file capabilities in a temp
# dir. Nothing on the host changes; every daemon dies with the namespace.
#
#   . "$here/lib.sh"; p9_enter "$@"
#
# Binaries come from the environment (ctest passes them): P9AUTHFS, P9USE,
# P9GRANT, P9CONF (the conformance program), P9FAKEFS.

P9_FIXTURES=$(cd "$(dirname "${BASH_SOURCE[0]}")/../fixtures" && pwd)
P9_DAEMONS=()
P9_TMP=
P9_PID=
P9USE_CAPS=${P9USE_CAPS:-}

p9_fail() {
    echo "FAIL: $*" >&2
    exit 1
}

p9_pass() { echo "PASS: $*"; }

# p9_poll SECONDS CMD...: runs CMD until it succeeds; 1 when the deadline passes.
p9_poll() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.01
    done
}

# The fstype of the topmost mount at $1 ("" when nothing is mounted there).
p9_fstype() {
    awk -v m="$1" '$5 == m { for (i = 7; i <= NF; i++) if ($i == "-") { t = $(i + 1); break } } END { print t }' \
        /proc/self/mountinfo
}

# The super options of the topmost mount at $1.
p9_superopts() {
    awk -v m="$1" '$5 == m { for (i = 7; i <= NF; i++) if ($i == "-") { o = $(i + 3); break } } END { print o }' \
        /proc/self/mountinfo
}

p9_gone() { [[ ! -e /proc/$1 ]] || [[ $(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) == Z ]]; }

p9_up() {
    p9_gone "$2" && p9_fail "p9authfs exited before it mounted $1"
    [[ $(p9_fstype "$1") == fuse.p9authfs ]]
}

# p9_start MOUNTPOINT [OPTIONS]: p9authfs in the foreground of a background
# job; returns once the mount is in place. Sets P9_PID.
p9_start() {
    local mnt=$1 opts=${2:-}
    mkdir -p "$mnt"
    if [[ -n $opts ]]; then
        "$P9AUTHFS" -f -o "$opts" "$mnt" &
    else
        "$P9AUTHFS" -f "$mnt" &
    fi
    P9_PID=$!
    P9_DAEMONS+=("$P9_PID")
    p9_poll 15 p9_up "$mnt" "$P9_PID" || p9_fail "p9authfs did not mount $mnt within 15 s"
}

# p9_stop MOUNTPOINT PID: unmounts; the daemon must exit 0 on its own.
p9_stop() {
    local mnt=$1 pid=$2 rc=0
    umount "$mnt" || p9_fail "umount $mnt"
    p9_poll 15 p9_gone "$pid" || p9_fail "p9authfs ($pid) still running 15 s after the unmount of $mnt"
    wait "$pid" || rc=$?
    [[ $rc == 0 ]] || p9_fail "p9authfs exited $rc after the unmount of $mnt"
}

# One line describing a process's credentials, from /proc/PID/status text.
p9_creds() {
    awk '/^Uid:/ { u = $2 " " $3 " " $4 " " $5 }
         /^Gid:/ { g = $2 " " $3 " " $4 " " $5 }
         /^Groups:/ { $1 = ""; gr = $0; gsub(/^ +| +$/, "", gr) }
         /^CapEff:/ { c = $2 } /^CapPrm:/ { p = $2 } /^NoNewPrivs:/ { n = $2 }
         END { printf "uid=%s gid=%s groups=%s capprm=%s capeff=%s nnp=%s\n", u, g, gr, p, c, n }'
}

# What p9_creds must print after p9use made a process UID:GID with GROUPS.
p9_want() {
    printf 'uid=%s %s %s %s gid=%s %s %s %s groups=%s capprm=0000000000000000 capeff=0000000000000000 nnp=0\n' \
        "$1" "$1" "$1" "$1" "$2" "$2" "$2" "$2" "$3"
}

# p9_as USER CMD...: runs CMD as USER (name or number) with USER's groups.
p9_as() {
    local u=$1
    shift
    if [[ $u =~ ^[0-9]+$ ]]; then
        setpriv --reuid="$u" --regid="$u" --clear-groups -- "$@"
    else
        setpriv --reuid="$u" --regid="$u" --init-groups -- "$@"
    fi
}

# p9_use USER CAPABILITY PROGRAM...: p9use as USER, the capability on stdin.
p9_use() {
    local u=$1 cap=$2
    shift 2
    printf '%s\n' "$cap" | p9_as "$u" "$P9USE_CAPS" "$@"
}

# /dev/fuse is mode 0600 on some hosts: give this namespace a 0666 node of
# its own (the host's stays as it is), as a desktop system has.
p9_open_dev_fuse() {
    mkdir -p /run/dev
    mount -t tmpfs -o mode=0755 p9auth-test-dev /run/dev
    mknod -m 0666 /run/dev/fuse c 10 229
    mount --bind /run/dev/fuse /dev/fuse
}

p9_cleanup() {
    local rc=$? m pid
    trap - EXIT
    while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done < <(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) ~ /^fuse/) print $5; break } }' \
        /proc/self/mountinfo | tac)
    for pid in "${P9_DAEMONS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    [[ -n $P9_TMP ]] && rm -rf "$P9_TMP"
    exit "$rc"
}

# Re-executes the calling script in a private mount and pid namespace, then
# sets the namespace up.
p9_enter() {
    if [[ ${P9_IN_NS:-} != 1 ]]; then
        [[ $(id -u) == 0 ]] || { echo "SKIP: $0 needs root" >&2; exit 77; }
        export P9_IN_NS=1
        exec unshare --mount --pid --fork --propagation private --mount-proc -- "$0" "$@"
    fi
    trap p9_cleanup EXIT
    mount -t tmpfs -o mode=0755 p9auth-test-run /run
    local f
    for f in passwd group shadow nsswitch.conf; do
        mount --bind -o ro "$P9_FIXTURES/$f" "/etc/$f"
    done
    P9_TMP=$(mktemp -d /tmp/p9auth-it.XXXXXX)
    chmod 0755 "$P9_TMP"
    if [[ -n ${P9USE:-} ]]; then
        export P9USE_CAPS=$P9_TMP/p9use
        install -m 0755 "$P9USE" "$P9USE_CAPS"
        setcap cap_setuid,cap_setgid,cap_setpcap=p "$P9USE_CAPS"
    fi
}
