#!/usr/bin/env bash
# The system test: p9authfs as a Debian admin gets it. Builds the .debs
# (scripts/build-debs.sh), makes a stock Debian 12 image with mmdebstrap
# (cached under BUILD_DIR/system-image), boots it under qemu with systemd as
# PID 1 and, in the booted guest, runs one stage a boot:
#
#   install  apt installs the .debs, adduser/chpasswd make alice and bob,
#            the units are enabled as the README says; alice `p9su - bob` on
#            a pty (who shows it, passwd works in it), bob over TCP through
#            the socket-activated p9logind, a login after
#            `systemctl restart factotum`
#   reboot   after a reboot: the units come up, logins work
#   kernel   p9auth-dkms built and loaded, the mount unit switched to the
#            module, p9use without file capabilities: logins work
#   purge    after a reboot in kernel mode, a login; `apt purge` leaves no
#            unit, file or mount behind
#
# and after every stage: no failed unit, nothing refused by seccomp, no
# kernel warning. The guest writes TAP lines to the share; this script
# fails when a line says "not ok", when a stage did not finish, or when the
# kernel complained.
#
#   tests/system/run.sh BUILD_DIR [STAGE...]
#
# P9AUTH_SYSTEM_TIMEOUT: seconds one boot may take (default 900).
# Exit status: 0 all passed; 1 a failure; 2 usage; 77 qemu cannot run here.
set -euo pipefail
sys_here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$sys_here/../.." && pwd)
[[ $# -ge 1 ]] || { echo "usage: $0 BUILD_DIR [STAGE...]" >&2; exit 2; }
mkdir -p "$1"
build=$(cd "$1" && pwd)
shift
stages=("$@")
((${#stages[@]})) || stages=(install reboot kernel purge)
sys_log() { echo "system-test: $*"; }
# shellcheck source-path=SCRIPTDIR source=image.sh
. "$sys_here/image.sh"

[[ $(id -u) == 0 ]] || { echo "system-test: run as root (it builds an image with mmdebstrap)" >&2; exit 2; }
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
if ((${#need[@]})); then
    sys_log "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [[ $(uname -m) != x86_64 ]]; then
    echo "SKIP: the system test boots an amd64 image; this is $(uname -m)" >&2
    exit 77
fi

work=$build/system-vm
rm -rf "$work" && mkdir -p "$work/share/debs"
# The .debs, cached by the source they are built from (tests/ is not in
# them), so a change to the guest's stages alone boots again at once.
src_key=$(cd "$top" && git ls-files -z --cached --others --exclude-standard -- . ':!tests' |
    xargs -0 sha256sum 2>/dev/null | sha256sum | cut -c1-16)
debs_cache=$build/system-debs/$src_key
if ! compgen -G "$debs_cache/*.deb" >/dev/null; then
    sys_log "building the .debs"
    rm -rf "$build/system-debs" && mkdir -p "$debs_cache"
    "$top/scripts/build-debs.sh" "$debs_cache" >"$work/build-debs.log" 2>&1 ||
        { tail -40 "$work/build-debs.log"; sys_log "building the packages failed"; rm -rf "$debs_cache"; exit 1; }
else
    sys_log "the .debs of this source ($src_key, cached)"
fi
cp "$debs_cache"/*.deb "$work/share/debs/"
debs=("$work"/share/debs/*.deb)
sys_image "$build/system-image" "${debs[@]}"

cp -r "$sys_here/guest" "$work/share/guest"
# The guest's disk: a copy-on-write overlay, so the cached image stays stock.
qemu-img create -q -f qcow2 -b "$sys_disk" -F raw "$work/disk.qcow2"

fail=0
for stage in "${stages[@]}"; do
    echo "$stage" >"$work/share/stage"
    rm -f "$work/share/results-$stage"
    console=$work/console-$stage.log
    sys_log "booting for stage $stage"
    start=$(date +%s)
    rc=0
    # TCG: /dev/kvm exists on these hosts but hangs (tests/kernel/vm-lib.sh).
    timeout --kill-after=10 "${P9AUTH_SYSTEM_TIMEOUT:-900}" \
        qemu-system-x86_64 -machine accel=tcg -cpu max -smp 2 -m 2048 \
        -nographic -no-reboot -monitor none -serial "file:$console" -display none -nic none \
        -drive "file=$work/disk.qcow2,if=virtio,format=qcow2" \
        -virtfs "local,path=$work/share,mount_tag=p9share,security_model=none,id=p9share" \
        -kernel "$sys_kernel" -initrd "$sys_initrd" \
        -append "root=/dev/vda rw console=ttyS0 panic=-1 systemd.show_status=0" \
        </dev/null >"$work/qemu-$stage.log" 2>&1 || rc=$?
    sys_log "stage $stage: qemu ended ($rc) after $(($(date +%s) - start)) s"
    results=$work/share/results-$stage
    if [[ -f $results ]]; then sed "s/^/  [$stage] /" "$results"; fi
    if [[ ! -f $results ]] || ! grep -qx "# stage $stage done" "$results"; then
        sys_log "stage $stage did not finish; the console's last lines:"
        tail -40 "$console" | tr -d '\r' | sed 's/^/  | /'
        fail=1
        break
    fi
    if grep -q '^not ok' "$results"; then fail=1; fi
    if grep -aE 'WARNING:|Oops|BUG:|kernel BUG|Call Trace|Kernel panic|general protection' "$console"; then
        sys_log "stage $stage: the kernel complained (see $console)"
        fail=1
    fi
    ((fail == 0)) || break
done
passed=$(cat "$work"/share/results-* 2>/dev/null | grep -c '^ok' || true)
failed=$(cat "$work"/share/results-* 2>/dev/null | grep -c '^not ok' || true)
echo "system-test: $passed passed, $failed failed"
exit "$fail"
