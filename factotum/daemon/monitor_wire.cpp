#include "monitor_wire.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "admit.hpp"

namespace p9auth::factotum::mon {

const Rule* admit(Type type, std::size_t payload_len, bool has_fd, State state, std::string* why) {
    const Rule* r = admit_row(
        kMonitorTable, type, payload_len, [state](const Rule& row) { return row.when == state; }, why);
    if (r && has_fd != r->takes_fd) {
        *why = std::string("'") + r->name + (r->takes_fd ? "' without its descriptor" : "' with a descriptor");
        return nullptr;
    }
    return r;
}

namespace {

void put_string(std::string& out, std::string_view s) {
    const std::size_t n = std::min<std::size_t>(s.size(), 0xffff);
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xff));
    out.append(s.data(), n);
}

bool get_string(std::string_view& in, std::string_view* s) {
    if (in.size() < 2) return false;
    const std::size_t n =
        (static_cast<std::size_t>(static_cast<std::uint8_t>(in[0])) << 8) | static_cast<std::uint8_t>(in[1]);
    if (in.size() - 2 < n) return false;
    *s = in.substr(2, n);
    in.remove_prefix(2 + n);
    return true;
}

}  // namespace

std::string encode_verdict(const Verdict& v) {
    std::string out;
    out.push_back(v.granted ? 1 : 0);
    out.push_back(static_cast<char>(v.refusal));
    out.push_back(static_cast<char>(v.throttle));
    out.push_back(v.quiet ? 1 : 0);
    put_string(out, v.shown);
    put_string(out, v.reason);
    put_string(out, v.to_client);
    put_string(out, v.capability.view());
    return out;
}

std::optional<Verdict> decode_verdict(std::string_view in) {
    if (in.size() < 4) return std::nullopt;
    Verdict v;
    v.granted = in[0] == 1;
    v.refusal = static_cast<wire::Refusal>(in[1]);
    v.throttle = static_cast<Verdict::Throttle>(in[2]);
    v.quiet = in[3] == 1;
    if (static_cast<std::uint8_t>(in[2]) > 2) return std::nullopt;
    in.remove_prefix(4);
    std::string_view shown, reason, to_client, cap;
    if (!get_string(in, &shown) || !get_string(in, &reason) || !get_string(in, &to_client) || !get_string(in, &cap) ||
        !in.empty())
        return std::nullopt;
    v.shown = shown;
    v.reason = reason;
    v.to_client = to_client;
    v.capability = SecretString(cap);
    if (v.granted != !v.capability.empty()) return std::nullopt;
    return v;
}

std::string encode_begin(const Begin& b) {
    std::string out = b.target;
    out.push_back('\0');
    out += b.origin.tty;
    out.push_back('\0');
    out += b.origin.rhost;
    return out;
}

std::optional<Begin> decode_begin(std::string_view in, std::string* why) {
    const auto a = in.find('\0');
    const auto b = a == std::string_view::npos ? a : in.find('\0', a + 1);
    if (b == std::string_view::npos || in.find('\0', b + 1) != std::string_view::npos) {
        *why = "begin is not three fields";
        return std::nullopt;
    }
    Begin out;
    out.target = in.substr(0, a);
    out.origin.tty = in.substr(a + 1, b - a - 1);
    out.origin.rhost = in.substr(b + 1);
    if (!wire::valid_user_name(out.target)) {
        *why = "malformed user name";
        return std::nullopt;
    }
    if (std::string e = wire::check_origin_tty(out.origin.tty); !e.empty()) {
        *why = "tty: " + e;
        return std::nullopt;
    }
    if (std::string e = wire::check_origin_host(out.origin.rhost); !e.empty()) {
        *why = "rhost: " + e;
        return std::nullopt;
    }
    return out;
}

int send_packet(int chan, Type type, std::string_view payload, int fd) {
    if (payload.size() + 1 > kMaxPacket) return EMSGSIZE;
    std::uint8_t t = static_cast<std::uint8_t>(type);
    iovec iov[2] = {{&t, 1}, {const_cast<char*>(payload.data()), payload.size()}};
    msghdr mh{};
    mh.msg_iov = iov;
    mh.msg_iovlen = 2;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    if (fd >= 0) {
        mh.msg_control = control;
        mh.msg_controllen = sizeof control;
        cmsghdr* c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    for (;;) {
        ssize_t n = ::sendmsg(chan, &mh, MSG_NOSIGNAL);
        if (n >= 0) return static_cast<std::size_t>(n) == payload.size() + 1 ? 0 : EMSGSIZE;
        if (errno == EINTR) continue;
        return errno == EPIPE ? ECONNRESET : errno;
    }
}

int recv_packet(int chan, std::span<std::uint8_t> buf, Packet* out) {
    iovec iov{buf.data(), buf.size()};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    // Room for more than one descriptor, so that a packet carrying several
    // is seen (and refused) rather than silently cut to one.
    alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))] = {};
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
    ssize_t n;
    do n = ::recvmsg(chan, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0) return errno;
    if (n == 0) return ECONNRESET;
    int fds[4];
    std::size_t nfds = 0;
    bool odd = (mh.msg_flags & MSG_TRUNC) != 0;
    // MSG_CTRUNC with no control message at all: the descriptor could not
    // be installed here (RLIMIT_NOFILE), the packet itself is whole.
    const bool lost = (mh.msg_flags & MSG_CTRUNC) != 0 && CMSG_FIRSTHDR(&mh) == nullptr;
    if ((mh.msg_flags & MSG_CTRUNC) && !lost) odd = true;
    for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            odd = true;
            continue;
        }
        const std::size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < k && nfds < 4; ++i)
            std::memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
    if (odd || nfds > 1) {
        for (std::size_t i = 0; i < nfds; ++i) ::close(fds[i]);
        return EMSGSIZE;
    }
    out->type = static_cast<Type>(buf[0]);
    out->payload = buf.subspan(1, static_cast<std::size_t>(n) - 1);
    out->fd = nfds == 1 ? fds[0] : -1;
    out->fd_lost = lost;
    return 0;
}

}  // namespace p9auth::factotum::mon
