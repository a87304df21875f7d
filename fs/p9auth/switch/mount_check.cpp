// Every check of the mount, one screen each. Anything we cannot prove is a
// refusal. The mount is identified by its mount id (statx), never by path
// alone, and described by the kernel (/proc/self/mountinfo on a procfs).
#include "mount_check.hpp"

#include "fs_magic.hpp"
#include "p9auth_spec.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/stat.h>  // struct statx with stx_mnt_id (glibc's lacks it)
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

namespace p9use {
namespace {

constexpr long kFuseMagic = p9auth::kFuseSuperMagic;
constexpr long kP9authMagic = p9auth::kP9authSuperMagic;
constexpr std::size_t kMaxMountinfo = 64u << 20;

using p9auth::fail;

struct Fd {
    int fd = -1;
    explicit Fd(int f) : fd(f) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
    int release() { return std::exchange(fd, -1); }
};

// errno, said so that a person knows what to do.
std::string why(int err, const std::string& mountpoint) {
    if (err == ENOTCONN)
        return "the p9authfs daemon serving " + mountpoint + " is gone (" + std::strerror(err) +
               "); unmount it and restart p9authfs";
    if (err == ENOENT)
        return std::string(std::strerror(err)) + "; is the p9auth filesystem mounted at " + mountpoint + "?";
    return std::strerror(err);
}

struct Statx {
    std::uint64_t mnt_id = 0;
    bool mount_root = false;
    mode_t mode = 0;
};

// From the inode the descriptor holds; AT_STATX_DONT_SYNC: nothing here needs the daemon.
int statx_of(int fd, Statx* out) {
    struct statx sx {};
    if (::syscall(SYS_statx, fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE | STATX_MNT_ID, &sx) != 0)
        return errno;
    if (!(sx.stx_mask & STATX_MNT_ID) || !(sx.stx_mask & STATX_TYPE)) return ENOSYS;  // kernel before 5.8
    out->mnt_id = sx.stx_mnt_id;
    out->mount_root = (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
    out->mode = sx.stx_mode;
    return 0;
}

bool on_procfs(int fd) {
    struct statfs sfs {};
    return ::fstatfs(fd, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC;
}

// The whole of /proc/self/mountinfo, after checking that /proc and the file are procfs.
p9auth::Expected<std::string> read_mountinfo() {
    Fd proc{::open("/proc", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
    if (proc.fd < 0 || !on_procfs(proc.fd))
        return fail(EPERM, "/proc is not a procfs mount (is /proc mounted?): cannot verify the mount");
    Fd f{::openat(proc.fd, "self/mountinfo", O_RDONLY | O_CLOEXEC | O_NOCTTY)};
    if (f.fd < 0) return fail(errno, "cannot open /proc/self/mountinfo: " + std::string(std::strerror(errno)));
    if (!on_procfs(f.fd)) return fail(EPERM, "/proc/self/mountinfo is not on procfs: cannot verify the mount");
    std::string text;
    char buf[8192];
    for (ssize_t n; (n = ::read(f.fd, buf, sizeof buf)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(errno, "cannot read /proc/self/mountinfo: " + std::string(std::strerror(errno)));
        text.append(buf, static_cast<std::size_t>(n));
        if (text.size() > kMaxMountinfo) return fail(EFBIG, "/proc/self/mountinfo is unreasonably large");
    }
    return text;
}

}  // namespace

p9auth::Expected<Capuse> open_authentic_capuse(const std::string& mountpoint) {
    Fd dir{::open(mountpoint.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
    if (dir.fd < 0) return fail(errno, mountpoint + ": " + why(errno, mountpoint));
    Statx d;
    if (int err = statx_of(dir.fd, &d))
        return fail(EPERM, "cannot read the mount id of " + mountpoint + ": " + why(err, mountpoint));
    if (!d.mount_root) return fail(EPERM, mountpoint + " is not a mount point; is the p9auth filesystem mounted?");

    auto text = read_mountinfo();
    if (!text) return text.error();
    auto line = find_mount(*text, d.mnt_id);
    if (!line) return line.error();
    if (line->root != "/" || line->mountpoint != mountpoint)
        return fail(EPERM, "the mount at " + mountpoint +
                               " is not the root of a filesystem mounted at that path "
                               "(mounted at " +
                               line->mountpoint + ", root " + line->root + ")");
    auto mode = mode_of(*line, mountpoint);
    if (!mode) return mode.error();

    Fd use{::openat(dir.fd, P9AUTH_FILE_CAPUSE, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)};
    if (use.fd < 0) return fail(errno, mountpoint + "/capuse: " + why(errno, mountpoint));
    struct statfs sfs {};
    if (::fstatfs(use.fd, &sfs) != 0) return fail(errno, mountpoint + "/capuse: " + why(errno, mountpoint));
    const long want = *mode == Mode::fuse ? kFuseMagic : kP9authMagic;
    if (static_cast<long>(sfs.f_type) != want)
        return fail(EPERM, mountpoint + "/capuse has the wrong filesystem magic");
    Statx u;
    if (statx_of(use.fd, &u) != 0 || u.mnt_id != d.mnt_id || !S_ISREG(u.mode))
        return fail(EPERM, mountpoint + "/capuse is not a file on the mount that was checked");
    return Capuse{use.release(), *mode};
}

}  // namespace p9use
