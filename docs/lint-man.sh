#!/usr/bin/env bash
# Every man page renders without a groff warning, and every program and file
# the project installs has one.
set -euo pipefail
top=$1
fail=0
for page in "$top"/docs/man/*.[1-8]; do
  out=$(LC_ALL=C.UTF-8 groff -man -ww -z -t "$page" 2>&1 || true)
  if [ -n "$out" ]; then echo "FAIL $page: $out"; fail=1; else echo "PASS $(basename "$page")"; fi
done
for need in p9auth.5 p9auth-capability.7 p9authfs.8 p9use.1 p9grant.8 p9auth.conf.5 p9auth.ko.8 factotum.8 factotum.conf.5 p9auth-request.1; do
  if [ -f "$top/docs/man/$need" ]; then echo "PASS has $need"; else echo "FAIL missing man page $need"; fail=1; fi
done
exit $fail
