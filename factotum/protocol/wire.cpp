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
    // A leading '-' reads as an option; NSS compat and PAM modules
    // (pam_unix among them) give '+name' and '-name' meanings of their own.
    if (name.empty() || name.size() > kMaxUserName || name.front() == '-' || name.front() == '+') return false;
    for (unsigned char c : name)
        if (c <= 0x20 || c >= 0x7f || c == ':' || c == '/') return false;
    return true;
}

namespace {

std::string check_field(std::string_view what, std::string_view v, std::size_t max, std::string_view extra) {
    if (v.empty()) return std::string(what) + " is empty";
    if (v.size() > max) return std::string(what) + " is longer than " + std::to_string(max) + " bytes";
    for (unsigned char c : v) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  extra.find(static_cast<char>(c)) != std::string_view::npos;
        if (!ok) return std::string(what) + " holds a character other than letters, digits and " + std::string(extra);
    }
    return "";
}

}  // namespace

std::string check_origin_tty(std::string_view tty) {
    return tty.empty() ? "" : check_field("tty", tty, kMaxOriginTty, "/._-");
}

std::string check_origin_host(std::string_view rhost) {
    return rhost.empty() ? "" : check_field("rhost", rhost, kMaxOriginHost, ".:%_-");
}

std::string encode_origin(const Origin& o) {
    std::string s;
    if (!o.tty.empty()) s += "tty=" + o.tty;
    if (!o.rhost.empty()) s += (s.empty() ? "" : "\n") + std::string("rhost=") + o.rhost;
    return s;
}

std::optional<Origin> decode_origin(std::string_view payload, std::string* why) {
    Origin o;
    bool tty = false, host = false;
    if (payload.empty() || payload.size() > kMaxOrigin) {
        *why = "origin of " + std::to_string(payload.size()) + " bytes";
        return std::nullopt;
    }
    while (!payload.empty()) {
        const auto nl = payload.find('\n');
        const std::string_view line = payload.substr(0, nl);
        payload = nl == std::string_view::npos ? std::string_view() : payload.substr(nl + 1);
        if (nl != std::string_view::npos && payload.empty()) {
            *why = "origin ends with a newline";
            return std::nullopt;
        }
        std::string bad;
        if (line.starts_with("tty=") && !tty) {
            tty = true;
            o.tty = line.substr(4);
            bad = o.tty.empty() ? "tty is empty" : check_origin_tty(o.tty);
        } else if (line.starts_with("rhost=") && !host) {
            host = true;
            o.rhost = line.substr(6);
            bad = o.rhost.empty() ? "rhost is empty" : check_origin_host(o.rhost);
        } else {
            bad = "origin field not tty= or rhost=, or given twice";
        }
        if (!bad.empty()) {
            *why = bad;
            return std::nullopt;
        }
    }
    return o;
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
