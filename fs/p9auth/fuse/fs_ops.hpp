// The filesystem's state and its FUSE operations (docs/spec.md sections 3-8).
#pragma once

#include <ctime>
#include <memory>
#include <mutex>
#include <unordered_map>

#include <fuse_lowlevel.h>

#include "cap_table.hpp"
#include "grant_policy.hpp"
#include "mount_options.hpp"
#include "opener_creds.hpp"

namespace p9authfs {

struct OpenFile;  // what an open file handle points to (fs_ops.cpp)

// One mount: its options, its table of outstanding hashes, its grant gate.
// Lives in main() for as long as the session; the operations reach it
// through fuse_req_userdata. The table and the gate are thread-safe.
class Filesystem {
public:
    Filesystem(const p9auth::MountOptions& options, UserNamespaceId user_ns);
    Filesystem(const Filesystem&) = delete;
    Filesystem& operator=(const Filesystem&) = delete;
    ~Filesystem();

    const p9auth::MountOptions options;
    const UserNamespaceId user_ns;  // the mount's: grant privilege is judged here
    const timespec born;            // every inode's times
    p9auth::CapTable table;         // zeroes every hash when destroyed
    p9auth::GrantGate gate;

    // Every open handle, owned here: a release the kernel never sends (the
    // mount went away first) must not leak one. open_mu guards open_files.
    std::mutex open_mu;
    std::unordered_map<const OpenFile*, std::unique_ptr<OpenFile>> open_files;
};

// The operations table, filled in one place (fs_ops.cpp).
const fuse_lowlevel_ops& operations();

}  // namespace p9authfs
