#include "listen.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "fs_magic.hpp"

namespace p9auth::factotum {
namespace {

constexpr int kListenFdsStart = 3;  // SD_LISTEN_FDS_START

std::optional<long> env_number(const char* name) {
    const char* v = std::getenv(name);
    if (!v || !*v) return std::nullopt;
    long n = 0;
    auto [p, ec] = std::from_chars(v, v + std::strlen(v), n);
    if (ec != std::errc() || *p) return std::nullopt;
    return n;
}

// Whether a factotum already serves on path: a connect() that succeeds, or
// that finds the backlog full (EAGAIN), means a listener. ECONNREFUSED (no
// one listens on that inode) means stale. The probe connects non-blocking,
// so a wedged listener cannot hold the start-up.
Error refuse_if_served(const std::string& path, const sockaddr_un& addr) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return fail(errno, std::string("socket: ") + std::strerror(errno));
    int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    int e = rc == 0 ? 0 : errno;
    ::close(fd);
    if (rc == 0 || e == EAGAIN || e == EINPROGRESS)
        return fail(EADDRINUSE, "factotum already serving on " + path + "; not replacing its socket");
    if (e == ECONNREFUSED || e == ENOENT) return Error::ok();
    return fail(e, "probe " + path + ": " + std::strerror(e) + "; not replacing it");
}

}  // namespace

Expected<SystemdFds> fds_from_systemd() {
    auto pid = env_number("LISTEN_PID");
    auto fds = env_number("LISTEN_FDS");
    const char* names_env = std::getenv("LISTEN_FDNAMES");
    std::string names = names_env ? names_env : "";
    ::unsetenv("LISTEN_PID");
    ::unsetenv("LISTEN_FDS");
    ::unsetenv("LISTEN_FDNAMES");
    SystemdFds out;
    if (!pid || !fds || *pid != ::getpid()) return out;  // meant for another process
    if (*fds < 1 || *fds > 16) return fail(EINVAL, "LISTEN_FDS=" + std::to_string(*fds) + ": expected 1..16");
    for (int fd = kListenFdsStart; fd < kListenFdsStart + *fds; ++fd) {
        // LISTEN_FDNAMES: one name per descriptor, ':'-separated, in order.
        std::string name = names.substr(0, names.find(':'));
        names.erase(0, name.size() + (names.size() > name.size() ? 1 : 0));
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
        if (name == "caphash") {
            if (out.caphash >= 0) return fail(EINVAL, "socket activation: more than one descriptor named caphash");
            out.caphash = fd;
            continue;
        }
        int type = 0, listening = 0, domain = 0;
        socklen_t len = sizeof type;
        bool ok = ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
        len = sizeof listening;
        ok = ok && ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening;
        len = sizeof domain;
        ok = ok && ::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == AF_UNIX;
        if (!ok)
            return fail(EINVAL, "socket activation: descriptor " + std::to_string(fd) +
                                    " is not a listening Unix stream socket (ListenStream= a path)");
        out.sockets.push_back(fd);
    }
    return out;
}

Error check_stored_caphash(int fd, const std::string& caphash) {
    const std::string what = "the stored caphash descriptor " + std::to_string(fd);
    int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0 || (fl & O_ACCMODE) != O_WRONLY) return fail(EBADF, what + " is not open write-only");
    if (int e = p9auth_filesystem_check(fd))
        return fail(
            e, what + (e == EPERM ? " is not on a p9auth filesystem" : ": fstatfs: " + std::string(std::strerror(e))));
    // The caphash of the mount we were told to grant on, not a stale one
    // from a mount since replaced: same device, same inode.
    struct stat held {
    }, named{};
    if (::fstat(fd, &held) != 0) return fail(errno, what + ": fstat: " + std::strerror(errno));
    if (::stat(caphash.c_str(), &named) != 0) return fail(errno, caphash + ": " + std::strerror(errno));
    if (!S_ISREG(held.st_mode) || held.st_dev != named.st_dev || held.st_ino != named.st_ino)
        return fail(ESTALE, what + " is not " + caphash + " of the mount there now");
    return Error::ok();
}

Expected<int> bind_socket(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof addr.sun_path) return fail(ENAMETOOLONG, "socket path too long: " + path);
    std::memcpy(addr.sun_path, path.data(), path.size());
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) return fail(EEXIST, path + " exists and is not a socket; not replacing it");
        // A socket someone still listens on belongs to a running factotum
        // (a second start by mistake): leave it alone. Only a stale one,
        // which refuses connections, is replaced.
        if (Error e = refuse_if_served(path, addr)) return e;
        if (::unlink(path.c_str()) != 0 && errno != ENOENT)
            return fail(errno, "remove stale socket " + path + ": " + std::strerror(errno));
    }
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return fail(errno, std::string("socket: ") + std::strerror(errno));
    mode_t old = ::umask(0111);
    int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    int e = errno;
    ::umask(old);
    if (rc != 0 || ::chmod(path.c_str(), 0666) != 0 || ::listen(fd, 256) != 0) {
        if (rc == 0) e = errno;
        ::close(fd);
        return fail(e, "bind/listen " + path + ": " + std::strerror(e));
    }
    return fd;
}

}  // namespace p9auth::factotum
