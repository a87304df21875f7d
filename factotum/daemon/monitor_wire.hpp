// The messages between factotum's front and its monitor (factotum(8),
// "PRIVILEGE SEPARATION"; docs/factotum-protocol.md, "Inside factotum").
//
// One SOCK_SEQPACKET socketpair per front worker: each message is one
// packet, byte 0 its type, the rest its payload. The packet boundaries are
// the kernel's, so neither side parses a length it was told. The monitor
// admits a packet only through kMonitorTable, in the state of the one login
// that channel is serving; anything else ends factotum (the front is not
// behaving as built: fail closed, as OpenSSH's monitor does).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "capability.hpp"
#include "secret.hpp"
#include "wire.hpp"

namespace p9auth::factotum::mon {

enum class Type : std::uint8_t {
    // front -> monitor
    begin = 0x01,      // a login: the client's connection (SCM_RIGHTS) and "TARGET\0TTY\0RHOST"
    answer = 0x02,     // the client's answer to the last prompt (a secret)
    no_answer = 0x03,  // the prompt could not be answered: an errno byte, then what happened
    told = 0x04,       // a message was passed on: an errno byte (0: delivered), then what happened
    lookup = 0x05,     // a name only: how may the log show it? (a login the front refused itself)
    // monitor -> front
    known = 0x80,    // the target as the log shows it: the name, or "?(unknown)"; after begin or lookup
    prompt = 0x81,   // a wire::Msg byte (prompt_echo_off, prompt_echo_on), then the text
    tell = 0x82,     // a wire::Msg byte (error_msg, text_info), then the text
    verdict = 0x83,  // how the login ended (Verdict); the channel is idle again
};

// Where one login on a channel is; which packets the monitor takes.
enum class State : std::uint8_t {
    idle,      // between logins: only begin or lookup
    prompted,  // a prompt is with the client: only answer or no_answer
    telling,   // a message is with the client: only told
};

struct Rule {
    Type type;
    const char* name;
    State when;
    std::size_t min_len, max_len;  // of the payload (after the type byte)
    bool takes_fd;                 // exactly one descriptor rides with it; none otherwise
};

inline constexpr std::size_t kMaxPacket = 4096;  // fits every message below, with room

inline constexpr Rule kMonitorTable[] = {
    {Type::begin, "begin", State::idle, 3, wire::kMaxUserName + 2 + wire::kMaxOriginTty + wire::kMaxOriginHost, true},
    {Type::lookup, "lookup", State::idle, 1, wire::kMaxUserName, false},
    {Type::answer, "answer", State::prompted, 0, wire::kMaxAnswer, false},
    {Type::no_answer, "no_answer", State::prompted, 1, 1 + wire::kMaxText, false},
    {Type::told, "told", State::telling, 1, 1 + wire::kMaxText, false},
};

// The rule that admits this packet in this state, or nullptr with *why.
const Rule* admit(Type type, std::size_t payload_len, bool has_fd, State state, std::string* why);

// What the monitor decided about one login: all the front needs to answer
// the client, log, and keep its throttle and quota.
struct Verdict {
    enum class Throttle : std::uint8_t { none = 0, failed = 1, succeeded = 2 };
    bool granted = false;
    wire::Refusal refusal = wire::Refusal::internal;  // when not granted
    Throttle throttle = Throttle::none;               // what this login tells the failure throttle
    bool quiet = false;                               // nothing to send the client (it is gone): the front only logs
    std::string shown;                                // the target as the log shows it: the name, or "?(unknown)"
    std::string reason;                               // for the log: "auth (...)", "policy (line 3)"; never a secret
    std::string to_client;                            // the refusal's message for the client
    SecretString capability;                          // granted: FROM@TO@KEY, for the client alone
};
std::string encode_verdict(const Verdict& v);  // wiped by the caller after sending (it holds the key)
std::optional<Verdict> decode_verdict(std::string_view payload);

// The begin payload.
struct Begin {
    std::string target;
    wire::Origin origin;
};
std::string encode_begin(const Begin& b);
// nullopt when it is not three NUL-separated fields that pass
// wire::valid_user_name and the origin checks.
std::optional<Begin> decode_begin(std::string_view payload, std::string* why);

// One packet: 0 or an errno. fd, when >= 0, rides along (SCM_RIGHTS).
int send_packet(int chan, Type type, std::string_view payload, int fd = -1);
// One packet into buf (at most kMaxPacket bytes). 0, ECONNRESET at the end
// of the channel, EMSGSIZE for a truncated packet or a wrong set of
// descriptors (any received are closed), or an errno. fd: -1, or the one
// descriptor that came with it; fd_lost: one came but this process had no
// room for it (out of descriptors: the kernel drops it), not the sender's
// fault.
struct Packet {
    Type type;
    std::span<const std::uint8_t> payload;
    int fd = -1;
    bool fd_lost = false;
};
int recv_packet(int chan, std::span<std::uint8_t> buf, Packet* out);

}  // namespace p9auth::factotum::mon
