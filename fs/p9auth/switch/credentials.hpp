// Becoming exactly the target, and giving up every privilege on the way.
#pragma once

#include "capability.hpp"
#include "error.hpp"
#include "mount_check.hpp"

namespace p9use {

// The ids the process has now; compared before and after the switch.
struct Ids {
    uid_t ruid, euid, suid, fsuid;
    gid_t rgid, egid, sgid, fsgid;
    std::vector<gid_t> groups;  // sorted, without duplicates
};
Ids current_ids();

// FUSE mode: sets groups, gids and uids to `to` with the file capabilities
// CAP_SETGID/CAP_SETUID (raised to effective only for this). Kernel mode:
// the write to capuse did it already. Either way the result is verified
// against `to` (and, for the bare form, gids and groups against `before`).
p9auth::Error become(const p9auth::Target& to, Mode mode, const Ids& before);

// Drops every capability (effective, permitted, inheritable, ambient), keeps
// none across setuid, sets no_new_privs, and checks that it worked.
p9auth::Error drop_privilege();

}  // namespace p9use
