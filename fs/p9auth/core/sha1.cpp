// SHA-1 (FIPS 180-4), only for the legacy HMAC-SHA1 wire format: libsodium
// has no SHA-1. Checked against RFC 3174 / RFC 2202 vectors and openssl in
// tests/unit/hmac_test.cpp.
#include <cstring>

#include "hmac.hpp"
#include "secret.hpp"

namespace p9auth {
namespace {

std::uint32_t rol(std::uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

void compress(std::uint32_t h[5], const std::uint8_t block[64]) {
    std::uint32_t w[80];
    for (std::size_t i = 0; i < 16; ++i)
        w[i] = std::uint32_t(block[4 * i]) << 24 | std::uint32_t(block[4 * i + 1]) << 16 |
               std::uint32_t(block[4 * i + 2]) << 8 | std::uint32_t(block[4 * i + 3]);
    for (int i = 16; i < 80; ++i) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
        std::uint32_t f, k;
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5a827999;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8f1bbcdc;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6;
        }
        const std::uint32_t t = rol(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol(b, 30);
        b = a;
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    secure_zero(w, sizeof w);
}

}  // namespace

std::array<std::uint8_t, 20> sha1(std::span<const std::uint8_t> data) {
    std::uint32_t h[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
    std::size_t i = 0;
    for (; i + 64 <= data.size(); i += 64) compress(h, data.data() + i);

    std::uint8_t tail[128] = {};
    const std::size_t rest = data.size() - i;
    if (rest) std::memcpy(tail, data.data() + i, rest);
    tail[rest] = 0x80;
    const std::size_t tail_len = rest + 1 + 8 <= 64 ? 64 : 128;
    const std::uint64_t bits = std::uint64_t(data.size()) * 8;
    for (int j = 0; j < 8; ++j) tail[tail_len - 1 - j] = std::uint8_t(bits >> (8 * j));
    compress(h, tail);
    if (tail_len == 128) compress(h, tail + 64);
    secure_zero(tail, sizeof tail);

    std::array<std::uint8_t, 20> out;
    for (std::size_t j = 0; j < 5; ++j) {
        out[4 * j] = std::uint8_t(h[j] >> 24);
        out[4 * j + 1] = std::uint8_t(h[j] >> 16);
        out[4 * j + 2] = std::uint8_t(h[j] >> 8);
        out[4 * j + 3] = std::uint8_t(h[j]);
    }
    return out;
}

}  // namespace p9auth
