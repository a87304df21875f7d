#include "sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace p9auth::factotum {

int sd_notify_send(const std::string& state, const std::vector<int>& fds) {
    const char* where = std::getenv("NOTIFY_SOCKET");
    if (!where || !*where) return 0;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::size_t len = std::strlen(where);
    // A path, or '@' for the abstract namespace (a leading NUL on the wire).
    if ((where[0] != '/' && where[0] != '@') || len >= sizeof addr.sun_path) return EINVAL;
    std::memcpy(addr.sun_path, where, len);
    if (where[0] == '@') addr.sun_path[0] = '\0';
    const auto addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
    if (fds.size() > 16) return EINVAL;

    int s = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return errno;
    iovec iov{const_cast<char*>(state.data()), state.size()};
    msghdr msg{};
    msg.msg_name = &addr;
    msg.msg_namelen = addr_len;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 16)]{};
    if (!fds.empty()) {
        const std::size_t bytes = sizeof(int) * fds.size();
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(bytes);
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(bytes);
        std::memcpy(CMSG_DATA(c), fds.data(), bytes);
    }
    ssize_t n;
    do n = ::sendmsg(s, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    int e = n < 0 ? errno : 0;
    ::close(s);
    return e;
}

}  // namespace p9auth::factotum
