# shellcheck shell=bash disable=SC2034,SC2154
# (variables cross between this file and the scripts that source it)
# Shared by tests/kernel/run-vm-tests.sh and bench/kernel/run-vm-bench.sh:
# what it takes to boot Debian's kernel under qemu with p9auth.ko.
# Sourced, not run.  Callers set: top (the source tree), work (a directory
# in the build tree), and may set vm_cache (where the kernel image is kept,
# default $work).  vm_prepare sets: abi, kdir, vmlinuz, module.

vm_log() { echo "${vm_name:-vm}: $*"; }

# Installs what is missing (Debian packages), unpacks the kernel image into
# $work (never into /boot), builds p9auth.ko out of the source tree; a
# compiler warning fails the build.
# P9AUTH_VM_KERNEL=BZIMAGE: boot that kernel instead, with p9auth built in
# (the upstream series, fs/p9auth/kernel/upstream/build-and-test.sh): no
# image is downloaded, no module built or loaded (module stays empty).
vm_prepare() {
  local need_pkgs=() image_pkg c dl
  command -v apt-cache >/dev/null || { echo "Debian's apt is needed" >&2; return 1; }
  command -v qemu-system-x86_64 >/dev/null || need_pkgs+=(qemu-system-x86)
  # busybox-static: a /bin/busybox that ldd calls "not a dynamic executable"
  if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then need_pkgs+=(busybox-static); fi
  command -v cpio >/dev/null || need_pkgs+=(cpio)
  command -v openssl >/dev/null || need_pkgs+=(openssl)
  command -v make >/dev/null || need_pkgs+=(make)
  command -v gcc >/dev/null || need_pkgs+=(gcc libc6-dev)
  command -v modinfo >/dev/null || need_pkgs+=(kmod)
  if [ -n "${P9AUTH_VM_KERNEL:-}" ]; then
    [ -s "$P9AUTH_VM_KERNEL" ] || { echo "P9AUTH_VM_KERNEL=$P9AUTH_VM_KERNEL: no such kernel image" >&2; return 1; }
    if [ ${#need_pkgs[@]} -gt 0 ]; then
      vm_log "installing ${need_pkgs[*]}"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
    fi
    vmlinuz=$P9AUTH_VM_KERNEL abi="built-in p9auth ($P9AUTH_VM_KERNEL)" module=""
    return 0
  fi
  # P9AUTH_VM_ABI (e.g. 6.12.111+deb12-amd64, from bookworm-backports):
  # that kernel instead of the one linux-image-amd64 names.  "6.12" means
  # the newest 6.12 whose headers are installed, else the newest apt has.
  # (Debian's 6.12 headers package depends on its image package, so apt
  # installs that too; the VM boots the copy unpacked below.)
  if [ "${P9AUTH_VM_ABI:-}" = 6.12 ]; then
    P9AUTH_VM_ABI=$(find /usr/src -maxdepth 1 -name 'linux-headers-6.12.*+deb12-amd64' -printf '%f\n' | sed 's/^linux-headers-//' | sort -V | tail -1)
    [ -n "$P9AUTH_VM_ABI" ] || P9AUTH_VM_ABI=$(apt-cache pkgnames linux-image-6.12 | grep -E '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' | sed 's/^linux-image-//' | sort -V | tail -1)
    [ -n "$P9AUTH_VM_ABI" ] || { echo "no Debian 6.12 kernel in the apt sources" >&2; return 1; }
  fi
  if [ -n "${P9AUTH_VM_ABI:-}" ]; then
    image_pkg=linux-image-$P9AUTH_VM_ABI
  else
    image_pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  fi
  if [ -z "$image_pkg" ]; then
    apt-get update -qq
    image_pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  fi
  [ -n "$image_pkg" ] || { echo "cannot resolve linux-image-amd64" >&2; return 1; }
  abi=${image_pkg#linux-image-}                      # e.g. 6.1.0-56-amd64
  kdir=/usr/src/linux-headers-$abi                   # the headers of that very image
  [ -d "$kdir" ] || need_pkgs+=("linux-headers-$abi")
  if [ ${#need_pkgs[@]} -gt 0 ]; then
    vm_log "installing ${need_pkgs[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  fi

  local cache=${vm_cache:-$work}
  mkdir -p "$cache"
  vmlinuz=$cache/vmlinuz-$abi
  if [ ! -s "$vmlinuz" ] || [ ! -s "$cache/config-$abi" ]; then
    vm_log "downloading $image_pkg"
    dl=$(mktemp -d "$cache/dl.XXXXXX")
    chmod 777 "$dl"                                  # apt-get download runs as _apt
    (cd "$dl" && apt-get download -q "$image_pkg" >/dev/null 2>&1)
    dpkg-deb --fsys-tarfile "$dl"/"$image_pkg"_*.deb |
      tar -x -C "$dl" "./boot/vmlinuz-$abi" "./boot/config-$abi"
    mv "$dl/boot/config-$abi" "$cache/config-$abi"
    mv "$dl/boot/vmlinuz-$abi" "$vmlinuz"
    rm -rf "$dl"
  fi
  # sha1 and the sha256 library must be built in: the initramfs carries no modules.
  for c in CONFIG_CRYPTO_SHA1 CONFIG_CRYPTO_LIB_SHA256; do
    grep -q "^$c=y" "$cache/config-$abi" || { echo "$c is not built into $abi" >&2; return 1; }
  done

  local mdir=$work/module
  rm -rf "$mdir" && mkdir -p "$mdir"
  cp "$top"/fs/p9auth/kernel/{Kbuild,Makefile,p9auth.c,p9auth_compat.h} "$top"/fs/p9auth/include/p9auth_spec.h "$mdir"/
  vm_log "building p9auth.ko against $kdir"
  make -s -C "$mdir" KDIR="$kdir" W=1 >"$work/build.log" 2>&1 || { cat "$work/build.log"; return 1; }
  if grep -E 'warning:|error:' "$work/build.log"; then echo "p9auth.ko: the build has warnings" >&2; return 1; fi
  modinfo -F vermagic "$mdir/p9auth.ko" | grep -q "^$abi " ||
    { echo "p9auth.ko: vermagic does not match $abi" >&2; return 1; }
  module=$mdir/p9auth.ko
}

# vm_initramfs ROOT OUT: ROOT holds /init and the programs; busybox is added.
vm_initramfs() {
  mkdir -p "$1"/{bin,proc,sys,dev,run,tmp,etc}
  cp /bin/busybox "$1/bin/busybox"
  [ -e "$1/etc/passwd" ] || printf 'root:x:0:0:root:/:/bin/sh\n' >"$1/etc/passwd"
  [ -e "$1/etc/group" ] || printf 'root:x:0:\n' >"$1/etc/group"
  (cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) >"$2"
}

# The first lines of every /init: busybox, /proc, /sys, /dev, a tmpfs /run.
vm_init_head() {
  cat <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs run /run
echo "P9AUTH-VM: booted $(uname -r)"
if [ ! -e /p9auth.ko ]; then
  if grep -q p9auth /proc/filesystems; then echo "P9AUTH-VM: built in"; else echo "P9AUTH-VM: not built in"; fi
elif insmod /p9auth.ko; then echo "P9AUTH-VM: module loaded"; else echo "P9AUTH-VM: insmod failed"; fi
EOF
}

# vm_boot INITRAMFS CONSOLE TIMEOUT: returns qemu's status (124: timed out).
# vm_append: more kernel command line.
# TCG only: /dev/kvm exists on these hosts but hangs.  /init ends with
# poweroff -f; panic=-1 and -no-reboot turn a panic into an exit as well.
vm_boot() {
  timeout --kill-after=10 "$3" \
    qemu-system-x86_64 -machine accel=tcg -cpu max -smp 2 -m 1024 \
      -nographic -no-reboot -monitor none -serial stdio -display none \
      -kernel "$vmlinuz" -initrd "$1" \
      -append "console=ttyS0 panic=-1 loglevel=7 rdinit=/init ${vm_append:-}" \
      </dev/null >"$2" 2>&1
}

# vm_kernel_errors CONSOLE: prints and succeeds when the kernel logged a
# warning, an oops, a BUG (also slub_debug's "BUG kmalloc-64 (...)"), a
# sanitizer report or a stall (RCU "detected stall", soft lockup).  The
# out-of-tree and unsigned-module taint messages are expected and do not
# match.
vm_kernel_errors() {
  grep -aE 'WARNING:|Oops|BUG:|BUG [a-z]|Out of memory|oom-kill|invoked oom-killer|kernel BUG|KASAN|UBSAN|KFENCE|general protection|Call Trace|Kernel panic|list_add corruption|list_del corruption|refcount_t:|INFO: task .* blocked|detected stall|soft lockup|hard LOCKUP' "$1"
}

# The line an /init prints last, before poweroff: the kernel's taint flags.
vm_init_taint() {
  echo 'echo "P9AUTH-VM: tainted $(cat /proc/sys/kernel/tainted)"'
}

# vm_taint_bad CONSOLE: prints and succeeds when the taint line is missing
# or names a flag other than O (4096, out-of-tree module) and E (8192,
# unsigned module): W (a warning), D (an oops), L (a soft lockup), ...
vm_taint_bad() {
  local t
  t=$(grep -a 'P9AUTH-VM: tainted ' "$1" | tail -1 | tr -d '\r' | awk '{print $3}')
  case $t in
    ''|*[!0-9]*) echo "no taint line in $1"; return 0 ;;
  esac
  if (( t & ~(4096 | 8192) )); then echo "the kernel is tainted: $t (allowed: 4096 O, 8192 E)"; return 0; fi
  return 1
}
