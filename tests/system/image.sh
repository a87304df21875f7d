# shellcheck shell=bash
# Sourced by tests/system/run.sh: makes (or reuses) the stock Debian 12 base
# image the system test boots. Not run on its own.
#
# The image is what `mmdebstrap --variant=important` makes through the
# host's own apt sources, plus systemd as PID 1, libnss-systemd (so
# nsswitch.conf says `passwd: files systemd`, as on every stock system),
# Debian's kernel and headers (for DKMS), the run-time dependencies of our
# packages (so apt installs them in the guest without a network), and the
# tools the test drives them with. Nothing of p9authfs is in it: the test
# installs the .debs with apt in the booted guest, as an admin would.
#
# The only change to the stock system is one unit, p9-system-test.service,
# that mounts the host's share (virtio 9p) and runs the stage the host chose.
: "${sys_here:?image.sh is sourced by run.sh, which sets sys_here}"

# What the guest has besides our packages' own dependencies.
sys_base_packages=(
    systemd systemd-sysv libnss-systemd dbus
    linux-image-amd64 linux-headers-amd64
    python3 socat sudo adduser passwd
)

# sys_deb_depends DEB...: the packages those .debs depend on, minus each
# other: first alternative, no versions.
sys_deb_depends() {
    local deb own=() d
    for deb in "$@"; do own+=("$(dpkg-deb -f "$deb" Package)"); done
    for deb in "$@"; do
        for d in Depends Pre-Depends; do dpkg-deb -f "$deb" "$d"; done
    done | tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/:any//' -e 's/[[:space:]]//g' -e '/^$/d' |
        grep -vxF -f <(printf '%s\n' "${own[@]}") | LC_ALL=C sort -u
}

# sys_image CACHE DEB...: sets sys_disk (raw ext4 root), sys_kernel,
# sys_initrd; builds them into CACHE when no image for this package set
# is there yet.
sys_image() {
    local cache=$1; shift
    local pkgs key dir root
    mapfile -t pkgs < <({ printf '%s\n' "${sys_base_packages[@]}"; sys_deb_depends "$@"; } | LC_ALL=C sort -u)
    # The key changes when the package set or this file changes.
    key=$({ printf '%s\n' "${pkgs[@]}"; cat "${BASH_SOURCE[0]}" "$sys_here/guest/p9-system-test.service"; } | sha256sum | cut -c1-16)
    dir=$cache/base-$key
    sys_disk=$dir/root.ext4 sys_kernel=$dir/vmlinuz sys_initrd=$dir/initrd.img
    if [[ -s $sys_disk && -s $sys_kernel && -s $sys_initrd ]]; then
        sys_log "base image $key (cached)"
        return 0
    fi
    rm -rf "$cache"/base-* && mkdir -p "$dir"
    root=$dir/root
    sys_log "making a Debian 12 image with mmdebstrap (${#pkgs[@]} packages asked for; about two minutes)"
    local inc
    inc=$(IFS=,; echo "${pkgs[*]}")
    # The host's apt sources, so this works wherever install-deps does.
    local sources=/etc/apt/sources.list
    [[ -s /etc/apt/sources.list.d/debian.sources ]] && sources=/etc/apt/sources.list.d/debian.sources
    if ! mmdebstrap --variant=important --mode=root --format=directory --include="$inc" \
        --customize-hook='echo p9test >"$1/etc/hostname"' \
        --customize-hook='printf "/dev/vda / ext4 defaults 0 1\n" >"$1/etc/fstab"' \
        --customize-hook="copy-in $sys_here/guest/p9-system-test.service /etc/systemd/system" \
        --customize-hook='chroot "$1" systemctl enable p9-system-test.service' \
        bookworm "$root" "$sources" </dev/null >"$dir/mmdebstrap.log" 2>&1; then
        tail -30 "$dir/mmdebstrap.log"
        sys_log "mmdebstrap failed (log: $dir/mmdebstrap.log)"
        return 1
    fi
    cp "$root"/boot/vmlinuz-* "$sys_kernel"
    cp "$root"/boot/initrd.img-* "$sys_initrd"
    # An ext4 file system made from the directory, without a loop device.
    truncate -s 6G "$dir/root.tmp"
    mkfs.ext4 -q -F -L p9root -d "$root" "$dir/root.tmp"
    mv "$dir/root.tmp" "$sys_disk"
    rm -rf "$root"
    sys_log "base image $key made"
}
