#!/usr/bin/env bash
# Builds p9auth.ko against Debian's linux-headers-amd64, boots Debian's
# linux-image-amd64 kernel under qemu (TCG) with a busybox initramfs, loads
# the module, runs the smoke test and the conformance suite, and fails when
# a case fails, when the suite did not run, or when the kernel logs a
# warning, an oops, a BUG or a stall, or ends tainted by anything but the
# module being out of tree and unsigned.
#
#   tests/kernel/run-vm-tests.sh BUILD_DIR [--suite FILE] [--p9use FILE] [--smoke-only]
#
# --suite: the statically linked p9auth-conformance (CMake target
#   p9auth-conformance-static); without it, BUILD_DIR is searched for one.
#   No suite is a failure, unless --smoke-only says that is what is wanted.
# --p9use: a statically linked p9use, passed on to the suite.
# --login FACTOTUM P9LOGIND PAM_P9AUTH: also log bob in through p9logind,
#   pam_p9auth and factotum (real pam_unix) on the module (vm-login.sh).
# P9AUTH_VM_TIMEOUT: seconds qemu may run (default 420).
# P9AUTH_VM_ABI: another Debian kernel (e.g. 6.12, the newest 6.12 from
#   bookworm-backports); see tests/kernel/vm-lib.sh.
# P9AUTH_VM_KERNEL=BZIMAGE: a kernel with p9auth built in (the upstream
#   series): booted as it is, no module built, loaded or removed.
# P9AUTH_VM_FILTER=SUBSTR: run only the conformance cases whose name has it
#   (the suite's --filter), e.g. to show a new case failing on an old module.
#
# Needs root for apt-get when a package is missing.  The kernel image is
# downloaded with apt-get download and unpacked into BUILD_DIR, never
# installed into /boot.  The console stays in BUILD_DIR/kernel-vm/console.log.
# Exit status: 0 all passed, 1 something failed, 2 usage.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [--suite FILE] [--p9use FILE] [--login FACTOTUM P9LOGIND PAM_P9AUTH]" >&2; exit 2; }
mkdir -p "$1"
build=$(cd "$1" && pwd)
shift
suite="" p9use="" smoke_only=0 login_bins=()
while [ $# -gt 0 ]; do
  case $1 in
    --suite) suite=$2; shift 2 ;;
    --p9use) p9use=$2; shift 2 ;;
    --login) login_bins=("$2" "$3" "$4"); shift 4 ;;
    --smoke-only) smoke_only=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
work=$build/kernel-vm
vm_name=run-vm-tests
vm_cache=$build/kernel-image
mkdir -p "$work"
# shellcheck source-path=SCRIPTDIR source=vm-lib.sh
. "$here/vm-lib.sh"
# shellcheck source-path=SCRIPTDIR source=vm-login.sh
. "$here/vm-login.sh"

vm_prepare

# The smoke test and its vectors: hashes from openssl, not from our code.
gcc -static -O2 -Wall -Wextra -Werror -I "$here/../../fs/p9auth/include" -o "$work/p9auth-smoke" "$here/smoke.c"
hmac() { printf '%s' "$2" | openssl dgst "-$1" -hmac "$3" | awk '{print $NF}'; }
vec() { echo "$1 $(hmac "$2" "$3" "$4") $3@$4"; }   # NAME ALG FROM@TO KEY
{
  vec full256     sha256 0@1000:1000:5,6 smokekey1-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456
  vec wrong256    sha256 1000@0          smokekey2-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456
  vec bare256     sha256 0@2000          smokekey3-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456
  vec legacy1     sha1   0@3000:3000     smokekey4-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456
  vec unmapped256 sha256 0@5             smokekey5-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456
  vec nsfull256   sha256 0@0:0           smokekey6-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456
  vec ns256       sha256 0@0             smokekey7-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456
  vec race256     sha256 0@0             smokekey8-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456
  vec nsmap256    sha256 0@1:1:2         smokekey9-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456
  vec nsout256    sha256 0@0:0           smokekeyA-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456
  vec nnp256      sha256 0@0             smokekeyB-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456
  vec amb256      sha256 0@1000:1000     smokekeyC-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456
  vec keep256     sha256 0@1000:1000     smokekeyD-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456
  vec longkey256  sha256 0@2000          "smokekeyE-$(printf 'L%.0s' $(seq 190))"
  vec longkey1    sha1   0@2000          "smokekeyF-$(printf 'M%.0s' $(seq 246))"
  vec veto256     sha256 4242@4244       smokekeyG-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456
  vec allow256    sha256 4242@4243       smokekeyH-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456
} >"$work/vectors"

# The conformance suite, if built.
if [ -z "$suite" ] && [ $smoke_only = 0 ]; then
  suite=$(find "$build" -path "$work" -prune -o -type f -name p9auth-conformance-static -perm -u+x -print 2>/dev/null | head -1)
fi
if [ -n "$suite" ] && [ ! -x "$suite" ]; then
  echo "$suite does not exist: build it first (cmake --build BUILD --target p9auth-conformance-static)" >&2; exit 1
fi
if [ -n "$suite" ] && ldd "$suite" >/dev/null 2>&1; then
  echo "$suite is not statically linked" >&2; exit 1
fi
if [ -z "$suite" ] && [ $smoke_only = 0 ]; then
  echo "no p9auth-conformance-static found (give --suite FILE, or --smoke-only)" >&2; exit 1
fi

