#!/usr/bin/env bash
# Opt-in (slow: a kernel build): applies the upstream series to Debian's
# linux-source-6.12, builds a minimal kernel with p9auth built in
# (tinyconfig + vm.config) and boots it under qemu with the same smoke test
# and conformance suite as the module (tests/kernel/run-vm-tests.sh with
# P9AUTH_VM_KERNEL).  Not run by ./test.sh or CI.
#
#   build-and-test.sh BUILD_DIR --suite FILE [--p9use FILE]
#
# BUILD_DIR keeps the unpacked tree (BUILD_DIR/linux-6.12) and its objects
# between runs: the patches from the first changed one on are reversed and
# the new ones applied, so only what they touch is rebuilt.  --suite/--p9use: the statically linked
# p9auth-conformance and p9use (CMake targets p9auth-conformance-static,
# p9use-static), passed on to run-vm-tests.sh.
# P9AUTH_KERNEL_JOBS: make -j (default 2).  Needs root for apt-get when
# linux-source-6.12 or a build tool is missing.
# Exit status: 0 built, booted and passed; 1 something failed; 2 usage.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../../.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR --suite FILE [--p9use FILE]" >&2; exit 2; }
mkdir -p "$1"
build=$(cd "$1" && pwd)
shift
src=$build/linux-6.12
applied=$build/applied
jobs=${P9AUTH_KERNEL_JOBS:-2}
log() { echo "build-and-test: $*"; }
t0=$(date +%s)
phase() { log "$1 ($(( $(date +%s) - t0 )) s so far)"; }

need=()
for tool in make gcc flex bison bc cpio xz perl; do command -v $tool >/dev/null || need+=("$tool"); done
command -v gcc >/dev/null || need+=(libc6-dev)
[ -e /usr/include/libelf.h ] || need+=(libelf-dev)
[ -e /usr/include/openssl/ssl.h ] || need+=(libssl-dev)
[ -s /usr/src/linux-source-6.12.tar.xz ] || need+=(linux-source-6.12)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ ! -f "$src/Makefile" ]; then
  phase "unpacking /usr/src/linux-source-6.12.tar.xz"
  rm -rf "$build/linux-source-6.12" "$src" "$applied"
  tar -xf /usr/src/linux-source-6.12.tar.xz -C "$build"
  mv "$build/linux-source-6.12" "$src"
fi

# The series: what is applied now is kept in $applied.  Patches from the
# first one that differs on are reversed (patch keeps the times of files it
# does not touch, and an unchanged patch 1 keeps cred.h's: no full rebuild)
# and the new ones applied.
series=("$here"/0*.patch)
mkdir -p "$applied"
mapfile -t old < <(find "$applied" -name '0*.patch' -printf '%f\n' | sort)
keep=0
while [ $keep -lt ${#series[@]} ] && [ $keep -lt ${#old[@]} ] &&
      [ "$(basename "${series[$keep]}")" = "${old[$keep]}" ] && cmp -s "${series[$keep]}" "$applied/${old[$keep]}"; do
  keep=$((keep + 1))
done
for (( i = ${#old[@]} - 1; i >= keep; i-- )); do
  phase "reversing ${old[$i]}"
  patch -s -R -p1 -d "$src" <"$applied/${old[$i]}"
  rm "$applied/${old[$i]}"
done
for (( i = keep; i < ${#series[@]}; i++ )); do
  patch -s -p1 --dry-run -d "$src" <"${series[$i]}" ||
    { echo "build-and-test: $(basename "${series[$i]}") does not apply" >&2; exit 1; }
  phase "applying $(basename "${series[$i]}")"
  patch -s -p1 -d "$src" <"${series[$i]}"
  cp "${series[$i]}" "$applied/"
done

phase "configuring (tinyconfig + vm.config)"
make -s -C "$src" tinyconfig >/dev/null
"$src/scripts/kconfig/merge_config.sh" -m -O "$src" "$src/.config" "$here/vm.config" >"$build/config.log" 2>&1
make -s -C "$src" olddefconfig
missing=()
while read -r line; do
  case $line in
    CONFIG_*=*) grep -qx "$line" "$src/.config" || missing+=("$line") ;;
    "# CONFIG_"*" is not set") grep -q "^${line#\# }" "$src/.config" && missing+=("$line") ;;
  esac
done <"$here/vm.config"
[ ${#missing[@]} = 0 ] || { echo "build-and-test: not in the config: ${missing[*]}" >&2; exit 1; }

# The series' own code with W=1: a warning fails, as for the module.
phase "building the series' code with W=1"
make -C "$src" -j"$jobs" W=1 fs/p9auth/ kernel/sys.o kernel/groups.o >"$build/w1.log" 2>&1 ||
  { tail -30 "$build/w1.log"; exit 1; }
if grep -E '^(fs/p9auth|kernel/(sys|groups)\.c).*(warning|error):' "$build/w1.log"; then
  echo "build-and-test: the series' code has warnings (W=1)" >&2; exit 1
fi
phase "building bzImage (make -j$jobs)"
nice -n 10 make -C "$src" -j"$jobs" bzImage >"$build/build.log" 2>&1 || { tail -30 "$build/build.log"; exit 1; }
grep -q '^CONFIG_P9AUTH_FS=y' "$src/.config"
built=$(( $(date +%s) - t0 ))

phase "booting it with the conformance suite"
set +e
P9AUTH_VM_KERNEL=$src/arch/x86/boot/bzImage "$top/tests/kernel/run-vm-tests.sh" "$build/vm" "$@"
rc=$?
set -e
log "built in ${built} s, all in $(( $(date +%s) - t0 )) s: $([ $rc = 0 ] && echo PASS || echo FAIL)"
exit $rc
