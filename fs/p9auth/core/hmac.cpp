#include "hmac.hpp"

#include <sodium.h>

#include <cstring>
#include <vector>

#include "secret.hpp"

namespace p9auth {

void secure_zero(void* p, std::size_t n) { sodium_memzero(p, n); }

Hash::Hash(HashKind kind, std::span<const std::uint8_t> bytes) {
    len_ = static_cast<std::uint8_t>(kind);
    if (bytes.size() != len_) {  // a programming error: keep the hash unusable
        len_ = 0;
        return;
    }
    std::memcpy(bytes_.data(), bytes.data(), len_);
}

Hash::~Hash() { sodium_memzero(bytes_.data(), bytes_.size()); }

Hash Hash::from_wire(std::span<const std::uint8_t> bytes) {
    if (bytes.size() == static_cast<std::size_t>(HashKind::sha256)) return Hash(HashKind::sha256, bytes);
    if (bytes.size() == static_cast<std::size_t>(HashKind::sha1)) return Hash(HashKind::sha1, bytes);
    return Hash();
}

bool Hash::equals(const Hash& o) const {
    // Unused bytes are zero in both, so all 32 are compared whatever the kind.
    const bool same_bytes = sodium_memcmp(bytes_.data(), o.bytes_.data(), bytes_.size()) == 0;
    return same_bytes & (len_ == o.len_);
}

Hash hmac_sha256(std::string_view key, std::string_view message) {
    crypto_auth_hmacsha256_state st;
    std::uint8_t out[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(message.data()), message.size());
    crypto_auth_hmacsha256_final(&st, out);
    Hash h(HashKind::sha256, out);
    sodium_memzero(&st, sizeof st);
    sodium_memzero(out, sizeof out);
    return h;
}

// RFC 2104 over our SHA-1.
Hash hmac_sha1(std::string_view key, std::string_view message) {
    constexpr std::size_t block = 64;
    std::uint8_t k0[block] = {};
    if (key.size() > block) {
        auto kh = sha1({reinterpret_cast<const std::uint8_t*>(key.data()), key.size()});
        std::memcpy(k0, kh.data(), kh.size());
        sodium_memzero(kh.data(), kh.size());
    } else {
        std::memcpy(k0, key.data(), key.size());
    }

    std::vector<std::uint8_t, ZeroingAllocator<std::uint8_t>> buf(block + message.size());
    for (std::size_t i = 0; i < block; ++i) buf[i] = k0[i] ^ 0x36;
    std::memcpy(buf.data() + block, message.data(), message.size());
    auto inner = sha1(buf);

    buf.assign(block + inner.size(), 0);
    for (std::size_t i = 0; i < block; ++i) buf[i] = k0[i] ^ 0x5c;
    std::memcpy(buf.data() + block, inner.data(), inner.size());
    auto outer = sha1(buf);

    Hash h(HashKind::sha1, outer);
    sodium_memzero(k0, sizeof k0);
    sodium_memzero(inner.data(), inner.size());
    sodium_memzero(outer.data(), outer.size());
    return h;
}

Hash hmac(HashKind kind, std::string_view key, std::string_view message) {
    return kind == HashKind::sha1 ? hmac_sha1(key, message) : hmac_sha256(key, message);
}

}  // namespace p9auth
