#include "opener_creds.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <string>
#include <vector>

namespace p9authfs {
namespace {

using p9auth::Error;
using p9auth::Expected;
using p9auth::fail;

Expected<UserNamespaceId> user_namespace_of(const std::string& proc_dir) {
    struct stat st {};
    const std::string path = proc_dir + "/ns/user";
    if (::stat(path.c_str(), &st) != 0) return fail(errno, "cannot stat " + path + ": " + std::strerror(errno));
    return UserNamespaceId{st.st_dev, st.st_ino};
}

// The whole of a small /proc file. An fd, so that it is closed on every path.
Expected<std::string> read_small_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(errno, "cannot open " + path + ": " + std::strerror(errno));
    std::string text;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int e = errno;
            ::close(fd);
            return fail(e, "cannot read " + path + ": " + std::strerror(e));
        }
        if (n == 0) break;
        text.append(buf, static_cast<std::size_t>(n));
        if (text.size() > (1u << 20)) break;  // /proc status is a few KB; never grow without bound
    }
    ::close(fd);
    return text;
}

// The value of "Name:\t..." in /proc status text, or an empty view.
std::string_view field(std::string_view text, std::string_view name) {
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t end = std::min(text.find('\n', pos), text.size());
        const std::string_view line = text.substr(pos, end - pos);
        if (line.size() > name.size() && line.substr(0, name.size()) == name && line[name.size()] == ':')
            return line.substr(name.size() + 1);
        pos = end + 1;
    }
    return {};
}

// The N-th (0-based) white-space separated word of s.
std::string_view word(std::string_view s, int n) {
    for (;;) {
        const std::size_t b = s.find_first_not_of(" \t");
        if (b == std::string_view::npos) return {};
        s = s.substr(b);
        const std::size_t e = std::min(s.find_first_of(" \t"), s.size());
        if (n-- == 0) return s.substr(0, e);
        s = s.substr(e);
    }
}

template <class T>
bool number(std::string_view s, T* out, int base = 10) {
    const auto r = std::from_chars(s.data(), s.data() + s.size(), *out, base);
    return !s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size();
}

Expected<std::vector<gid_t>> request_groups(fuse_req_t req) {
    std::vector<gid_t> groups(64);
    for (int tries = 0; tries < 4; ++tries) {
        const int n = fuse_req_getgroups(req, static_cast<int>(groups.size()), groups.data());
        if (n < 0) return fail(-n, std::string("cannot read the opener's groups: ") + std::strerror(-n));
        if (static_cast<std::size_t>(n) <= groups.size()) {
            groups.resize(static_cast<std::size_t>(n));
            return groups;
        }
        groups.resize(static_cast<std::size_t>(n));  // it grew: ask again with room for all
    }
    return fail(EAGAIN, "the opener's groups kept changing");
}

}  // namespace

Expected<UserNamespaceId> mount_user_namespace() {
    char self[32] = {};
    const ssize_t n = ::readlink("/proc/self", self, sizeof self - 1);
    if (n < 0)
        return fail(errno, std::string("cannot read /proc/self (p9authfs needs /proc): ") + std::strerror(errno));
    if (std::string_view(self, static_cast<std::size_t>(n)) != std::to_string(::getpid()))
        return fail(EINVAL,
                    "/proc is not the procfs of this pid namespace (mount a fresh /proc, e.g. "
                    "unshare --pid --mount-proc)");
    return user_namespace_of("/proc/self");
}

Expected<ProcStatus> parse_proc_status(std::string_view text) {
    ProcStatus st;
    // Uid and Gid: real, effective, saved, filesystem.
    for (int i = 0; i < 4; ++i) {
        if (!number(word(field(text, "Uid"), i), &st.uid[i])) return fail(EINVAL, "no Uid line");
        if (!number(word(field(text, "Gid"), i), &st.gid[i])) return fail(EINVAL, "no Gid line");
    }
    if (!number(word(field(text, "CapEff"), 0), &st.cap_effective, 16)) return fail(EINVAL, "no CapEff line");
    return st;
}

Expected<Opener> inspect_opener(fuse_req_t req, const UserNamespaceId& mount_ns) {
    const fuse_ctx* ctx = fuse_req_ctx(req);
    if (ctx->pid == 0) return fail(EPERM, "the opener is in a pid namespace this daemon cannot see");
    // ctx->pid is the requesting thread's id; /proc/TID/status is that thread's.
    const std::string dir = "/proc/" + std::to_string(ctx->pid);
    // Capabilities count only in the mount's own user namespace. Where we
    // cannot tell (the kernel hides ns/user from us), they do not count.
    // Read before the status, whose ids then confirm the pid still names
    // the opener.
    auto ns = user_namespace_of(dir);
    auto text = read_small_file(dir + "/status");
    if (!text) return fail(EPERM, "cannot read the opener's status: " + text.error().message);
    auto st = parse_proc_status(*text);
    if (!st) return fail(EPERM, "cannot parse " + dir + "/status: " + st.error().message);
    // The ids the request carries are the thread's fs ids. If /proc says
    // otherwise the pid was reused or the thread changed ids meanwhile:
    // judge nobody on somebody else's status.
    if (st->uid[ProcStatus::fs] != ctx->uid || st->gid[ProcStatus::fs] != ctx->gid)
        return fail(EPERM, "the opener's ids changed while it was being checked");
    return Opener{*st, ns && *ns == mount_ns};
}

p9auth::Error refuse_acting_for_another(const Opener& who) {
    const ProcStatus& st = who.status;
    const auto all_equal = [](const auto& ids) {
        return ids[ProcStatus::real] == ids[ProcStatus::effective] && ids[ProcStatus::real] == ids[ProcStatus::saved];
    };
    // The fs ids may differ: factotum opens caphash as root with the fsuid
    // of its grant_uid= user, and may hold no more than it already does.
    if (!all_equal(st.uid) || !all_equal(st.gid))
        return fail(EPERM,
                    "the opener is set-id (its real, effective and saved ids differ), as a set-uid mount "
                    "helper acting for its caller is");
    if (who.in_mount_ns && (st.cap_effective & (1ull << CAP_SYS_ADMIN)) && st.uid[ProcStatus::effective] != 0)
        return fail(EPERM,
                    "the opener may mount (CAP_SYS_ADMIN) but is not uid 0, as a mount helper acting for its "
                    "caller is");
    return p9auth::Error::ok();
}

Expected<p9auth::OpenerCreds> opener_creds(fuse_req_t req, const Opener& opener) {
    const fuse_ctx* ctx = fuse_req_ctx(req);
    p9auth::OpenerCreds who;
    who.uid = ctx->uid;
    who.gid = ctx->gid;
    auto groups = request_groups(req);
    if (!groups) return fail(EPERM, groups.error().message);
    who.groups = std::move(*groups);
    constexpr std::uint64_t need = (1ull << CAP_SETUID) | (1ull << CAP_SETGID);
    who.has_setuid_and_setgid = opener.in_mount_ns && (opener.status.cap_effective & need) == need;
    return who;
}

}  // namespace p9authfs
