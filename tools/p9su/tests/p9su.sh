#!/usr/bin/env bash
# p9su through a real pseudo-terminal: alice runs `p9su - bob -c id` and
# types bob's password; the command runs as exactly bob (uid, gid, groups),
# echo is off at the prompt, p9su itself is alice with no capability while
# it waits; a wrong password exits 1 as su does; a command's status comes
# back; the capability is nowhere in argv or the environment; with -c the
# target is in a session of its own (TIOCSTI into the caller's terminal
# refused), and --pty gives it a terminal of its own.
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
# One answer limit (terminal.hpp): 1025 bytes are refused, never cut to
# 1024 and sent (a cut answer would reach PAM as a wrong password).
drive "$(head -c 1025 /dev/zero | tr '\0' x)" - bob -c id
out=$(tr -d '\r' <"$FT_TMP/d.out")
[[ $rc == 1 ]] || ft_fail "a 1025-byte answer: exit $rc, want 1: $out"
grep -q 'p9su: answer longer than 1024 bytes: refused, not sent' <<<"$out" || ft_fail "a 1025-byte answer: $out"
! grep -q 'Authentication failure' <<<"$out" || ft_fail "a 1025-byte answer reached PAM: $out"
ft_pass "a 1025-byte answer: $(grep -o 'p9su: answer longer.*' <<<"$out")"

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

# TIOCSTI (issue 10, item 5): a program that pushes a line into its
# terminal's input. As the caller, in the terminal's session, the kernel
# lets it (legacy_tiocsti=1): that is what a target could do to the
# caller's terminal. Through p9su -c it runs in a session of its own,
# without a controlling terminal: refused on fd 0, no /dev/tty.
cat >"$FT_TMP/tiocsti.py" <<'PY'
import errno, fcntl, os, termios
for what in ("fd0", "devtty"):
    try:
        fd = 0 if what == "fd0" else os.open("/dev/tty", os.O_RDWR)
        fcntl.ioctl(fd, termios.TIOCSTI, b"\n")
        print(what, "TIOCSTI done")
    except OSError as e:
        print(what, "TIOCSTI refused", errno.errorcode[e.errno])
PY
chmod 0644 "$FT_TMP/tiocsti.py"
legacy=$(cat /proc/sys/dev/tty/legacy_tiocsti 2>/dev/null || echo absent)
printf '\n' | python3 "$here/pty_drive.py" "$FT_TMP/c" -- setpriv --reuid=alice --regid=alice --init-groups -- \
    python3 "$FT_TMP/tiocsti.py" || ft_fail "the control run failed"
control=$(tr -d '\r' <"$FT_TMP/c.out")
if [[ $legacy == 0 ]]; then
    grep -qx 'fd0 TIOCSTI refused EIO' <<<"$control" || ft_fail "legacy_tiocsti=0, yet: $control"
    echo "NOTE: dev.tty.legacy_tiocsti=0 here: TIOCSTI is off for everyone; the new session is checked all the same" >&2
else
    grep -qx 'fd0 TIOCSTI done' <<<"$control" && grep -qx 'devtty TIOCSTI done' <<<"$control" ||
        ft_fail "the caller itself could not use TIOCSTI (legacy_tiocsti=$legacy): $control"
fi
drive 'bob secret!' bob -c "python3 $FT_TMP/tiocsti.py; echo \"SID=\$(ps -o sid= -p \$\$) CALLER=\$(ps -o sid= -p \$PPID)\""
out=$(tr -d '\r' <"$FT_TMP/d.out")
[[ $rc == 0 ]] || ft_fail "p9su bob -c tiocsti: exit $rc: $out"
grep -qx 'fd0 TIOCSTI refused EPERM' <<<"$out" || ft_fail "TIOCSTI on fd 0 through p9su -c: $out"
grep -qx 'devtty TIOCSTI refused ENXIO' <<<"$out" || ft_fail "/dev/tty through p9su -c: $out"
sids=$(sed -n 's/^SID= *\([0-9]*\) CALLER= *\([0-9]*\)$/\1 \2/p' <<<"$out")
read -r sid caller_sid <<<"$sids"
[[ -n $sid && $sid != "$caller_sid" ]] || ft_fail "the command's session: '$sids'"
ft_pass "TIOCSTI: the caller may (legacy_tiocsti=$legacy); p9su bob -c: EPERM on fd 0, no /dev/tty (ENXIO), session $sid, not the caller's $caller_sid"

# --pty: the target on a terminal of its own, sized as the caller's; TIOCSTI
# there reaches only itself; the caller's terminal is raw while it runs
# and as before after; the status comes back.
export PTY_DRIVE_SIZE="33 111"
drive 'bob secret!' --pty bob -c "python3 $FT_TMP/tiocsti.py; echo \"MINE=\$(tty) CALLER=/dev/\$(ps -o tty= -p \$PPID | tr -d ' ') SIZE=\$(stty size)\"; exit 7"
unset PTY_DRIVE_SIZE
out=$(tr -d '\r' <"$FT_TMP/d.out")
[[ $rc == 7 ]] || ft_fail "p9su --pty: exit $rc, want 7: $out"
grep -qx 'fd0 TIOCSTI done' <<<"$out" || ft_fail "TIOCSTI on its own terminal: $out"
line=$(grep '^MINE=' <<<"$out") || ft_fail "no MINE= line: $out"
[[ $line =~ ^MINE=(/dev/pts/[0-9]+)\ CALLER=(/dev/pts/[0-9]+)\ SIZE=33\ 111$ && ${BASH_REMATCH[1]} != "${BASH_REMATCH[2]}" ]] ||
    ft_fail "--pty terminal: $line"
[[ $(cat "$FT_TMP/d.final") == 'icanon on echo on' ]] || ft_fail "the caller's terminal after --pty: $(cat "$FT_TMP/d.final")"
ft_pass "--pty: $line (its own terminal, the caller's size); exit 7 passed on; the caller's modes restored"

export PTY_DRIVE_RESIZE="40 120"
drive 'bob secret!' -P bob -c 'trap "echo SIZE=\$(stty size); exit 0" WINCH; echo READY; i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; echo NO-WINCH'
unset PTY_DRIVE_RESIZE
out=$(tr -d '\r' <"$FT_TMP/d.out")
[[ $rc == 0 ]] && grep -qx 'SIZE=40 120' <<<"$out" || ft_fail "SIGWINCH through --pty: exit $rc: $out"
[[ $(cat "$FT_TMP/d.during") == 'icanon off echo off' ]] || ft_fail "the caller's terminal during --pty: $(cat "$FT_TMP/d.during")"
[[ $(cat "$FT_TMP/d.final") == 'icanon on echo on' ]] || ft_fail "the caller's terminal after -P: $(cat "$FT_TMP/d.final")"
ft_pass "-P: the caller's terminal raw while it runs; a resize reaches the target (SIGWINCH, stty size 40 120)"

# A session that cannot be opened is no session: exit 1, nothing runs.
printf 'session required pam_deny.so\n' >"$FT_TMP/etc/pam.d/p9su"
drive 'bob secret!' bob -c 'echo RAN'
out=$(tr -d '\r' <"$FT_TMP/d.out")
[[ $rc == 1 ]] && grep -q 'p9su: cannot open the session' <<<"$out" && ! grep -qx RAN <<<"$out" ||
    ft_fail "a refused session: exit $rc: $out"
ft_pass "a refused session phase: exit 1, the command does not run"
