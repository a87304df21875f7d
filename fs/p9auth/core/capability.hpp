// The capability text FROM@TO@KEY: parse and format (docs/spec.md, section 1).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "error.hpp"
#include "p9auth_spec.h"
#include "secret.hpp"

namespace p9auth {

// docs/spec.md section 1, from p9auth_spec.h (shared with the kernel module).
inline constexpr std::size_t kMaxCapability = P9AUTH_MAX_CAPABILITY;  // bytes, without the trailing newline
inline constexpr std::size_t kMaxGroups = P9AUTH_MAX_GROUPS;
inline constexpr std::size_t kMinKey = P9AUTH_MIN_KEY;  // base64url characters that carry 128 bits
inline constexpr std::size_t kMaxKey = P9AUTH_MAX_KEY;
inline constexpr std::uint32_t kMaxId = P9AUTH_MAX_ID;  // (uid_t)-1 means "unchanged" to the kernel

// What a capability lets its user become.
struct Target {
    uid_t uid = 0;
    std::optional<gid_t> gid;   // absent: the bare UID form, uids change only
    std::vector<gid_t> groups;  // supplementary groups; only with gid

    bool bare() const { return !gid.has_value(); }
    bool operator==(const Target&) const = default;
};

struct Capability {
    uid_t from = 0;
    Target to;
    SecretString key;
};

// Parses TO: "UID", "UID:GID" or "UID:GID:G1,G2,...". Canonical decimal ids only.
Expected<Target> parse_target(std::string_view text);
std::string format_target(const Target& to);

// Parses a capability as written to capuse: one trailing '\n' is allowed.
// Errors are EINVAL with a message that names the part that is wrong and
// never repeats the key.
Expected<Capability> parse_capability(std::string_view text);
SecretString format_capability(const Capability& cap);

// The part the HMAC covers: FROM@TO, the text before the last '@'.
std::string signed_part(uid_t from, const Target& to);

}  // namespace p9auth
