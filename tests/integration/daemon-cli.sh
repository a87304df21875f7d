#!/usr/bin/env bash
# The commands' own interface: --help, --version, usage errors and bad
# mount options (exit 2, a message naming the option, nothing mounted), and
# p9authfs without -f returning once its mount is in place.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
p9_enter "$@"

version=${P9AUTH_VERSION:?}

# expect_exit WANT WHAT CMD...: runs CMD, its output in $out.
expect_exit() {
    local want=$1 what=$2 rc=0
    shift 2
    out=$("$@" 2>&1) || rc=$?
    [[ $rc == "$want" ]] || p9_fail "$what: exit $rc, want $want: $out"
}

for prog in "$P9AUTHFS" "$P9USE" "$P9GRANT"; do
    name=${prog##*/}
    expect_exit 0 "$name --help" "$prog" --help
    grep -qi usage <<<"$out" || p9_fail "$name --help does not show the usage: $out"
    expect_exit 0 "$name --version" "$prog" --version
    grep -qF "$version" <<<"$out" || p9_fail "$name --version does not say $version: $out"
    p9_pass "$name --help, --version"
done

# One style (getopt_long): --help on stdout alone, --version "NAME VERSION",
# a bad option "NAME: message" and the usage on stderr alone, exit 2.
progs=("$P9AUTHFS" "$P9GRANT")
[[ -n ${P9REQUEST:-} ]] && progs+=("$P9REQUEST")
for prog in "${progs[@]}"; do
    name=${prog##*/}
    rc=0
    stdout=$("$prog" --help 2>"$P9_TMP/err") || rc=$?
    [[ $rc == 0 && $stdout == usage:* && ! -s $P9_TMP/err ]] ||
        p9_fail "$name --help: exit $rc, stdout '${stdout:0:60}', stderr '$(cat "$P9_TMP/err")'"
    [[ $("$prog" -h) == "$stdout" ]] || p9_fail "$name -h differs from --help"
    for v in --version -V; do
        first=$("$prog" "$v" | head -n 1)
        [[ $first == "$name $version" || $first == "$name $version "* ]] || p9_fail "$name $v: '$first', want '$name $version'"
    done
    for bad in --bogus -Z; do
        rc=0
        stdout=$("$prog" "$bad" x y 2>"$P9_TMP/err") || rc=$?
        err=$(cat "$P9_TMP/err")
        [[ $rc == 2 && -z $stdout && $err == "$name: "*"$bad"* && $err == *$'\n'usage:* ]] ||
            p9_fail "$name $bad: exit $rc, stdout '$stdout', stderr '$err'"
    done
    p9_pass "$name: --help/-h on stdout, --version/-V '$first', a bad option exits 2 with the usage on stderr"
done
# Operands after options, as getopt_long permutes them (mount.fuse3 puts -o last).
expect_exit 2 "p9authfs with three operands" "$P9AUTHFS" a /run/p9auth /run -o grant_once
grep -qF "3 operands" <<<"$out" || p9_fail "p9authfs with three operands: $out"
if [[ -n ${P9REQUEST:-} ]]; then
    expect_exit 2 "p9auth-request with two targets" "$P9REQUEST" bob carol
    grep -qF "more than one TARGET" <<<"$out" || p9_fail "p9auth-request bob carol: $out"
    expect_exit 2 "p9auth-request --timeout 0" "$P9REQUEST" --timeout 0 bob
    grep -qF "1..86400" <<<"$out" || p9_fail "p9auth-request --timeout 0: $out"
fi
p9_pass "operands after options; too many operands, a bad value: exit 2"

mkdir -p /run/p9auth
expect_exit 2 "p9authfs without a mount point" "$P9AUTHFS"
expect_exit 2 "p9authfs with two mount points" "$P9AUTHFS" /run/p9auth /run
expect_exit 2 "p9authfs with an unknown flag" "$P9AUTHFS" --bogus /run/p9auth
for opt in timeout=0 timeout=86401 timeout=abc maxcaps=0 maxcaps=16777217 grant_uid=-1 grant_once=1 bogus \
    timeout=5,nosuchoption; do
    name=${opt##*,}
    name=${name%%=*}
    expect_exit 2 "p9authfs -o $opt" "$P9AUTHFS" -o "$opt" /run/p9auth
    grep -qF "$name" <<<"$out" || p9_fail "p9authfs -o $opt: the message does not name '$name': $out"
    [[ -z $(p9_fstype /run/p9auth) ]] || p9_fail "p9authfs -o $opt left a mount"
done
p9_pass "bad options exit 2 naming the option (last: $out)"
rc=0
"$P9AUTHFS" /run/nonexistent/dir >/dev/null 2>&1 || rc=$?
[[ $rc != 0 ]] || p9_fail "p9authfs on a missing directory succeeded"

expect_exit 2 "p9use without a program" "$P9USE"
expect_exit 2 "p9use --fd without a number" "$P9USE" --fd
expect_exit 2 "p9grant without arguments" "$P9GRANT"
expect_exit 2 "p9grant with one argument" "$P9GRANT" alice
p9_pass "usage errors exit 2"

# Without -f: returns once the mount is in place, then serves as a daemon.
"$P9AUTHFS" -o timeout=7 /run/p9auth || p9_fail "p9authfs (daemon mode) exited $?"
[[ $(p9_fstype /run/p9auth) == fuse.p9authfs ]] || p9_fail "p9authfs returned before its mount was in place"
grep -qx 'timeout 7' /run/p9auth/status || p9_fail "status: $(tr '\n' ' ' </run/p9auth/status)"
daemon=
for d in /proc/[0-9]*; do
    if [[ $(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) == "$P9AUTHFS -o timeout=7 /run/p9auth " ]]; then
        daemon=${d#/proc/}
    fi
done
[[ -n $daemon ]] || p9_fail "no p9authfs daemon process found"
P9_DAEMONS+=("$daemon")
# p9use exec failures: 127 not found, 126 not executable (the capability is genuine).
cap=$("$P9GRANT" alice bob)
rc=0
p9_use alice "$cap" /nonexistent/program 2>/dev/null || rc=$?
[[ $rc == 127 ]] || p9_fail "p9use of a missing program: exit $rc, want 127"
cap=$("$P9GRANT" alice bob)
rc=0
p9_use alice "$cap" /etc/passwd 2>/dev/null || rc=$?
[[ $rc == 126 ]] || p9_fail "p9use of a non-executable file: exit $rc, want 126"
p9_pass "p9use exec failures 127 and 126"
umount /run/p9auth
p9_poll 15 p9_gone "$daemon" || p9_fail "the daemon did not exit after the unmount"
p9_pass "daemon mode: mounted on return, exits on unmount"
