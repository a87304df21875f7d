#!/usr/bin/env bash
# p9su through a real pseudo-terminal: alice runs `p9su - bob -c id` and
# types bob's password; the command runs as exactly bob (uid, gid, groups),
# echo is off at the prompt, p9su itself is alice with no capability while
# it waits; a wrong password exits 1 as su does; a command's status comes
# back; the capability is nowhere in argv or the environment.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../../pam_p9auth/tests/lib.sh
. "$here/../../../pam_p9auth/tests/lib.sh"
[[ -n ${P9SU:-} && -x ${P9SU} ]] || { echo "SKIP: \$P9SU not set" >&2; exit 77; }
login_enter "$@"
chmod 0755 "$FT_TMP"
# p9su's session phase (service p9su): pam_env sets a variable and
# pam_limits lowers a limit, as alice, before the switch; pam_unix logs it.
printf 'P9SU_TEST_ENV DEFAULT=set-by-pam-env\n' >"$FT_TMP/pam_env.conf"
printf 'bob hard nofile 321\n' >"$FT_TMP/limits.conf"
chmod 0644 "$FT_TMP/pam_env.conf" "$FT_TMP/limits.conf"
printf 'session required pam_env.so readenv=0 conffile=%s\nsession required pam_limits.so conf=%s\nsession optional pam_unix.so\n' \
    "$FT_TMP/pam_env.conf" "$FT_TMP/limits.conf" >"$FT_TMP/etc/pam.d/p9su"
drive() {  # drive PASSWORD P9SU-ARGS...: as alice on a pty; sets rc
    local pw=$1
    shift
    rc=0
    printf '%s\n' "$pw" | python3 "$here/pty_drive.py" "$FT_TMP/d" -- \
        setpriv --reuid=alice --regid=alice --init-groups -- \
        env -i TERM=xterm PATH=/usr/bin:/bin HOME=/nonexistent "$P9SU" --socket "$FT_SOCK" --p9use "$P9USE_CAPS" "$@" || rc=$?
    login_clean "$FT_TMP/d.out"
}

drive 'bob secret!' - bob -c 'id; echo "HOME=$HOME USER=$USER LOGNAME=$LOGNAME SHELL=$SHELL PATH=$PATH PWD=$(pwd)"; echo "ARGV0=$(tr "\0" "\n" </proc/$$/cmdline | head -1)"; env'
out=$(tr -d '\r' <"$FT_TMP/d.out")
[[ $rc == 0 ]] || ft_fail "p9su - bob -c id: exit $rc: $out"
grep -qx 'uid=2002(bob) gid=2002(bob) groups=2002(bob),2100(staff),2101(dev),2102(audio)' <<<"$out" ||
    ft_fail "id as bob: $out"
ft_pass "p9su - bob -c id: $(grep '^uid=' <<<"$out")"
# (the login shell reads /etc/profile, which may add to PATH)
grep -qxE 'HOME=/nonexistent USER=bob LOGNAME=bob SHELL=/bin/sh PATH=(.*:)?/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games PWD=/' <<<"$out" ||
    ft_fail "login environment: $out"
grep -q 'warning: cannot change directory to /nonexistent' <<<"$out" || ft_fail "no warning about the home directory: $out"
grep -qx 'ARGV0=-sh' <<<"$out" || ft_fail "a login shell's argv[0] is -sh: $out"
ft_pass "login semantics: HOME, USER, LOGNAME, SHELL, PATH set; argv[0] -sh; cd to home (with su's warning when it is missing)"
! grep -qF 'bob secret' <<<"$out" || ft_fail "the password was echoed"
[[ $(cat "$FT_TMP/d.echo") == off ]] || ft_fail "echo was on at the password prompt"
! grep -qE '@[A-Za-z0-9_-]{43}' <<<"$out" || ft_fail "the capability is in the environment"
ft_pass "echo off at the prompt; the password is not shown; no capability in the environment"

# What p9su was while it waited at the prompt.
st=$FT_TMP/d.status
grep -q '^Name:.*p9su' "$st" || ft_fail "the status saved is not p9su's: $(head -1 "$st")"
creds=$(p9_creds <"$st")
[[ $creds == "uid=2001 2001 2001 2001 gid=2001 2001 2001 2001 groups=2001 2100 capprm=0000000000000000 capeff=0000000000000000 nnp=0" ]] ||
    ft_fail "p9su at the prompt: $creds"
for f in CapInh CapPrm CapEff CapAmb; do
    [[ $(awk -v f="$f:" '$1 == f { print $2 }' "$st") == 0000000000000000 ]] || ft_fail "p9su has $f"
done
ft_pass "p9su at the prompt: alice, no capability in any set ($creds)"

drive 'not bob' - bob -c id
out=$(tr -d '\r' <"$FT_TMP/d.out")
[[ $rc == 1 ]] || ft_fail "wrong password: exit $rc, want 1: $out"
grep -q 'Authentication failure' <<<"$out" || ft_fail "wrong password message: $out"
! grep -q 'uid=2002' <<<"$out" || ft_fail "the command ran after a wrong password"
ft_pass "wrong password: exit 1, $(grep -o 'p9su: Authentication failure' <<<"$out")"

drive 'bob secret!' bob -c 'exit 42'
[[ $rc == 42 ]] || ft_fail "command's status: $rc, want 42"
drive 'bob secret!' bob -c 'id -un; echo "USER=$USER HOME=$HOME"'
out=$(tr -d '\r' <"$FT_TMP/d.out")
grep -qx 'bob' <<<"$out" && grep -qx 'USER=bob HOME=/nonexistent' <<<"$out" || ft_fail "without -: $out"
drive 'bob secret!' bob -c '/nonexistent/program'
[[ $rc == 127 ]] || ft_fail "missing program: $rc, want 127"
ft_pass "exit status follows su: the command's (42), 127 for a missing program"

drive 'bob secret!' - bob -c 'echo "ENV=$P9SU_TEST_ENV NOFILE=$(ulimit -Hn) TTY=$(tty)"'
out=$(tr -d '\r' <"$FT_TMP/d.out")
[[ $rc == 0 ]] || ft_fail "p9su - bob with a session phase: exit $rc: $out"
grep -qE '^ENV=set-by-pam-env NOFILE=321 TTY=/dev/pts/[0-9]+$' <<<"$out" || ft_fail "the session phase: $out"
p9_poll 5 grep -q 'pam_unix(p9su:session): session opened for user bob' "$FT_TMP/syslog" || ft_fail "no session opened in the log"
p9_poll 5 grep -q 'pam_unix(p9su:session): session closed for user bob' "$FT_TMP/syslog" || ft_fail "no session closed in the log"
ft_pass "the session phase: pam_env's variable and pam_limits' nofile (321) in bob's shell; opened and closed (pam_unix)"

# A session that cannot be opened is no session: exit 1, nothing runs.
printf 'session required pam_deny.so\n' >"$FT_TMP/etc/pam.d/p9su"
drive 'bob secret!' bob -c 'echo RAN'
out=$(tr -d '\r' <"$FT_TMP/d.out")
[[ $rc == 1 ]] && grep -q 'p9su: cannot open the session' <<<"$out" && ! grep -qx RAN <<<"$out" ||
    ft_fail "a refused session: exit $rc: $out"
ft_pass "a refused session phase: exit 1, the command does not run"
