// Asking factotum for a capability: the call login tools use. No privilege:
// factotum learns who we are from the kernel (SO_PEERCRED), not from us.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "error.hpp"
#include "secret.hpp"

namespace p9auth {

// The most bytes one answer may hold (the protocol's wire::kMaxAnswer, for
// users of this header that do not see the protocol's; client.cpp checks
// that the two agree). A longer answer is refused, never cut.
inline constexpr std::size_t kMaxClientAnswer = 1024;

// How PAM's questions reach the user. factotum relays them one by one.
class Conversation {
public:
    virtual ~Conversation() = default;
    // A prompt (PAM_PROMPT_ECHO_OFF when echo is false, ECHO_ON when true).
    // An error aborts the request.
    virtual Expected<SecretString> prompt(std::string_view text, bool echo) = 0;
    virtual void info(std::string_view text) = 0;   // PAM_TEXT_INFO
    virtual void error(std::string_view text) = 0;  // PAM_ERROR_MSG
};

struct RequestOptions {
    // Longest wait for each message from factotum (it may be waiting on a
    // slow PAM module, or on our own answers).
    std::chrono::milliseconds step_timeout{std::chrono::seconds(120)};
    // Where the login comes from, for factotum's PAM stack (PAM_TTY,
    // PAM_RHOST) and its log; empty: not said. A tty is at most 32 bytes of
    // letters, digits and "/._-" ("pts/3", "/dev/pts/3"), a host at most 253
    // of letters, digits and ".:%_-"; anything else is EINVAL before
    // factotum is asked.
    std::string tty;
    std::string rhost;
};

// Asks for a capability to become target_user; FROM is always our real uid.
// socket_path is factotum's socket: the factotum_socket of
// /etc/p9auth/p9auth.conf (p9auth::load_config), /run/p9auth-factotum.sock
// by default.
// Errors: EACCES not permitted or authentication failed; EKEYEXPIRED the
// account is not usable (expired, locked, password must change);
// EAGAIN throttled or busy; ETIMEDOUT; EPROTO a protocol error;
// EIO factotum could not grant; or the errno of connect/send/recv.
// The message says which, in words a user can act on.
Expected<SecretString> request_capability(const std::string& socket_path, const std::string& target_user,
                                          Conversation& conv, const RequestOptions& options = {});

}  // namespace p9auth
