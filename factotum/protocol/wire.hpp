// The factotum protocol's framing (docs/factotum-protocol.md). Shared by the
// daemon and the client; no privilege, no I/O of its own.
//
// A frame is a 4-byte header, then the payload:
//   byte 0: protocol version (kVersion)
//   byte 1: message type (Msg)
//   bytes 2-3: payload length, big-endian; never above the type's bound
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "capability.hpp"

namespace p9auth::wire {

inline constexpr std::uint8_t kVersion = 1;
inline constexpr std::size_t kHeaderSize = 4;

enum class Msg : std::uint8_t {
    // client -> factotum
    request = 0x01,  // payload: the target user's name
    answer = 0x02,   // payload: the answer to the last prompt (a secret)
    origin = 0x03,   // optional, before request: where the login comes from (encode_origin)
    // factotum -> client
    prompt_echo_off = 0x81,  // PAM_PROMPT_ECHO_OFF: answer without echo
    prompt_echo_on = 0x82,   // PAM_PROMPT_ECHO_ON
    error_msg = 0x83,        // PAM_ERROR_MSG: show, no answer
    text_info = 0x84,        // PAM_TEXT_INFO: show, no answer
    granted = 0x90,          // payload: the capability FROM@TO@KEY; last frame
    refused = 0x91,          // payload: one Refusal byte, then a message; last frame
};

// Why factotum refused; the first byte of a `refused` payload.
enum class Refusal : std::uint8_t {
    not_permitted = 1,  // the policy does not let this client ask for this target
    auth_failed = 2,    // authentication failed (wrong answer, unknown user: not told apart)
    account = 3,        // authenticated, but the account may not be used (expired, locked)
    throttled = 4,      // too many failures lately; try again later
    busy = 5,           // too many connections; try again later
    protocol = 6,       // the client broke the protocol
    timeout = 7,        // the client did not answer in time
    internal = 8,       // factotum could not grant (see its log)
};

inline constexpr std::size_t kMaxUserName = 256;  // bytes of a target name
inline constexpr std::size_t kMaxAnswer = 1024;   // bytes of one answer
inline constexpr std::size_t kMaxText = 1024;     // bytes of a prompt or message from PAM (longer ones are cut)
// The origin frame: "tty=LINE" and/or "rhost=HOST", one per line. A tty
// fits utmp's ut_line, a host a DNS name (253); both together fit.
inline constexpr std::size_t kMaxOriginTty = 32;
inline constexpr std::size_t kMaxOriginHost = 253;
inline constexpr std::size_t kMaxOrigin = 4 + kMaxOriginTty + 1 + 6 + kMaxOriginHost;
inline constexpr std::size_t kMaxServerPayload = kMaxCapability;  // the largest frame factotum sends

struct Header {
    Msg type;
    std::size_t length;
};

std::array<std::uint8_t, kHeaderSize> encode_header(Msg type, std::size_t length);

// nullopt when the version is not ours; the type is not checked here (the
// receiver's table decides what it accepts).
std::optional<Header> decode_header(std::span<const std::uint8_t, kHeaderSize> bytes);

// A user name factotum will look up: 1..kMaxUserName bytes of printable
// ASCII, no white space, no ':' or '/', not starting with '-'.
bool valid_user_name(std::string_view name);

// Where a login comes from, as the client says: PAM_TTY and PAM_RHOST
// for factotum's stack and its log. Claims, not facts — factotum trusts
// only their shape.
struct Origin {
    std::string tty;    // "" none; else 1..kMaxOriginTty of [A-Za-z0-9/._-]
    std::string rhost;  // "" none; else 1..kMaxOriginHost of [A-Za-z0-9.:%_-]
    bool empty() const { return tty.empty() && rhost.empty(); }
};
// "" when the field is well formed (or empty), else what is wrong with it.
std::string check_origin_tty(std::string_view tty);
std::string check_origin_host(std::string_view rhost);
// The payload of an origin frame; o must pass the checks and not be empty.
std::string encode_origin(const Origin& o);
// nullopt with *why set when the payload is not exactly what encode_origin
// makes: known keys only, each once, each value checked, no empty frame.
std::optional<Origin> decode_origin(std::string_view payload, std::string* why);

const char* refusal_name(Refusal r);

}  // namespace p9auth::wire
