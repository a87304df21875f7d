// Who is opening caphash or capuse: the credentials the grant policy judges,
// and whether the opener acts for somebody else (a mount helper), read in
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
    enum { real, effective, saved, fs };
    uid_t uid[4] = {};
    gid_t gid[4] = {};
    std::uint64_t cap_effective = 0;
};

// Parses the text of /proc/PID/status; EINVAL when a line we need is missing.
p9auth::Expected<ProcStatus> parse_proc_status(std::string_view text);

// The thread that sent req, as /proc shows it. EPERM when the opener cannot
// be known (pid 0: a pid namespace we cannot see; the process is gone, or
// its pid now names another process).
struct Opener {
    ProcStatus status;
    bool in_mount_ns = false;  // its capabilities count only then
};
p9auth::Expected<Opener> inspect_opener(fuse_req_t req, const UserNamespaceId& mount_ns);

// Spec section 5, "Opened for oneself": caphash and capuse are opened by a
// process for itself. EPERM with the reason for an opener that acts for
// another: set-id (real, effective and saved uids, or gids, not all equal:
// fusermount3 opens a regular-file mount point as its caller to check it
// may mount over it), or able to mount (CAP_SYS_ADMIN in the mount's user
// namespace) without being that namespace's uid 0.
p9auth::Error refuse_acting_for_another(const Opener& who);

// The opener as the grant policy judges it: uid and gid from the request,
// supplementary groups via fuse_req_getgroups, CAP_SETUID and CAP_SETGID
// from the thread's CapEff, counted only in the mount's user namespace.
p9auth::Expected<p9auth::OpenerCreds> opener_creds(fuse_req_t req, const Opener& who);

}  // namespace p9authfs
