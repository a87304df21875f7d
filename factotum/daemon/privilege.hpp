// Giving up privilege after start-up: what factotum keeps is the caphash
// descriptor, the listening socket and (as uid 0 for pam_unix) the right to
// read root-owned files as their owner. See factotum(8), "PRIVILEGE".
#pragma once

#include <sys/stat.h>

#include <string>

#include "error.hpp"

namespace p9auth::factotum {

// Empties the bounding, ambient, inheritable, permitted and effective
// capability sets; with run_as non-empty first becomes that user (uid, gid,
// groups). Then no_new_privs, not dumpable, no core files. Verifies the
// result from /proc/self/status.
Error drop_privileges(const std::string& run_as);

// With run_as non-empty: takes that user's groups, fs gid and fs uid (the
// ids a mount's grant_uid=/grant_gid= checks), so caphash is opened as the
// identity factotum will keep. drop_privileges makes them all the ids.
Error become_fs_identity(const std::string& run_as);

// Whether this process, as it is now (fs ids, groups, capabilities), is
// one a p9auth mount lets open caphash, judged from caphash's owner and
// group (grant_uid=/grant_gid=, 0 when unset; docs/spec.md section 5).
// When it is, an EPERM from open() can only be grant_once.
bool may_grant_on(const struct stat& caphash);

// "uid=0 gid=0 caps=0 bounding=0 nnp=1" for the start-up log line.
std::string describe_privileges();

// Landlock: from now on this thread and the threads it starts may create,
// truncate or open for writing only files beneath writable_dir
// (pam_faillock's tallies; nothing when it is empty or does not exist). Descriptors
// already open (caphash) are not affected. Needs no_new_privs.
struct Confinement {
    bool writes_confined = false;  // Landlock in force: the filter may allow O_RDWR opens
    std::string note;              // for the start-up record
};
// A kernel (or an outer filter) without Landlock is not an error: the
// result says so, and the seccomp filter then keeps every open read-only.
Expected<Confinement> confine_writes(const std::string& writable_dir);

// The seccomp filter (seccomp_allow.cpp). Applied to every thread of the
// calling process. The monitor's allows what PAM and NSS modules need; the
// front's only its event loop, its channels and the log.
// writes_confined (monitor): Landlock keeps writes under the tally
// directory, so O_RDWR opens (pam_faillock) are allowed; otherwise opens
// stay read-only.
// network (monitor, --network): modules may open IPv4/IPv6 UDP and TCP
// sockets (pam_krb5 to a KDC); the front never.
enum class Half { monitor, front };
Error install_seccomp(Half half, bool writes_confined, bool network);

// A forbidden system call the filter refused (with EPERM) in the calling
// thread since the last look: its number (-1: none) and how many more
// followed it. Taking it clears it.
struct Trap {
    int nr = -1;
    unsigned more = 0;
};
Trap seccomp_take_trap();
// "personality (135)": the call's name on this architecture and its number.
std::string syscall_name(int nr);

}  // namespace p9auth::factotum
