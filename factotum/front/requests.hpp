// The requests a client may send, and when: factotum's privilege boundary as
// one table, in the manner of OpenSSH's monitor.c. A message that is not in
// the table, arrives at the wrong time, or is out of its size bounds ends
// the connection with a `refused protocol` answer.
#pragma once

#include <cstddef>
#include <string>

#include "wire.hpp"

namespace p9auth::factotum {

enum RequestFlag : unsigned {
    kFirst = 1u << 0,        // only as the connection's first message (and so only once)
    kPrompted = 1u << 1,     // only while a PAM prompt waits for its answer
    kAfterOrigin = 1u << 2,  // right after an origin frame
};

// Where a connection is: which messages the table lets in.
enum class Phase {
    first,     // nothing received yet
    origin,    // an origin frame came first; the request must follow
    prompted,  // a PAM prompt was sent and waits for its answer
};

struct RequestRule {
    wire::Msg type;
    const char* name;
    unsigned flags;
    std::size_t min_len, max_len;
};

inline constexpr RequestRule kRequestTable[] = {
    {wire::Msg::origin, "origin", kFirst, 1, wire::kMaxOrigin},
    {wire::Msg::request, "request", kFirst | kAfterOrigin, 1, wire::kMaxUserName},
    {wire::Msg::answer, "answer", kPrompted, 0, wire::kMaxAnswer},
};

// The rule that admits a message with this header now, or nullptr with *why
// saying what was wrong (for the audit log; never the payload).
const RequestRule* admit(const wire::Header& h, Phase phase, std::string* why);

}  // namespace p9auth::factotum
