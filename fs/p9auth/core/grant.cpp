#include "grant.hpp"

#include <sodium.h>

#include <cstdlib>

namespace p9auth {

void core_init() {
    if (sodium_init() < 0) std::abort();  // no randomness: nothing may be granted
}

Hash hash_of(const Capability& cap, HashKind kind) { return hmac(kind, cap.key.view(), signed_part(cap.from, cap.to)); }

NewGrant make_grant(uid_t from, const Target& to, HashKind kind) {
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    char b64[sodium_base64_ENCODED_LEN(sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);

    Capability cap;
    cap.from = from;
    cap.to = to;
    cap.key = SecretString(b64);
    sodium_memzero(b64, sizeof b64);

    NewGrant g;
    g.hash = hash_of(cap, kind);
    g.capability = format_capability(cap);
    return g;
}

}  // namespace p9auth
