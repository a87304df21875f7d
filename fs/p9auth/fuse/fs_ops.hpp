// The filesystem's state and its FUSE operations (docs/spec.md sections 3-8).
#pragma once

#include <ctime>

#include <fuse_lowlevel.h>

#include "cap_table.hpp"
#include "grant_policy.hpp"
#include "mount_options.hpp"
#include "opener_creds.hpp"

namespace p9authfs {

// One mount: its options, its table of outstanding hashes, its grant gate.
// Lives in main() for as long as the session; the operations reach it
// through fuse_req_userdata. The table and the gate are thread-safe.
class Filesystem {
public:
    Filesystem(const p9auth::MountOptions& options, UserNamespaceId user_ns);
    Filesystem(const Filesystem&) = delete;
    Filesystem& operator=(const Filesystem&) = delete;

    const p9auth::MountOptions options;
    const UserNamespaceId user_ns;  // the mount's: grant privilege is judged here
    const timespec born;            // every inode's times
    p9auth::CapTable table;         // zeroes every hash when destroyed
    p9auth::GrantGate gate;
};

// The operations table, filled in one place (fs_ops.cpp).
const fuse_lowlevel_ops& operations();

}  // namespace p9authfs
