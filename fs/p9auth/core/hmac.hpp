// The hash a granter writes to caphash (docs/spec.md, section 2).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "p9auth_spec.h"

namespace p9auth {

enum class HashKind : std::uint8_t {
    sha256 = P9AUTH_HASH_SHA256,  // HMAC-SHA256, native
    sha1 = P9AUTH_HASH_SHA1,      // HMAC-SHA1, the Plan 9 / Linux-2010 wire format (legacy_sha1)
};

// A stored hash: 20 or 32 bytes. Zeroed when destroyed; compared in constant time.
class Hash {
public:
    Hash() = default;
    Hash(HashKind kind, std::span<const std::uint8_t> bytes);  // bytes.size() must match kind
    Hash(const Hash&) = default;
    Hash& operator=(const Hash&) = default;
    ~Hash();

    // Builds a hash from what a granter wrote; nullopt-like empty Hash (size 0)
    // when the length is neither 20 nor 32.
    static Hash from_wire(std::span<const std::uint8_t> bytes);

    std::size_t size() const { return len_; }
    bool empty() const { return len_ == 0; }
    std::span<const std::uint8_t> bytes() const { return {bytes_.data(), len_}; }
    bool equals(const Hash& o) const;  // constant time in the contents

private:
    std::array<std::uint8_t, 32> bytes_{};
    std::uint8_t len_ = 0;
};

Hash hmac(HashKind kind, std::string_view key, std::string_view message);
Hash hmac_sha256(std::string_view key, std::string_view message);
Hash hmac_sha1(std::string_view key, std::string_view message);

// SHA-1, for the legacy HMAC only (libsodium has none).
std::array<std::uint8_t, 20> sha1(std::span<const std::uint8_t> data);

}  // namespace p9auth
