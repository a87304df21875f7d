#include "mount_options.hpp"

#include <cerrno>
#include <charconv>

namespace p9auth {
namespace {

bool parse_number(std::string_view s, std::uint64_t lo, std::uint64_t hi, std::uint64_t* out) {
    if (s.empty()) return false;
    std::uint64_t v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size() || v < lo || v > hi) return false;
    *out = v;
    return true;
}

Error bad(std::string_view name, std::string_view what) {
    return fail(EINVAL, "mount option " + std::string(name) + ": " + std::string(what));
}

}  // namespace

Error MountOptions::set(std::string_view name, std::string_view value, bool* known) {
    *known = true;
    std::uint64_t v = 0;
    if (name == "timeout") {
        if (!parse_number(value, 1, 86400, &v)) return bad(name, "expected seconds from 1 to 86400");
        table.timeout = std::chrono::seconds(v);
    } else if (name == "maxcaps") {
        if (!parse_number(value, 1, 16777216, &v)) return bad(name, "expected a count from 1 to 16777216");
        table.max_outstanding = v;
    } else if (name == "grant_uid") {
        if (!parse_number(value, 0, kMaxId, &v)) return bad(name, "expected a decimal uid");
        grant.grant_uid = static_cast<uid_t>(v);
    } else if (name == "grant_gid") {
        if (!parse_number(value, 0, kMaxId, &v)) return bad(name, "expected a decimal gid");
        grant.grant_gid = static_cast<gid_t>(v);
    } else if (name == "grant_once" || name == "legacy_sha1") {
        if (!value.empty()) return bad(name, "takes no value");
        (name == "grant_once" ? grant.grant_once : table.accept_sha1) = true;
    } else {
        *known = false;
    }
    return Error::ok();
}

Error MountOptions::parse(std::string_view list) {
    while (!list.empty()) {
        const auto comma = list.find(',');
        const std::string_view item = list.substr(0, comma);
        const auto eq = item.find('=');
        const std::string_view name = item.substr(0, eq);
        const std::string_view value = eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
        if (eq != std::string_view::npos && value.empty()) return bad(name, "empty value");
        bool known = false;
        if (Error e = set(name, value, &known)) return e;
        if (!known) return fail(EINVAL, "unknown mount option '" + std::string(name) + "'");
        if (comma == std::string_view::npos) break;
        list = list.substr(comma + 1);
    }
    return Error::ok();
}

std::string MountOptions::describe() const {
    std::string s = "timeout=" + std::to_string(table.timeout.count()) +
                    ",maxcaps=" + std::to_string(table.max_outstanding);
    if (grant.grant_uid) s += ",grant_uid=" + std::to_string(*grant.grant_uid);
    if (grant.grant_gid) s += ",grant_gid=" + std::to_string(*grant.grant_gid);
    if (grant.grant_once) s += ",grant_once";
    if (table.accept_sha1) s += ",legacy_sha1";
    return s;
}

}  // namespace p9auth
