#include "wire.hpp"

namespace p9auth::wire {

std::array<std::uint8_t, kHeaderSize> encode_header(Msg type, std::size_t length) {
    return {kVersion, static_cast<std::uint8_t>(type), static_cast<std::uint8_t>((length >> 8) & 0xff),
            static_cast<std::uint8_t>(length & 0xff)};
}

std::optional<Header> decode_header(std::span<const std::uint8_t, kHeaderSize> b) {
    if (b[0] != kVersion) return std::nullopt;
    return Header{static_cast<Msg>(b[1]), (static_cast<std::size_t>(b[2]) << 8) | b[3]};
}

bool valid_user_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxUserName || name.front() == '-') return false;
    for (unsigned char c : name)
        if (c <= 0x20 || c >= 0x7f || c == ':' || c == '/') return false;
    return true;
}

const char* refusal_name(Refusal r) {
    switch (r) {
    case Refusal::not_permitted: return "not permitted by policy";
    case Refusal::auth_failed: return "authentication failed";
    case Refusal::account: return "account not usable";
    case Refusal::throttled: return "too many failures, try later";
    case Refusal::busy: return "factotum busy, try later";
    case Refusal::protocol: return "protocol error";
    case Refusal::timeout: return "timed out";
    case Refusal::internal: return "internal error";
    }
    return "refused";
}

}  // namespace p9auth::wire
