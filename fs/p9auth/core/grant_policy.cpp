#include "grant_policy.hpp"

#include <algorithm>
#include <cerrno>
#include <string>

namespace p9auth {

Error may_grant(const GrantPolicy& p, const OpenerCreds& who) {
    if (p.grant_uid || p.grant_gid) {
        if (p.grant_uid && who.uid != *p.grant_uid)
            return fail(EPERM, "grant refused: only uid " + std::to_string(*p.grant_uid) +
                                   " may open caphash on this mount (grant_uid), not uid " + std::to_string(who.uid));
        if (p.grant_gid && who.gid != *p.grant_gid &&
            std::find(who.groups.begin(), who.groups.end(), *p.grant_gid) == who.groups.end())
            return fail(EPERM, "grant refused: only members of gid " + std::to_string(*p.grant_gid) +
                                   " may open caphash on this mount (grant_gid)");
        return Error::ok();
    }
    if (!who.has_setuid_and_setgid)
        return fail(EPERM,
                    "grant refused: opening caphash needs CAP_SETUID and CAP_SETGID in the mount's "
                    "user namespace (or the mount's grant_uid=/grant_gid=)");
    return Error::ok();
}

Error GrantGate::open(const OpenerCreds& who) {
    if (Error e = may_grant(policy_, who)) return e;
    if (policy_.grant_once && opened_.exchange(true))
        return fail(EPERM, "grant refused: caphash has been opened once already and this mount has grant_once");
    return Error::ok();
}

}  // namespace p9auth
