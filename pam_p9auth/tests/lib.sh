# shellcheck shell=bash
# The login tests' additions to factotum/tests/lib.sh (which they source
# for the namespaces, fixture users, private /etc/pam.d and /dev, p9authfs
# and factotum): a PAM service using pam_p9auth, and the module readable by
# the fixture users.
# shellcheck source=../../factotum/tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../factotum/tests/lib.sh"

# login_enter "$@": ft_enter, then p9authfs, factotum (pam_unix stack
# p9auth-test) and the PAM service p9login-test.
login_enter() {
    for v in PAM_P9AUTH PAM_TAKE; do
        [[ -n ${!v:-} && -e ${!v} ]] || { echo "SKIP: \$$v not set" >&2; exit 77; }
    done
    ft_enter "$@"
    # Pseudo-terminals of our own (the private /dev has no ptmx).
    mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 login-test-pts /dev/pts
    ln -sf pts/ptmx /dev/ptmx
    # The module is loaded by unprivileged programs: a world-readable copy.
    LOGIN_MODULE=$FT_TMP/pam_p9auth.so
    install -m 0644 "$PAM_P9AUTH" "$LOGIN_MODULE"
    printf 'auth required %s socket=%s\naccount required %s\n' "$LOGIN_MODULE" "$FT_SOCK" "$LOGIN_MODULE" \
        >"$FT_TMP/etc/pam.d/p9login-test"
    # Staff (alice, bob) may become staff; everyone may become bob or alice
    # here, so that the login daemon's user may ask.
    printf 'permit * as bob\npermit * as alice\npermit * as nosuchuser\n' >>"$FT_TMP/etc/factotum.conf"
    ft_mount
    # ft_start finds factotum's TSan suppressions beside the calling test.
    local here
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../factotum/tests" && pwd)
    ft_start
}

# login_sanitized CMD...: CMD (an uninstrumented program such as pamtester)
# with the sanitizer runtime preloaded when the module carries one.
login_sanitized() {
    if [[ -n ${P9AUTH_TEST_PRELOAD:-} ]]; then
        LD_PRELOAD=$P9AUTH_TEST_PRELOAD ASAN_OPTIONS=detect_leaks=0:${ASAN_OPTIONS:-} "$@"
    else
        "$@"
    fi
}

# login_clean FILE...: fails the test when a sanitizer reported in FILE.
login_clean() {
    local f
    for f in "$@"; do
        [[ -f $f ]] || continue
        ! grep -qE 'Sanitizer|runtime error' "$f" || ft_fail "sanitizer report in $f: $(grep -m3 -E 'Sanitizer|runtime error' "$f")"
    done
}
