#include "capability.hpp"

#include <cerrno>
#include <charconv>

namespace p9auth {
namespace {

Error invalid(std::string what) { return fail(EINVAL, "malformed capability: " + std::move(what)); }

// Canonical decimal: "0" or no leading zero, at most kMaxId.
bool parse_id(std::string_view s, std::uint32_t* out) {
    if (s.empty() || s.size() > 10) return false;
    if (s.size() > 1 && s[0] == '0') return false;
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (v > kMaxId) return false;
    *out = static_cast<std::uint32_t>(v);
    return true;
}

bool valid_key_char(char c) { return c >= 0x21 && c <= 0x7e && c != '@'; }

void append_id(std::string& out, std::uint32_t id) {
    char buf[16];
    auto r = std::to_chars(buf, buf + sizeof buf, id);
    out.append(buf, r.ptr);
}

}  // namespace

Expected<Target> parse_target(std::string_view text) {
    Target t;
    const auto c1 = text.find(':');
    std::uint32_t v = 0;
    if (!parse_id(text.substr(0, c1), &v)) return invalid("target uid is not a canonical decimal id (0..4294967294)");
    t.uid = v;
    if (c1 == std::string_view::npos) return t;

    std::string_view rest = text.substr(c1 + 1);
    const auto c2 = rest.find(':');
    if (!parse_id(rest.substr(0, c2), &v)) return invalid("target gid is not a canonical decimal id (0..4294967294)");
    t.gid = v;
    if (c2 == std::string_view::npos) return t;

    std::string_view list = rest.substr(c2 + 1);
    if (list.empty()) return invalid("empty group list after 'UID:GID:' (write 'UID:GID' for no groups)");
    while (true) {
        const auto comma = list.find(',');
        if (t.groups.size() == kMaxGroups)
            return invalid("more than " + std::to_string(kMaxGroups) + " supplementary groups");
        if (!parse_id(list.substr(0, comma), &v))
            return invalid("a supplementary group is not a canonical decimal id (0..4294967294)");
        t.groups.push_back(v);
        if (comma == std::string_view::npos) break;
        list = list.substr(comma + 1);
    }
    return t;
}

std::string format_target(const Target& to) {
    std::string s;
    append_id(s, to.uid);
    if (to.bare()) return s;
    s.push_back(':');
    append_id(s, *to.gid);
    for (std::size_t i = 0; i < to.groups.size(); ++i) {
        s.push_back(i == 0 ? ':' : ',');
        append_id(s, to.groups[i]);
    }
    return s;
}

std::string signed_part(uid_t from, const Target& to) {
    std::string s;
    append_id(s, from);
    s.push_back('@');
    s += format_target(to);
    return s;
}

Expected<Capability> parse_capability(std::string_view text) {
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    if (text.empty()) return invalid("empty");
    if (text.size() > kMaxCapability) return invalid("longer than " + std::to_string(kMaxCapability) + " bytes");

    const auto at1 = text.find('@');
    const auto at2 = text.rfind('@');
    if (at1 == std::string_view::npos || at1 == at2) return invalid("expected FROM@TO@KEY (two '@')");
    if (text.find('@', at1 + 1) != at2) return invalid("more than two '@'");

    Capability cap;
    std::uint32_t from = 0;
    if (!parse_id(text.substr(0, at1), &from)) return invalid("FROM is not a canonical decimal uid (0..4294967294)");
    cap.from = from;

    auto to = parse_target(text.substr(at1 + 1, at2 - at1 - 1));
    if (!to) return to.error();
    cap.to = std::move(*to);

    const std::string_view key = text.substr(at2 + 1);
    if (key.size() < kMinKey || key.size() > kMaxKey)
        return invalid("KEY must be " + std::to_string(kMinKey) + " to " + std::to_string(kMaxKey) +
                       " characters, got " + std::to_string(key.size()));
    for (char c : key)
        if (!valid_key_char(c)) return invalid("KEY has a character outside printable ASCII");
    cap.key = SecretString(key);
    return cap;
}

SecretString format_capability(const Capability& cap) {
    SecretString s(signed_part(cap.from, cap.to));
    s.push_back('@');
    s.append(cap.key.view());
    return s;
}

}  // namespace p9auth
