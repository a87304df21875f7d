#!/usr/bin/env bash
# A session started through p9use is an ordinary login session
# (decisions.md 29): no no_new_privs, so a set-uid-root program runs with
# euid 0 and root's capabilities in bob's session, and p9use (file
# capabilities) works again inside it. A uid-0 target in FUSE mode instead
# carries SECBIT_NOROOT, locked: nothing it execs, set-uid-root or not,
# gets a capability.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
p9_enter "$@"

p9_start /run/p9auth

# Set-uid-root copies of id and cat in the test's own directory (removed
# with it); the 0755 directory lets bob run them.
suid_id=$P9_TMP/suid-id suid_cat=$P9_TMP/suid-cat
install -o root -g root -m 4755 "$(command -v id)" "$suid_id"
install -o root -g root -m 4755 "$(command -v cat)" "$suid_cat"
[[ $(findmnt -n -o OPTIONS --target "$P9_TMP") != *nosuid* ]] || { echo "SKIP: $P9_TMP is on a nosuid mount" >&2; exit 77; }
full=$(awk '/^CapBnd:/ { print $2 }' /proc/self/status)

cap=$("$P9GRANT" alice bob) || p9_fail "p9grant alice bob exited $?"
back=$("$P9GRANT" bob alice) || p9_fail "p9grant bob alice exited $?"
out=$(p9_use alice "$cap" /bin/sh -c '
    echo "uid=$(id -u) euid-suid=$("$1" -u) ruid-suid=$("$1" -ru)"
    grep "^NoNewPrivs:" /proc/self/status
    "$2" /proc/self/status | grep "^CapEff:" | sed "s/CapEff:/suid-CapEff:/"
    printf "%s\n" "$3" | "$4" /bin/sh -c "echo again=\$(id -u)"
' sh "$suid_id" "$suid_cat" "$back" "$P9USE_CAPS" 2>&1) || p9_fail "bob's session failed: $out"
grep -qx 'uid=2002 euid-suid=0 ruid-suid=2002' <<<"$out" || p9_fail "set-uid-root id in bob's session: $out"
grep -qP '^NoNewPrivs:\t0$' <<<"$out" || p9_fail "bob's session carries no_new_privs: $out"
grep -qP "^suid-CapEff:\t$full\$" <<<"$out" || p9_fail "set-uid-root cat in bob's session lacks root's capabilities ($full): $out"
grep -qx 'again=2001' <<<"$out" || p9_fail "p9use inside bob's session (bob -> alice): $out"
p9_pass "bob's session: no no_new_privs; set-uid-root id has euid 0, cat has CapEff $full; p9use works inside it"

root=$("$P9GRANT" alice root) || p9_fail "p9grant alice root exited $?"
out=$(p9_use alice "$root" /bin/sh -c '
    echo "uid=$(id -u) euid-suid=$("$1" -u)"
    grep -E "^(NoNewPrivs|CapEff|CapPrm):" /proc/self/status
    "$2" /proc/self/status | grep "^CapEff:" | sed "s/CapEff:/suid-CapEff:/"
    setpriv --dump | grep "^Securebits:"
' sh "$suid_id" "$suid_cat" 2>&1) || p9_fail "the uid-0 session failed: $out"
grep -qx 'uid=0 euid-suid=0' <<<"$out" || p9_fail "uid-0 session ids: $out"
grep -qP '^NoNewPrivs:\t0$' <<<"$out" || p9_fail "the uid-0 session carries no_new_privs: $out"
grep -qP '^CapEff:\t0{16}$' <<<"$out" && grep -qP '^CapPrm:\t0{16}$' <<<"$out" ||
    p9_fail "a program exec'd by the uid-0 session has capabilities: $out"
grep -qP '^suid-CapEff:\t0{16}$' <<<"$out" || p9_fail "a set-uid-root program in the uid-0 session has capabilities: $out"
grep -qx 'Securebits: noroot,noroot_locked' <<<"$out" || p9_fail "the uid-0 session's securebits: $out"
p9_pass "uid-0 session: securebits noroot,noroot_locked; exec'd and set-uid-root programs have no capability"
