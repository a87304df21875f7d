// HMAC-SHA256 against RFC 4231; SHA-1 against RFC 3174; HMAC-SHA1 against
// RFC 2202 and against hashes computed by an independent tool (openssl).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "grant.hpp"
#include "hmac.hpp"
#include "test_util.hpp"

namespace p9auth {
namespace {

using test::bytes;
using test::hex;

struct Vector {
    std::string key, data, mac;
};

std::string seq(int from, int to) {
    std::string s;
    for (int i = from; i <= to; ++i) s.push_back(static_cast<char>(i));
    return s;
}

TEST(HmacSha256, Rfc4231) {
    const Vector v[] = {
        {bytes(20, '\x0b'), "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {"Jefe", "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {bytes(20, '\xaa'), bytes(50, '\xdd'), "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
        {seq(1, 25), bytes(50, '\xcd'), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
        {bytes(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        {bytes(131, '\xaa'),
         "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be "
         "hashed before being used by the HMAC algorithm.",
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
    };
    for (const auto& t : v) {
        Hash h = hmac_sha256(t.key, t.data);
        EXPECT_EQ(h.size(), 32u);
        EXPECT_EQ(hex(h), t.mac);
    }
}

TEST(Sha1, Rfc3174) {
    auto sha = [](std::string_view s) {
        return hex(sha1({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}));
    };
    EXPECT_EQ(sha(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    EXPECT_EQ(sha("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    EXPECT_EQ(sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    EXPECT_EQ(sha(std::string(1000000, 'a')), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    // Lengths around the padding boundary (55, 56, 63, 64 bytes) cross-checked with openssl below.
}

// Computed with: printf '%s' DATA | openssl dgst -sha1 -hmac KEY
TEST(HmacSha1, AgainstOpenssl) {
    const Vector v[] = {
        {"Jefe", "what do ya want for nothing?", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
        {"q3Xk7lR0vXgZ1m2N9bQy8w_AbCdEfGhIjKlMnOpQrSt", "2001@2002:2002:3001,3002",
         "042a0ec31ca5b7632e1f3f59c4317f0095601e31"},
        {std::string(100, 'k'), "0@0", "bc75b48adcce1695084854e760a48fb43796d94e"},
        {"abcdefghijklmnopqrstuv", "1000@1001", "69db449f209fb97365229f94865429cc2b3225ed"},
    };
    for (const auto& t : v) {
        Hash h = hmac_sha1(t.key, t.data);
        EXPECT_EQ(h.size(), 20u);
        EXPECT_EQ(hex(h), t.mac);
    }
}

TEST(HmacSha1, Rfc2202) {
    EXPECT_EQ(hex(hmac_sha1(bytes(20, '\x0b'), "Hi There")), "b617318655057264e28bc0b6fb378c8ef146be00");
    EXPECT_EQ(hex(hmac_sha1(bytes(80, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First")),
              "aa4ae5e15272d00e95705637ce8a3b55ed402112");
}

// Every message length from 0 to 130 bytes against openssl, run now, so the
// padding code meets an independent implementation at every boundary.
TEST(HmacSha1, EveryLengthAgainstOpensslNow) {
    if (std::system("command -v openssl >/dev/null 2>&1") != 0) GTEST_SKIP() << "openssl not installed";
    const std::string key = "k3y-for-the-length-sweep";
    for (std::size_t n = 0; n <= 130; ++n) {
        std::string msg;
        for (std::size_t i = 0; i < n; ++i) msg.push_back(static_cast<char>('a' + i % 26));
        const std::string cmd = "printf '%s' '" + msg + "' | openssl dgst -sha1 -hmac '" + key + "' -r";
        FILE* p = popen(cmd.c_str(), "r");
        ASSERT_NE(p, nullptr);
        char buf[128] = {};
        ASSERT_NE(fgets(buf, sizeof buf, p), nullptr);
        pclose(p);
        EXPECT_EQ(hex(hmac_sha1(key, msg)), std::string(buf, 40)) << "length " << n;
    }
}

TEST(Hash, FromWireAndEquality) {
    std::uint8_t b32[32] = {1, 2, 3};
    std::uint8_t b20[20] = {1, 2, 3};
    std::uint8_t b31[31] = {};
    Hash a = Hash::from_wire(b32), b = Hash::from_wire(b20);
    EXPECT_EQ(a.size(), 32u);
    EXPECT_EQ(b.size(), 20u);
    EXPECT_TRUE(Hash::from_wire(b31).empty());
    EXPECT_TRUE(Hash::from_wire({}).empty());
    // Same leading bytes, different kinds: not equal.
    EXPECT_FALSE(a.equals(b));
    EXPECT_TRUE(a.equals(Hash::from_wire(b32)));
    b32[31] = 1;
    EXPECT_FALSE(a.equals(Hash::from_wire(b32)));
}

TEST(Grant, MakeGrantHashesItsOwnCapability) {
    core_init();
    Target to{2002, 2002, {3001}};
    NewGrant g = make_grant(2001, to);
    auto cap = parse_capability(g.capability.view());
    ASSERT_TRUE(cap) << cap.error().message;
    EXPECT_EQ(cap->from, 2001u);
    EXPECT_EQ(cap->to, to);
    EXPECT_EQ(cap->key.size(), 43u);  // 32 bytes, base64url, no padding
    EXPECT_TRUE(g.hash.equals(hash_of(*cap, HashKind::sha256)));
    NewGrant g1 = make_grant(2001, to, HashKind::sha1);
    EXPECT_EQ(g1.hash.size(), 20u);
    // Two grants never share a key.
    EXPECT_NE(make_grant(1, to).capability.view(), make_grant(1, to).capability.view());
}

}  // namespace
}  // namespace p9auth
