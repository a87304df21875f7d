#!/usr/bin/env bash
# The login programs' own interface, one style for all (getopt_long):
# --help prints the usage on standard output and exits 0; --version prints
# "NAME VERSION"; a bad option or a missing value prints "NAME: what was
# wrong" and the usage on standard error, nothing on standard output, and
# exits 2. Needs no privilege and changes nothing.
set -euo pipefail
version=${P9AUTH_VERSION:?}
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run() {  # run CMD...: sets rc, out (stdout), err (stderr)
    rc=0
    "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || rc=$?
    out=$(cat "$tmp/out") err=$(cat "$tmp/err")
}

for prog in "${P9USE:?}" "${P9SU:?}" "${P9LOGIND:?}"; do
    name=${prog##*/}
    run "$prog" --help
    [[ $rc == 0 && $out == "usage: $name "* && -z $err ]] || fail "$name --help: exit $rc, out '$out', err '$err'"
    run "$prog" --version
    [[ $rc == 0 && $out == "$name $version" && -z $err ]] || fail "$name --version: exit $rc, '$out' '$err'"
    run "$prog" --no-such-option
    [[ $rc == 2 && -z $out ]] || fail "$name --no-such-option: exit $rc, out '$out'"
    [[ $(head -1 <<<"$err") == "$name: unknown option --no-such-option" ]] || fail "$name --no-such-option: '$err'"
    grep -q "^usage: $name " <<<"$err" || fail "$name --no-such-option: no usage on stderr: '$err'"
    echo "PASS: $name --help, --version, an unknown option (exit 2, '$name: unknown option ...' and the usage)"
done

# A missing value names the option.
for c in "$P9USE --fd" "$P9USE --chdir" "$P9SU -c" "$P9SU --socket" "$P9LOGIND --listen" "$P9LOGIND --auth-timeout"; do
    read -r prog opt <<<"$c"
    name=${prog##*/}
    run "$prog" "$opt"
    [[ $rc == 2 && $(head -1 <<<"$err") == "$name: $opt needs a value" ]] || fail "$name $opt: exit $rc, '$err'"
done
run "$P9USE" -x id
[[ $rc == 2 && $(head -1 <<<"$err") == "p9use: unknown option -x" ]] || fail "p9use -x: exit $rc, '$err'"
run "$P9USE" --fd 3 --fd 4 id
[[ $rc == 2 && $(head -1 <<<"$err") == "p9use: --fd given twice" ]] || fail "p9use --fd twice: exit $rc, '$err'"
run "$P9USE"
[[ $rc == 2 && $(head -1 <<<"$err") == "p9use: no PROGRAM" ]] || fail "p9use without a program: exit $rc, '$err'"
run "$P9SU" -x
[[ $rc == 2 && $(head -1 <<<"$err") == "p9su: unknown option -x" ]] || fail "p9su -x: exit $rc, '$err'"
run "$P9LOGIND" --idle-timeout 0
[[ $rc == 2 && $(head -1 <<<"$err") == "p9logind: --idle-timeout: not a number from 1 to 86400: 0" ]] ||
    fail "p9logind --idle-timeout 0: exit $rc, '$err'"
run "$P9LOGIND" stray
[[ $rc == 2 && $(head -1 <<<"$err") == "p9logind: unexpected argument stray" ]] || fail "p9logind stray: exit $rc, '$err'"
echo "PASS: missing values, repeated and unknown short options, stray arguments: exit 2 with the option named"
# One user-name check for p9su, p9auth-request and p9logind (terminal.hpp):
# a name factotum would refuse is a usage error before anything is asked.
run "$P9SU" 'bo:b'
[[ $rc == 2 && $(head -1 <<<"$err") == "p9su: USER: 'bo:b' is not a user name (printable ASCII without spaces, ':' or '/', not starting with '-')" ]] ||
    fail "p9su bo:b: exit $rc, '$err'"
run "$P9SU" -- "-bob"
[[ $rc == 2 && $(head -1 <<<"$err") == "p9su: USER: '-bob' is not a user name (printable ASCII without spaces, ':' or '/', not starting with '-')" ]] ||
    fail "p9su -- -bob: exit $rc, '$err'"
echo "PASS: a user name factotum would refuse: exit 2, named"
