// Making a capability: a fresh random key, its text and its hash.
// Used by every granter (p9grant, factotum) and by the tests.
#pragma once

#include <sys/types.h>

#include "capability.hpp"
#include "hmac.hpp"

namespace p9auth {

struct NewGrant {
    SecretString capability;  // FROM@TO@KEY, for the user
    Hash hash;                // for caphash
};

// 32 random bytes of key from libsodium, unpadded base64url.
NewGrant make_grant(uid_t from, const Target& to, HashKind kind = HashKind::sha256);

// The hash of an existing capability (its KEY over FROM@TO).
Hash hash_of(const Capability& cap, HashKind kind);

// Must be called once before any other function of the core (sodium_init).
void core_init();

}  // namespace p9auth
