#include "client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "capability.hpp"
#include "frame_io.hpp"
#include "wire.hpp"

namespace p9auth {
namespace {

using wire::Msg;

class Socket {
public:
    explicit Socket(int fd) : fd_(fd) {}
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    ~Socket() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const { return fd_; }

private:
    int fd_;
};

static_assert(kMaxClientAnswer == wire::kMaxAnswer, "client.hpp and wire.hpp disagree on the answer limit");

Error sys_error(int e, const std::string& what) { return fail(e, what + ": " + std::strerror(e)); }
Error in_context(const Error& e, const std::string& what) { return fail(e.errnum, what + ": " + e.message); }

// The largest payload the client accepts for each message factotum may send.
std::size_t max_payload(Msg type) {
    switch (type) {
        case Msg::prompt_echo_off:
        case Msg::prompt_echo_on:
        case Msg::error_msg:
        case Msg::text_info: return wire::kMaxText;
        case Msg::granted: return wire::kMaxServerPayload;
        case Msg::refused: return 1 + wire::kMaxText;
        default: return 0;
    }
}

bool known_server_msg(Msg type) { return max_payload(type) != 0; }

Error refusal_error(std::string_view payload) {
    if (payload.empty()) return fail(EPROTO, "factotum refused without a reason");
    auto why = static_cast<wire::Refusal>(static_cast<unsigned char>(payload[0]));
    std::string text = "factotum: " + std::string(wire::refusal_name(why));
    if (payload.size() > 1) text += " (" + std::string(payload.substr(1)) + ")";
    switch (why) {
        case wire::Refusal::not_permitted:
        case wire::Refusal::auth_failed: return fail(EACCES, text);
        case wire::Refusal::account: return fail(EKEYEXPIRED, text);
        case wire::Refusal::throttled:
        case wire::Refusal::busy: return fail(EAGAIN, text);
        case wire::Refusal::timeout: return fail(ETIMEDOUT, text);
        case wire::Refusal::internal: return fail(EIO, text);
        case wire::Refusal::protocol: return fail(EPROTO, text);
    }
    return fail(EPROTO, text);
}

// connect(2) under the step's deadline. A non-blocking connect to a Unix
// socket does not wait: EAGAIN means factotum's backlog is full (it is
// alive but busy), so retry, with short pauses, until the deadline.
Error connect_by(int fd, const sockaddr_un& addr, const std::string& path, wire::Deadline deadline) {
    auto pause = std::chrono::milliseconds(5);
    for (;;) {
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return Error::ok();
        int e = errno;
        if (e == EINTR) continue;
        if (e == EINPROGRESS) {  // not what AF_UNIX does today; handled all the same
            if (Error w = wire::wait_fd(fd, POLLOUT, deadline))
                return w.errnum == ETIMEDOUT ? fail(ETIMEDOUT, "connect to factotum at " + path + ": timed out")
                                             : in_context(w, "connect to factotum at " + path);
            int soerr = 0;
            socklen_t len = sizeof soerr;
            if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) soerr = errno;
            return soerr ? sys_error(soerr, "connect to factotum at " + path) : Error::ok();
        }
        if (e != EAGAIN) return sys_error(e, "connect to factotum at " + path);
        auto now = std::chrono::steady_clock::now();
        if (now >= deadline)
            return fail(ETIMEDOUT, "connect to factotum at " + path +
                                       ": timed out; its queue of connections stayed full (factotum overloaded?)");
        auto wait = std::min<std::chrono::steady_clock::duration>(pause, deadline - now);
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(wait).count();
        ::poll(nullptr, 0, static_cast<int>(std::max<long long>(ms, 1)));
        pause = std::min(pause * 2, std::chrono::milliseconds(100));
    }
}

}  // namespace

