#!/usr/bin/env bash
# Grant+use cycles per second against p9auth.ko, inside the same qemu VM as
# tests/kernel/run-vm-tests.sh, against the same number of plain writes to
# /dev/null in that VM, printed as a ratio with the machine it ran on.
# Not a test: it prints figures and fails only when it could not run.
#
#   bench/kernel/run-vm-bench.sh BUILD_DIR [CYCLES [FILL]]  (default 20000, 1000000)
#
# Each cycle: root grants HMAC-SHA256(KEY_i, "0@0:0:4,24,27") and uses
# "0@0:0:4,24,27@KEY_i" (a full form, so groups are allocated and the
# credentials committed every time).  Under TCG every instruction is
# emulated: compare the ratio, not the absolute figures, with real hardware.
# Then FILL distinct hashes are granted into one mount (0: skipped), with
# the grant rate printed at 10k, 100k, 1M and FILL.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [CYCLES [FILL]]" >&2; exit 2; }
mkdir -p "$1"
build=$(cd "$1" && pwd)
cycles=${2:-20000}
fill=${3:-1000000}
work=$build/kernel-bench
vm_name=run-vm-bench
vm_cache=$build/kernel-image
mkdir -p "$work"
# shellcheck source-path=SCRIPTDIR source=../../tests/kernel/vm-lib.sh
. "$top/tests/kernel/vm-lib.sh"

vm_prepare
command -v python3 >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-minimal >/dev/null
gcc -static -O2 -Wall -Wextra -Werror -o "$work/p9auth-bench" "$here/bench.c"
python3 - "$cycles" >"$work/cycles" <<'PY'
import base64, hashlib, hmac, os, sys
for _ in range(int(sys.argv[1])):
    key = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=")
    msg = b"0@0:0:4,24,27"
    print(hmac.new(key, msg, hashlib.sha256).hexdigest(), (msg + b"@" + key).decode())
PY

root=$work/initramfs
rm -rf "$root" && mkdir -p "$root"
cp "$module" "$work/p9auth-bench" "$work/cycles" "$root/"
{
  vm_init_head
  cat <<'EOF2'
echo "P9AUTH-VM: cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
/p9auth-bench /cycles FILL
echo "P9AUTH-VM: bench exit $?"
EOF2
  vm_init_taint
  cat <<'EOF2'
echo "P9AUTH-VM: done"
poweroff -f
EOF2
} | sed "s/FILL/$fill/" >"$root/init"
chmod 755 "$root/init"
vm_initramfs "$root" "$work/initramfs.cpio.gz"

console=$work/console.log
vm_log "booting $abi under qemu (TCG), $cycles cycles"
set +e
vm_boot "$work/initramfs.cpio.gz" "$console" "${P9AUTH_VM_TIMEOUT:-420}"
set -e
echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, $(uname -r)"
echo "vm:   Debian $abi under qemu-system-x86_64 TCG (-cpu max -smp 2), no KVM"
grep -a 'P9AUTH-VM: cpu\|^bench:' "$console" | sed 's/\r$//'
grep -aq 'P9AUTH-VM: bench exit 0' "$console" || { echo "the bench did not run; see $console" >&2; exit 1; }
if vm_kernel_errors "$console"; then echo "the kernel logged a warning; see $console" >&2; exit 1; fi
if vm_taint_bad "$console"; then echo "the kernel ended tainted; see $console" >&2; exit 1; fi