root=$work/initramfs
rm -rf "$root" && mkdir -p "$root"
cp "$work/p9auth-smoke" "$work/vectors" "$root/"
if [ -n "$module" ]; then cp "$module" "$root/"; fi
if [ -n "$suite" ]; then cp "$suite" "$root/p9auth-conformance"; fi
if [ -n "$p9use" ]; then cp "$p9use" "$root/p9use"; fi
printf '%s' "${P9AUTH_VM_FILTER:-}" >"$root/suite-filter"
if [ ${#login_bins[@]} = 3 ]; then vm_login_payload "$root" "${login_bins[@]}"; fi
{
  vm_init_head
  cat <<'EOF'
grep -q p9auth /proc/filesystems && echo "P9AUTH-VM: p9auth registered"
/p9auth-smoke /vectors
echo "P9AUTH-VM: smoke exit $?"
if [ -x /p9auth-conformance ]; then
  mkdir -p /run/p9auth
  p9use=""
  [ -x /p9use ] && p9use="--p9use /p9use"
  filter=""
  [ -s /suite-filter ] && filter="--filter $(cat /suite-filter)"
  /p9auth-conformance --impl kernel --mount /run/p9auth $p9use $filter
  echo "P9AUTH-VM: suite exit $?"
else
  echo "P9AUTH-VM: no suite"
fi
EOF
  vm_login_init
  cat <<'EOF'
# Whatever a crashed case left mounted, so that rmmod can say the truth.
grep ' p9auth ' /proc/mounts | while read -r _ dir _; do
  echo "P9AUTH-VM: left mounted: $dir"; umount "$dir"
done
if [ ! -e /p9auth.ko ]; then echo "P9AUTH-VM: built in, nothing to remove"
elif rmmod p9auth; then echo "P9AUTH-VM: module removed"; fi
echo "P9AUTH-VM: dmesg begin"
dmesg
echo "P9AUTH-VM: dmesg end"
EOF
  vm_init_taint
  cat <<'EOF'
echo "P9AUTH-VM: done"
# The minimal kernel of the upstream series (no PCI, so ACPI cannot load
# its tables) cannot power off; a reboot ends qemu too (-no-reboot).
if [ -e /p9auth.ko ]; then poweroff -f; else reboot -f; fi
EOF
} >"$root/init"
chmod 755 "$root/init"
vm_initramfs "$root" "$work/initramfs.cpio.gz"

# slub_debug: red zones, poisoning and sanity checks on every kmalloc, so
# an overrun or a use after free is a "BUG kmalloc-..." line below.
# audit=1: with no auditd the kernel prints audit records on the console,
# where the verdict looks for the record of a use.
vm_append="slub_debug=FZP audit=1"
console=$work/console.log
vm_log "booting $abi under qemu (TCG)"
start=$(date +%s)
set +e
vm_boot "$work/initramfs.cpio.gz" "$console" "${P9AUTH_VM_TIMEOUT:-420}"
qemu_rc=$?
set -e
vm_log "qemu exited with $qemu_rc after $(( $(date +%s) - start )) s; console: $console"

# The verdict.
grep -a 'P9AUTH-VM:\|^ok \|^FAIL\|^PASS\|^SKIP\|passed,.*failed\|^\*\*\*' "$console" | sed 's/\r$//' || true
fail=0
bad() { echo "run-vm-tests: FAIL: $*"; fail=1; }
if [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ]; then bad "qemu timed out"; fi
if [ -n "$module" ]; then
  grep -aq 'P9AUTH-VM: module loaded' "$console" || bad "module did not load"
else
  grep -aq 'P9AUTH-VM: built in' "$console" || bad "p9auth is not built into $vmlinuz"
fi
grep -aq 'P9AUTH-VM: smoke exit 0' "$console" || bad "smoke test failed or did not run"
grep -aEq '^smoke: [0-9]+ passed, 0 failed' "$console" || bad "smoke test summary missing or has failures"
if [ -n "$suite" ]; then
  grep -aq 'P9AUTH-VM: suite exit 0' "$console" || bad "conformance suite failed or did not finish"
  grep -aEq '^[1-9][0-9]* passed, 0 failed' "$console" || bad "conformance summary missing or has failures"
else
  echo "run-vm-tests: NOTE: --smoke-only: the conformance suite did not run"
fi
if [ ${#login_bins[@]} = 3 ]; then vm_login_verdict "$console"; fi
# A use leaves an audit record: AUDIT_KERNEL_OTHER (1316) out of tree,
# AUDIT_P9AUTH (1340) in tree.
grep -aEq 'type=13(16|40) .*op=p9auth_use old_uid=[0-9]+ old_gid=[0-9]+ uid=[0-9]+ gid=[0-9]+ res=1' "$console" ||
  bad "no audit record of a use"
grep -aq 'P9AUTH-VM: left mounted' "$console" && bad "a case left a mount behind"
if [ -n "$module" ]; then grep -aq 'P9AUTH-VM: module removed' "$console" || bad "rmmod failed"; fi
grep -aq 'P9AUTH-VM: done' "$console" || bad "the VM did not reach the end"
if vm_kernel_errors "$console"; then bad "the kernel logged a warning, an oops, a BUG or a stall"; fi
if vm_taint_bad "$console"; then bad "the kernel is tainted by more than an out-of-tree unsigned module"; fi
# Nothing secret in the kernel log: no key of the smoke vectors.
if grep -a '^\[ *[0-9]*\.[0-9]*\]' "$console" | grep -a 'smokekey'; then bad "a key reached the kernel log"; fi
if [ $fail = 0 ]; then vm_log "PASS"; else vm_log "see $console"; fi
exit $fail
