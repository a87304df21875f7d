// Becoming exactly the target, and giving up every privilege on the way.
#pragma once

#include <sys/types.h>

#include <vector>

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
// Fails (rather than guessing) when the kernel does not answer.
p9auth::Expected<Ids> current_ids();

// Before the write, in FUSE mode: can this process carry out a switch to
// `to` at all? (Its file capabilities are there; for a full form, setgroups
// is allowed in its user namespace.) Refusing here keeps the capability
// unspent; the switch itself still checks every step.
p9auth::Error check_can_switch(const p9auth::Target& to);

// FUSE mode: sets groups, gids and uids to `to` with the file capabilities
// CAP_SETGID/CAP_SETUID (raised to effective only for this); for a uid-0
// target first the locked securebits SECBIT_NOROOT (with CAP_SETPCAP), so
// that no exec gives it capabilities back. Kernel mode:
// the write to capuse did it already. Either way the result is verified
// against `to` (and, for the bare form, gids and groups against `before`).
p9auth::Error become(const p9auth::Target& to, Mode mode, const Ids& before);

// Drops every capability (effective, permitted, inheritable, ambient), keeps
// none across setuid, and reads all of it back. Sets no no_new_privs, so
// set-uid programs work in what PROGRAM starts (decisions.md 29).
p9auth::Error drop_privilege();

}  // namespace p9use
