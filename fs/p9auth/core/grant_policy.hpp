// Who may open caphash: CAP_GRANT_ID as a pure function of the opener's
// credentials and the mount options (docs/spec.md, section 5).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <optional>
#include <vector>

#include "error.hpp"

namespace p9auth {

struct GrantPolicy {
    std::optional<uid_t> grant_uid;
    std::optional<gid_t> grant_gid;
    bool grant_once = false;
};

// The opener's credentials, read in the mount's user namespace.
struct OpenerCreds {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
    bool has_setuid_and_setgid = false;  // CAP_SETUID and CAP_SETGID in the mount's user namespace
};

// EPERM with the reason, or success.
Error may_grant(const GrantPolicy& policy, const OpenerCreds& who);

// The gate at caphash's open: the policy plus grant_once's "never again",
// decided and recorded atomically.
class GrantGate {
public:
    explicit GrantGate(GrantPolicy policy) : policy_(policy) {}
    Error open(const OpenerCreds& who);

private:
    const GrantPolicy policy_;
    std::atomic<bool> opened_{false};
};

}  // namespace p9auth
