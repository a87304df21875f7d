#!/usr/bin/env bash
# Runs fs_bench as root in a private mount namespace, its mounts under a
# fresh tmpfs, and cleans everything up however it ends.
#
#   bench/run-fs-bench.sh [BUILD_DIR] [fs_bench options...]
#
# BUILD_DIR defaults to ./build; it must hold fs/p9auth/fuse/p9authfs,
# bench/p9auth-nullfs and bench/fs_bench (cmake --build BUILD_DIR --target
# p9authfs p9auth-nullfs fs_bench).
set -euo pipefail

build=${1:-build}
[[ $# -gt 0 ]] && shift
build=$(cd "$build" && pwd)
p9authfs=$build/fs/p9auth/fuse/p9authfs
nullfs=$build/bench/p9auth-nullfs
bench=$build/bench/fs_bench
for b in "$p9authfs" "$nullfs" "$bench"; do
    [[ -x $b ]] || { echo "run-fs-bench: $b is not built" >&2; exit 2; }
done

if [[ ${P9_BENCH_IN_NS:-} != 1 ]]; then
    [[ $(id -u) == 0 ]] || { echo "run-fs-bench: needs root (FUSE mounts in a private mount namespace)" >&2; exit 2; }
    export P9_BENCH_IN_NS=1
    # Every mount made inside dies with the namespace, even on SIGKILL.
    exec unshare --mount --propagation private -- "$0" "$build" "$@"
fi

dir=$(mktemp -d /tmp/p9auth-bench.XXXXXX)
cleanup() {
    local m
    # Deepest first: the FUSE mounts, then the tmpfs.
    while read -r m; do umount -l "$m" 2>/dev/null || true; done < <(awk -v d="$dir" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
    rmdir "$dir" 2>/dev/null || rm -rf "$dir"
}
trap cleanup EXIT
mount -t tmpfs -o mode=0755 p9auth-bench "$dir"
"$bench" --p9authfs "$p9authfs" --nullfs "$nullfs" --dir "$dir" "$@"
