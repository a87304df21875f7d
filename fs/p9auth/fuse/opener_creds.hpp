// Who is opening caphash: the credentials the grant policy judges, read in
// the mount's user namespace (docs/spec.md section 5).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string_view>

#include <fuse_lowlevel.h>

#include "error.hpp"
#include "grant_policy.hpp"

namespace p9authfs {

// A user namespace, named as the kernel names it: the device and inode of
// /proc/PID/ns/user.
struct UserNamespaceId {
    dev_t dev = 0;
    ino_t ino = 0;
    bool operator==(const UserNamespaceId&) const = default;
};

// The daemon's own user namespace, which is the mount's (the daemon mounted
// it). Also checks that /proc shows the daemon's pid namespace, the one the
// kernel translates request pids into; otherwise /proc/PID would name
// somebody else.
p9auth::Expected<UserNamespaceId> mount_user_namespace();

// What /proc/PID/status says about a thread, in the reader's user namespace.
struct ProcStatus {
    uid_t fsuid = 0;
    gid_t fsgid = 0;
    std::uint64_t cap_effective = 0;
};

// Parses the text of /proc/PID/status; EINVAL when a line we need is missing.
p9auth::Expected<ProcStatus> parse_proc_status(std::string_view text);

// The opener of req: uid and gid from the request, supplementary groups via
// fuse_req_getgroups, CAP_SETUID and CAP_SETGID from the requesting thread's
// CapEff, counted only when that thread is in mount_ns. EPERM when the
// opener cannot be known (pid 0: a pid namespace we cannot see; the process
// is gone, or its pid now names another process).
p9auth::Expected<p9auth::OpenerCreds> opener_creds(fuse_req_t req, const UserNamespaceId& mount_ns);

}  // namespace p9authfs
