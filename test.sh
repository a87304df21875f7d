#!/usr/bin/env bash
# Installs what is needed, builds p9authfs three ways (plain, ASan+UBSan,
# TSan) and runs every test in each: unit, conformance (FUSE natively, the
# kernel module under qemu in the plain build), integration. Run as root:
# the integration tests mount filesystems, each in its own private mount
# namespace, and change nothing on the host.
#   ./test.sh            everything
#   ./test.sh plain      one build only (plain, asan or tsan)
set -euo pipefail
cd "$(dirname "$0")"
[ "$(id -u)" = 0 ] || { echo "test.sh: run as root (as root: ./test.sh; with sudo: sudo ./test.sh): the tests mount filesystems" >&2; exit 2; }
scripts/install-deps.sh

jobs=$(nproc)
run_build() {
  local name=$1; shift
  echo "=== build: $name"
  cmake -S . -B "build/$name" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "build/$name" -j"$jobs"
  echo "=== tests: $name"
  ctest --test-dir "build/$name" --output-on-failure --timeout 900
}

builds=(plain asan tsan)
(($# == 0)) || builds=("$@")
for b in "${builds[@]}"; do
  case $b in
    plain) run_build plain ;;
    asan) run_build asan -DP9AUTH_SANITIZE=ON ;;
    tsan) run_build tsan -DP9AUTH_TSAN=ON ;;
    *) echo "test.sh: unknown build '$b' (plain, asan, tsan)" >&2; exit 2 ;;
  esac
done
