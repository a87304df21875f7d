// The client's end of a PAM conversation, as both halves see it: the
// monitor's PAM conversation asks through it (monitor/monitor.cpp relays
// over the channel to the front), and the front answers it from the
// client's socket (front/server.cpp).
#pragma once

#include <string_view>

#include "error.hpp"
#include "secure_buffer.hpp"
#include "wire.hpp"

namespace p9auth::factotum {

// One login's conversation with its client: Channel in the monitor, ClientChannel in the front.
class PromptChannel {
public:
    virtual ~PromptChannel() = default;
    // Sends a prompt (prompt_echo_off or prompt_echo_on) and waits for the
    // answer into *answer. On failure the errno (ETIMEDOUT, EPROTO,
    // ECONNRESET...) and what happened, for the log.
    virtual Error ask(wire::Msg type, std::string_view text, SecureBuffer& answer) = 0;
    // Sends an error_msg or text_info; the same errors.
    virtual Error tell(wire::Msg type, std::string_view text) = 0;
};

}  // namespace p9auth::factotum