Expected<SecretString> request_capability(const std::string& socket_path, const std::string& target_user,
                                          Conversation& conv, const RequestOptions& options) {
    if (!wire::valid_user_name(target_user))
        return fail(EINVAL, "'" + target_user + "' is not a user name factotum accepts");
    const wire::Origin origin{options.tty, options.rhost};
    for (const std::string& bad : {wire::check_origin_tty(origin.tty), wire::check_origin_host(origin.rhost)})
        if (!bad.empty()) return fail(EINVAL, "the login's origin cannot be sent to factotum: " + bad);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path.empty() || socket_path.size() >= sizeof addr.sun_path)
        return fail(ENAMETOOLONG, "factotum socket path too long: " + socket_path);
    std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());

    // factotum takes FROM from SO_PEERCRED, which reports the effective uid
    // at connect; p9use and the kernel module check FROM against the real
    // uid. With the two apart (a set-uid caller) the capability could not
    // be used: refuse before anyone types a password.
    if (::getuid() != ::geteuid())
        return fail(EPERM, "real uid " + std::to_string(::getuid()) + " and effective uid " +
                               std::to_string(::geteuid()) +
                               " differ: factotum would grant for the effective uid, which p9use does not accept");

    Socket sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (sock.get() < 0) return sys_error(errno, "socket");
    auto step = [&] { return std::chrono::steady_clock::now() + options.step_timeout; };
    if (Error e = connect_by(sock.get(), addr, socket_path, step())) return e;

    if (!origin.empty()) {  // before the request, in a frame of its own (a factotum before it refuses: EPROTO)
        const std::string o = wire::encode_origin(origin);
        if (Error e = wire::send_frame(sock.get(), Msg::origin,
                                       {reinterpret_cast<const std::uint8_t*>(o.data()), o.size()}, step()))
            return in_context(e, "send the origin to factotum");
    }
    const auto* name = reinterpret_cast<const std::uint8_t*>(target_user.data());
    if (Error e = wire::send_frame(sock.get(), Msg::request, {name, target_user.size()}, step()))
        return in_context(e, "send the request to factotum");

    // Payloads may hold the capability or a prompt's answer: a zeroing buffer.
    std::vector<std::uint8_t, ZeroingAllocator<std::uint8_t>> buf;
    for (;;) {
        std::array<std::uint8_t, wire::kHeaderSize> hb{};
        if (Error e = wire::recv_exact(sock.get(), hb, step())) {
            if (e.errnum == ECONNRESET) return fail(EPROTO, "factotum closed the connection without an answer");
            return in_context(e, "read from factotum");
        }
        auto h = wire::decode_header(hb);
        if (!h) return fail(EPROTO, "factotum speaks another protocol version");
        if (!known_server_msg(h->type)) return fail(EPROTO, "factotum sent an unknown message");
        if (h->length > max_payload(h->type)) return fail(EPROTO, "factotum sent an oversized message");
        buf.assign(h->length, 0);
        if (Error e = wire::recv_exact(sock.get(), buf, step())) return in_context(e, "read from factotum");
        std::string_view text(reinterpret_cast<const char*>(buf.data()), buf.size());
        switch (h->type) {
            case Msg::prompt_echo_off:
            case Msg::prompt_echo_on: {
                auto answer = conv.prompt(text, h->type == Msg::prompt_echo_on);
                if (!answer) return answer.error();
                if (answer->size() >
                    wire::kMaxAnswer)  // the tools' reader refuses first (terminal.hpp); a library caller may not
                    return fail(EMSGSIZE,
                                "answer longer than " + std::to_string(wire::kMaxAnswer) + " bytes: refused, not sent");
                const auto* a = reinterpret_cast<const std::uint8_t*>(answer->data());
                if (Error e = wire::send_frame(sock.get(), Msg::answer, {a, answer->size()}, step()))
                    return in_context(e, "send an answer to factotum");
                break;
            }
            case Msg::text_info: conv.info(text); break;
            case Msg::error_msg: conv.error(text); break;
            case Msg::granted: {
                // Only a capability for us is worth handing on.
                auto cap = parse_capability(text);
                if (!cap) return fail(EPROTO, "factotum sent a malformed capability: " + cap.error().message);
                if (cap->from != ::getuid())
                    return fail(EPROTO,
                                "factotum sent a capability for uid " + std::to_string(cap->from) + ", not ours");
                return SecretString(text);
            }
            case Msg::refused: return refusal_error(text);
            default: return fail(EPROTO, "factotum sent an unexpected message");
        }
    }
}

}  // namespace p9auth
