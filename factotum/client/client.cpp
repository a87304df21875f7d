#include "client.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

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

Error sys_error(int e, const std::string& what) { return fail(e, what + ": " + std::strerror(e)); }

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

}  // namespace

Expected<SecretString> request_capability(const std::string& socket_path, const std::string& target_user,
                                          Conversation& conv, const RequestOptions& options) {
    if (!wire::valid_user_name(target_user))
        return fail(EINVAL, "'" + target_user + "' is not a user name factotum accepts");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path.empty() || socket_path.size() >= sizeof addr.sun_path)
        return fail(ENAMETOOLONG, "factotum socket path too long: " + socket_path);
    std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());

    Socket sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (sock.get() < 0) return sys_error(errno, "socket");
    if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        return sys_error(errno, "connect to factotum at " + socket_path);
    ::fcntl(sock.get(), F_SETFL, ::fcntl(sock.get(), F_GETFL) | O_NONBLOCK);

    auto step = [&] { return std::chrono::steady_clock::now() + options.step_timeout; };
    const auto* name = reinterpret_cast<const std::uint8_t*>(target_user.data());
    if (int e = wire::send_frame(sock.get(), Msg::request, {name, target_user.size()}, step()))
        return sys_error(e, "send the request to factotum");

    // Payloads may hold the capability or a prompt's answer: a zeroing buffer.
    std::vector<std::uint8_t, ZeroingAllocator<std::uint8_t>> buf;
    for (;;) {
        std::array<std::uint8_t, wire::kHeaderSize> hb{};
        if (int e = wire::recv_exact(sock.get(), hb, step())) {
            if (e == ECONNRESET) return fail(EPROTO, "factotum closed the connection without an answer");
            return sys_error(e, "read from factotum");
        }
        auto h = wire::decode_header(hb);
        if (!h) return fail(EPROTO, "factotum speaks another protocol version");
        if (!known_server_msg(h->type)) return fail(EPROTO, "factotum sent an unknown message");
        if (h->length > max_payload(h->type)) return fail(EPROTO, "factotum sent an oversized message");
        buf.assign(h->length, 0);
        if (int e = wire::recv_exact(sock.get(), buf, step())) return sys_error(e, "read from factotum");
        std::string_view text(reinterpret_cast<const char*>(buf.data()), buf.size());
        switch (h->type) {
        case Msg::prompt_echo_off:
        case Msg::prompt_echo_on: {
            auto answer = conv.prompt(text, h->type == Msg::prompt_echo_on);
            if (!answer) return answer.error();
            if (answer->size() > wire::kMaxAnswer)
                return fail(EMSGSIZE, "answer longer than " + std::to_string(wire::kMaxAnswer) + " bytes");
            const auto* a = reinterpret_cast<const std::uint8_t*>(answer->data());
            if (int e = wire::send_frame(sock.get(), Msg::answer, {a, answer->size()}, step()))
                return sys_error(e, "send an answer to factotum");
            break;
        }
        case Msg::text_info: conv.info(text); break;
        case Msg::error_msg: conv.error(text); break;
        case Msg::granted: {
            // Only a capability for us is worth handing on.
            auto cap = parse_capability(text);
            if (!cap) return fail(EPROTO, "factotum sent a malformed capability: " + cap.error().message);
            if (cap->from != ::getuid())
                return fail(EPROTO, "factotum sent a capability for uid " + std::to_string(cap->from) + ", not ours");
            return SecretString(text);
        }
        case Msg::refused: return refusal_error(text);
        default: return fail(EPROTO, "factotum sent an unexpected message");
        }
    }
}

}  // namespace p9auth
