#include "mount_options.hpp"

#include <cerrno>
#include <charconv>

#include "p9auth_spec.h"

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
    if (name == P9AUTH_OPT_TIMEOUT) {
        if (!parse_number(value, P9AUTH_MIN_TIMEOUT, P9AUTH_MAX_TIMEOUT, &v))
            return bad(name, "expected seconds from " + std::to_string(P9AUTH_MIN_TIMEOUT) + " to " +
                                 std::to_string(P9AUTH_MAX_TIMEOUT));
        table.timeout = std::chrono::seconds(v);
    } else if (name == P9AUTH_OPT_MAXCAPS) {
        if (!parse_number(value, P9AUTH_MIN_MAXCAPS, P9AUTH_MAX_MAXCAPS, &v))
            return bad(name, "expected a count from " + std::to_string(P9AUTH_MIN_MAXCAPS) + " to " +
                                 std::to_string(P9AUTH_MAX_MAXCAPS));
        table.maxcaps = v;
    } else if (name == P9AUTH_OPT_GRANT_UID) {
        if (!parse_number(value, 0, kMaxId, &v)) return bad(name, "expected a decimal uid");
        grant.grant_uid = static_cast<uid_t>(v);
    } else if (name == P9AUTH_OPT_GRANT_GID) {
        if (!parse_number(value, 0, kMaxId, &v)) return bad(name, "expected a decimal gid");
        grant.grant_gid = static_cast<gid_t>(v);
    } else if (name == P9AUTH_OPT_GRANT_ONCE || name == P9AUTH_OPT_LEGACY_SHA1) {
        if (!value.empty()) return bad(name, "takes no value");
        (name == P9AUTH_OPT_GRANT_ONCE ? grant.grant_once : table.legacy_sha1) = true;
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
    std::string s = P9AUTH_OPT_TIMEOUT "=" + std::to_string(table.timeout.count()) + "," P9AUTH_OPT_MAXCAPS "=" +
                    std::to_string(table.maxcaps);
    if (grant.grant_uid) s += "," P9AUTH_OPT_GRANT_UID "=" + std::to_string(*grant.grant_uid);
    if (grant.grant_gid) s += "," P9AUTH_OPT_GRANT_GID "=" + std::to_string(*grant.grant_gid);
    if (grant.grant_once) s += "," P9AUTH_OPT_GRANT_ONCE;
    if (table.legacy_sha1) s += "," P9AUTH_OPT_LEGACY_SHA1;
    return s;
}

}  // namespace p9auth
