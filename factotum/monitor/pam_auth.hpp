// Authenticating a target user with the system's PAM stack (service
// "p9auth" by default), relaying the conversation to the client.
#pragma once

#include <string>
#include <string_view>

#include "error.hpp"
#include "prompt_channel.hpp"
#include "wire.hpp"

namespace p9auth::factotum {

enum class PamOutcome {
    ok,
    auth_failed,   // wrong answer, too many tries, no such user: one answer to the client
    account,       // authenticated, but pam_acct_mgmt refused (expired, locked, must change password)
    unavailable,   // PAM_AUTHINFO_UNAVAIL: the backend could not be asked (no answer was checked)
    client_error,  // the conversation with the client broke (timeout, protocol, gone): see conversation
    error,         // PAM itself failed (configuration, a module's system error)
};

// What PAM said, in separate fields, so that nobody re-parses a text.
struct PamResult {
    PamOutcome outcome = PamOutcome::error;
    std::string step;     // the call that decided: "pam_start", "pam_authenticate", "pam_acct_mgmt", ...
    int pam_code = 0;     // its PAM return code (PAM_SUCCESS is 0)
    std::string message;  // pam_strerror's words for pam_code, or what factotum found; never a secret
    // client_error: what broke the conversation, as the channel said
    // (ETIMEDOUT, EPROTO, or what the socket said) or as the conversation
    // function found it itself (EPROTO: an answer holding a NUL byte, or a
    // PAM message style the protocol cannot carry).
    Error conversation{};
    unsigned answers = 0;  // answers the client gave (a walk-away after one may hide a guess)

    // "step: message", for the audit log.
    std::string detail() const { return step.empty() ? message : step + ": " + message; }
};

// client_name becomes PAM_RUSER (factotum's lookup of the client's uid,
// never the client's text); origin's tty and rhost, when given, PAM_TTY and
// PAM_RHOST, so that pam_access, pam_time, pam_faillock... see them as
// they see login's and sshd's.
PamResult pam_check(const std::string& service, const std::string& user, const std::string& client_name,
                    const wire::Origin& origin, PromptChannel& channel);

}  // namespace p9auth::factotum
