#!/usr/bin/env python3
"""Drives a program on a real pseudo-terminal as a person would type.

pty_drive.py PREFIX -- PROGRAM [ARG...]

The answer to type is the first line of standard input (never argv). When
the program prints "Password:", its /proc/PID/status is saved to
PREFIX.status and the terminal's echo flag to PREFIX.echo, then the answer
is typed. Everything the terminal shows goes to PREFIX.out. Exits with the
program's status (128+N for signal N).

bench/login/pty_bench.py imports drive() from here.
"""
import os
import pty
import select
import sys
import termios
import time


def drive(argv, answer, at_prompt=None, timeout=60):
    """Runs argv on a new pty, types answer after "Password:" (calling
    at_prompt(pid, fd) first). Returns (everything shown, wait status)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    out = b""
    typed = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.5)
        if fd in r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            out += data
        if not typed and b"Password:" in out:
            if at_prompt:
                at_prompt(pid, fd)
            os.write(fd, answer + b"\n")
            typed = True
    _, st = os.waitpid(pid, 0)
    os.close(fd)
    return out, st


def main():
    prefix = sys.argv[1]
    assert sys.argv[2] == "--"
    answer = sys.stdin.readline().rstrip("\n").encode()

    def at_prompt(pid, fd):
        # p9su turns echo off before it prints the prompt, so what is
        # read here is the state the answer will be typed into.
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
        with open(prefix + ".status", "w") as f:
            f.write(status)
        echo = termios.tcgetattr(fd)[3] & termios.ECHO
        with open(prefix + ".echo", "w") as f:
            f.write("on\n" if echo else "off\n")

    out, st = drive(sys.argv[3:], answer, at_prompt)
    with open(prefix + ".out", "wb") as f:
        f.write(out)
    sys.exit(os.WEXITSTATUS(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st))


if __name__ == "__main__":
    main()
