#!/usr/bin/env python3
"""Types into a program on a real pseudo-terminal, as a person would.

expect.py [--user NAME] TRANSCRIPT SCRIPT -- PROGRAM [ARG...]

SCRIPT has one step a line: `expect REGEX` waits (up to 60 s) until what the
terminal has shown since the last match matches; `send TEXT` types TEXT and
a newline (`\\n` inside TEXT is a newline too). Everything the terminal
showed goes to TRANSCRIPT. Exits 0 when every step matched and the program
ended, 3 when a step timed out (the transcript says which), otherwise with
the program's status (4: it did not end by itself). With --user, the
program runs as that user (groups from the group database), on a terminal
given to that user, as login(1) would start it; the transcript is still
written by the caller. Used by the guest stages of the system test: secrets
come in the SCRIPT file, never on a command line.
"""
import os
import pty
import pwd
import re
import select
import subprocess
import sys
import time


def become(name):
    """In the child, on its new terminal: the terminal and then the
    process become NAME's, with a login environment."""
    pw = pwd.getpwnam(name)
    os.chown(os.ttyname(0), pw.pw_uid, -1)
    os.initgroups(name, pw.pw_gid)
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)
    os.chdir("/")
    os.environ.clear()
    os.environ.update(HOME=pw.pw_dir, USER=name, LOGNAME=name, SHELL=pw.pw_shell,
                      PATH="/usr/local/bin:/usr/bin:/bin", TERM="vt100")


def main():
    args = sys.argv[1:]
    user = None
    if args[0] == "--user":
        user, args = args[1], args[2:]
    transcript, script = args[0], args[1]
    assert args[2] == "--"
    argv = args[3:]
    with open(script) as f:
        steps = [line.rstrip("\n").split(" ", 1) for line in f if line.strip()]
    pid, fd = pty.fork()
    if pid == 0:
        if user:
            become(user)
        os.execvp(argv[0], argv)
    shown = b""
    seen = 0
    log = open(transcript, "wb")

    def read(deadline):
        nonlocal shown
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([fd], [], [], min(left, 0.5))
            if fd in r:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    return None
                if not data:
                    return None
                shown += data
                log.write(data)
                log.flush()
                return True

    status = 0
    for verb, arg in steps:
        if verb == "send":
            os.write(fd, arg.replace("\\n", "\n").encode() + b"\n")
            continue
        assert verb == "expect", verb
        pattern = re.compile(arg.encode())
        deadline = time.monotonic() + 60
        while True:
            m = pattern.search(shown, seen)
            if m:
                seen = m.end()
                break
            if not read(deadline):
                log.write(f"\n[expect.py: timed out waiting for {arg!r}]\n".encode())
                status = 3
                break
        if status:
            break
    if status:
        os.kill(pid, 9)
    # Drain until the program ends.
    deadline = time.monotonic() + 30
    while read(deadline):
        pass
    # The terminal can close (EOF) a moment before the program has ended:
    # wait for it, to the same deadline.
    done, st = os.waitpid(pid, os.WNOHANG)
    while done == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
        done, st = os.waitpid(pid, os.WNOHANG)
    if done == 0:
        # What is still there, and where it waits, before it is killed.
        ps = subprocess.run(["ps", "-e", "-o", "pid,ppid,user,stat,tty,wchan:24,args"],
                            capture_output=True, text=True).stdout
        log.write(b"\n[expect.py: the program did not end; killed. ps:]\n" + ps.encode())
        os.kill(pid, 9)
        _, st = os.waitpid(pid, 0)
        status = status or 4
    log.close()
    if status:
        sys.exit(status)
    sys.exit(os.waitstatus_to_exitcode(st) & 0xFF)


if __name__ == "__main__":
    main()
