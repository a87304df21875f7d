#!/usr/bin/env python3
"""Times password logins through a real pseudo-terminal.

pty_bench.py N -- PROGRAM [ARG...]

Runs PROGRAM N times on a fresh pty; each time waits for "Password:",
types the first line of standard input (never argv) and waits for the
exit. Prints "mean_ms p50_ms p99_ms failures".
"""
import os
import pty
import select
import statistics
import sys
import time

def once(argv, answer):
    t0 = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    out = b""
    typed = False
    while True:
        r, _, _ = select.select([fd], [], [], 30)
        if not r:
            break
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
        if not typed and b"Password:" in out:
            os.write(fd, answer + b"\n")
            typed = True
    _, st = os.waitpid(pid, 0)
    os.close(fd)
    ok = os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0
    return (time.perf_counter() - t0) * 1000, ok

def main():
    n = int(sys.argv[1])
    argv = sys.argv[3:]
    answer = sys.stdin.readline().rstrip("\n").encode()
    times, fails = [], 0
    for _ in range(n):
        ms, ok = once(argv, answer)
        times.append(ms)
        fails += not ok
    times.sort()
    print(f"{statistics.mean(times):.2f} {times[len(times) // 2]:.2f} {times[min(len(times) - 1, int(len(times) * 0.99))]:.2f} {fails}")

main()
