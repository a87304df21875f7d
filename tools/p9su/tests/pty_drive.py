#!/usr/bin/env python3
"""Drives a program on a real pseudo-terminal as a person would type.

pty_drive.py PREFIX -- PROGRAM [ARG...]

The answer to type is the first line of standard input (never argv). When
the program prints "Password:", its /proc/PID/status is saved to
PREFIX.status and the terminal's echo flag to PREFIX.echo, then the answer
is typed. Everything the terminal shows goes to PREFIX.out. Exits with the
program's status (128+N for signal N).

Optional, from the environment: PTY_DRIVE_SIZE="ROWS COLS" sizes the
terminal before the program starts; PTY_DRIVE_RESIZE="ROWS COLS" resizes
it when the program prints READY after the answer was typed, saving the
terminal's modes then to PREFIX.during; the modes after the program ended
go to PREFIX.final ("icanon on|off echo on|off").

bench/login/pty_bench.py imports drive() from here.
"""
import fcntl
import os
import pty
import select
import struct
import sys
import termios
import time


def set_size(fd, rows_cols):
    rows, cols = (int(x) for x in rows_cols.split())
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def modes(fd):
    lflag = termios.tcgetattr(fd)[3]
    return "icanon %s echo %s\n" % ("on" if lflag & termios.ICANON else "off", "on" if lflag & termios.ECHO else "off")


def drive(argv, answer, at_prompt=None, timeout=60, size=None, resize=None, at_resize=None):
    """Runs argv on a new pty, types answer after "Password:" (calling
    at_prompt(pid, fd) first); with resize, resizes the pty when READY
    shows after that (calling at_resize(fd) first). Returns (everything
    shown, wait status, the terminal's modes at the end)."""
    pid, fd = pty.fork()
    if pid == 0:
        if size:
            set_size(0, size)
        os.execvp(argv[0], argv)
    out = b""
    typed = False
    resized = False
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
            typed_at = len(out)
        if resize and typed and not resized and b"READY" in out[typed_at:]:
            if at_resize:
                at_resize(fd)
            set_size(fd, resize)
            resized = True
    _, st = os.waitpid(pid, 0)
    try:
        final = modes(fd)
    except OSError:
        final = "unknown\n"
    os.close(fd)
    return out, st, final


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

    def at_resize(fd):
        with open(prefix + ".during", "w") as f:
            f.write(modes(fd))

    out, st, final = drive(sys.argv[3:], answer, at_prompt, size=os.environ.get("PTY_DRIVE_SIZE"),
                           resize=os.environ.get("PTY_DRIVE_RESIZE"), at_resize=at_resize)
    with open(prefix + ".out", "wb") as f:
        f.write(out)
    with open(prefix + ".final", "w") as f:
        f.write(final)
    sys.exit(os.WEXITSTATUS(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st))


if __name__ == "__main__":
    main()
