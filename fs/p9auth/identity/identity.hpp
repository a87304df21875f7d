// Users and groups as NSS gives them: the one place the project looks them
// up (p9grant, factotum's policy, its targets, its --user and subordinate
// range owners, p9su, p9logind). pam_p9auth alone asks pam_modutil, which
// keeps the entry with the PAM handle as PAM modules should. Each lookup
// tells "there is no such entry" apart from "NSS could not answer", so a
// caller that decides who may become whom can fail closed on the second.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "capability.hpp"
#include "error.hpp"

namespace p9auth::identity {

// One lookup's answer: an error when NSS could not answer (a module
// unavailable, an entry larger than kMaxEntryBytes, EIO, ...); otherwise
// the entry, or nullopt when NSS answered "no such entry".
template <class T>
using Lookup = Expected<std::optional<T>>;

// What the project needs of a passwd entry (copied: NSS reuses its buffers).
struct User {
    std::string name;
    uid_t uid = 0;
    gid_t gid = 0;      // primary
    std::string home;   // pw_dir ("/" when empty), for a login's session
    std::string shell;  // pw_shell as NSS has it (empty: the caller's default)
};

struct Group {
    std::string name;
    gid_t gid = 0;
    std::vector<std::string> members;  // gr_mem: the users that list it as a supplementary group
};

// The largest passwd or group entry a lookup grows its buffer to; past it
// the lookup fails (E2BIG) rather than reporting the entry absent.
inline constexpr std::size_t kMaxEntryBytes = std::size_t{4} << 20;
// The most login groups a lookup collects (Linux's NGROUPS_MAX).
inline constexpr std::size_t kMaxLoginGroups = 65536;

// Error messages name the call and the cause, never the name looked up
// (it may be a password typed as a user name); callers add it where it is
// safe to show.
Lookup<User> user_by_name(std::string_view name);
Lookup<User> user_by_uid(uid_t uid);
Lookup<Group> group_by_name(std::string_view name);

// The groups a login of this user gets (what initgroups(3) sets plus the
// primary gid): every group NSS lists the user in and the primary gid,
// sorted ascending without duplicates. This order is the one text of the
// capability's group list (docs/decisions.md 14 and 67). Bounded by
// kMaxLoginGroups (E2BIG past it). getgrouplist(3) cannot report a module
// that failed; see docs/decisions.md 68 for what the policy does about it.
Expected<std::vector<gid_t>> login_groups(const User& user);

// What a capability for a login of this user carries: uid, primary gid and
// login_groups(). E2BIG when there are more than a capability carries
// (kMaxGroups); the caller may then offer the bare form.
Expected<Target> login_target(const User& user);
// The same from groups already listed by login_groups(user), so that what a
// policy judged is what the capability carries.
Expected<Target> login_target(const User& user, std::vector<gid_t> groups);

}  // namespace p9auth::identity
