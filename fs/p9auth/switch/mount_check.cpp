// Every check of the mount, one screen each. Anything we cannot prove is a refusal.
#include "mount_check.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/stat.h>  // struct statx with stx_mnt_id (glibc's lacks it)
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace p9use {
namespace {

constexpr long kFuseMagic = 0x65735546;    // FUSE_SUPER_MAGIC
constexpr long kP9authMagic = 0x70396175;  // P9AUTH_SUPER_MAGIC (docs/spec.md section 10)

using p9auth::fail;

struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
    int release() { return std::exchange(fd, -1); }
};

bool mount_id_of(int fd, std::uint64_t* id, bool* is_mount_root) {
    struct statx sx{};
    if (::syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) != 0) return false;
    if (!(sx.stx_mask & STATX_MNT_ID)) return false;
    *id = sx.stx_mnt_id;
    if (is_mount_root)
        *is_mount_root = (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
    return true;
}

bool octal(char c) { return c >= '0' && c <= '7'; }

// mountinfo escapes ' ', '\t', '\n' and '\\' as octal.
std::string unescape(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() && octal(s[i + 1]) && octal(s[i + 2]) && octal(s[i + 3])) {
            out.push_back(static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
            i += 3;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> v;
    while (true) {
        const auto p = s.find(sep);
        v.push_back(s.substr(0, p));
        if (p == std::string_view::npos) return v;
        s = s.substr(p + 1);
    }
}

struct MountLine {
    std::string root, mountpoint, fstype, superopts;
};

// The line of /proc/self/mountinfo for mount id `id`, read from a procfs we checked.
p9auth::Expected<MountLine> mountinfo_of(std::uint64_t id) {
    Fd f{::open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC)};
    if (f.fd < 0) return fail(errno, "cannot open /proc/self/mountinfo: " + std::string(std::strerror(errno)));
    struct statfs sfs{};
    if (::fstatfs(f.fd, &sfs) != 0 || sfs.f_type != PROC_SUPER_MAGIC)
        return fail(EPERM, "/proc is not procfs: cannot verify the mount");
    std::string text;
    char buf[8192];
    for (ssize_t n; (n = ::read(f.fd, buf, sizeof buf)) != 0;) {
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail(errno, "cannot read /proc/self/mountinfo");
        }
        text.append(buf, static_cast<std::size_t>(n));
        if (text.size() > (64u << 20)) return fail(EFBIG, "/proc/self/mountinfo is unreasonably large");
    }
    const std::string want = std::to_string(id);
    for (std::string_view line : split(text, '\n')) {
        const auto f1 = split(line, ' ');
        if (f1.size() < 10 || f1[0] != want) continue;
        std::size_t dash = 6;
        while (dash < f1.size() && f1[dash] != "-") ++dash;
        if (dash + 3 >= f1.size()) return fail(EPERM, "cannot parse /proc/self/mountinfo");
        return MountLine{unescape(f1[3]), unescape(f1[4]), std::string(f1[dash + 1]), std::string(f1[dash + 3])};
    }
    return fail(EPERM, "mount " + want + " is not in /proc/self/mountinfo");
}

bool has_option(std::string_view opts, std::string_view want) {
    for (auto o : split(opts, ','))
        if (o == want) return true;
    return false;
}

}  // namespace

p9auth::Expected<Capuse> open_authentic_capuse(const std::string& mountpoint) {
    Fd dir{::open(mountpoint.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
    if (dir.fd < 0)
        return fail(errno, mountpoint + ": " + std::strerror(errno) + "; is the p9auth filesystem mounted?");
    std::uint64_t mnt = 0;
    bool is_root = false;
    if (!mount_id_of(dir.fd, &mnt, &is_root)) return fail(EPERM, "cannot read the mount id of " + mountpoint);
    if (!is_root) return fail(EPERM, mountpoint + " is not a mount point; is the p9auth filesystem mounted?");

    auto line = mountinfo_of(mnt);
    if (!line) return line.error();
    if (line->mountpoint != mountpoint || line->root != "/")
        return fail(EPERM, "the mount at " + mountpoint + " is not the root of a mount at that path");

    Capuse c;
    if (line->fstype == "fuse.p9authfs") {
        if (!has_option(line->superopts, "user_id=0"))
            return fail(EPERM, mountpoint + " is a p9authfs mount not made by root: refusing it");
        c.mode = Mode::fuse;
    } else if (line->fstype == "p9auth") {
        c.mode = Mode::kernel;
    } else {
        return fail(EPERM, mountpoint + " is not a p9auth filesystem (fstype " + line->fstype +
                               "); is p9authfs running?");
    }

    Fd use{::openat(dir.fd, "capuse", O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)};
    if (use.fd < 0) return fail(errno, mountpoint + "/capuse: " + std::strerror(errno));
    struct statfs sfs{};
    if (::fstatfs(use.fd, &sfs) != 0)
        return fail(errno, mountpoint + "/capuse: " + std::strerror(errno) + " (is the filesystem gone?)");
    const long want = c.mode == Mode::fuse ? kFuseMagic : kP9authMagic;
    if (static_cast<long>(sfs.f_type) != want) return fail(EPERM, mountpoint + "/capuse has the wrong filesystem magic");
    std::uint64_t file_mnt = 0;
    if (!mount_id_of(use.fd, &file_mnt, nullptr) || file_mnt != mnt)
        return fail(EPERM, mountpoint + "/capuse is not on the mount that was checked");
    c.fd = use.release();
    return c;
}

}  // namespace p9use
