#!/usr/bin/env python3
"""Times password logins through a real pseudo-terminal.

pty_bench.py N -- PROGRAM [ARG...]

Runs PROGRAM N times on a fresh pty; each time waits for "Password:",
types the first line of standard input (never argv) and waits for the
exit. Prints "mean_ms p50_ms p99_ms failures". The pty driving is the
p9su test's (tools/p9su/tests/pty_drive.py).
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tools/p9su/tests"))
from pty_drive import drive  # noqa: E402


def main():
    n = int(sys.argv[1])
    assert sys.argv[2] == "--"
    argv = sys.argv[3:]
    answer = sys.stdin.readline().rstrip("\n").encode()
    times, fails = [], 0
    for _ in range(n):
        t0 = time.perf_counter()
        _, st, _ = drive(argv, answer, timeout=30)
        times.append((time.perf_counter() - t0) * 1000)
        fails += not (os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0)
    times.sort()
    print(f"{statistics.mean(times):.2f} {times[len(times) // 2]:.2f} "
          f"{times[min(len(times) - 1, int(len(times) * 0.99))]:.2f} {fails}")


main()
