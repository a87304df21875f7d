#include "privilege.hpp"

#include <grp.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <linux/securebits.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <vector>

#include "identity.hpp"

namespace p9auth::factotum {
namespace {

Error sys(const std::string& what) { return fail(errno, what + ": " + std::strerror(errno)); }

int capset_empty() {
    __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct d[2]{};
    return static_cast<int>(::syscall(SYS_capset, &h, d));
}

std::string status_field(const std::string& name) {
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind(name + ":", 0) == 0) {
            auto v = line.substr(name.size() + 1);
            v.erase(0, v.find_first_not_of(" \t"));
            return v;
        }
    return "?";
}

Expected<identity::User> lookup_user(const std::string& name) {
    auto found = identity::user_by_name(name);
    if (!found) return fail(found.error().errnum, "--user " + name + ": " + found.error().message);
    if (!*found) return fail(ENOENT, "--user " + name + ": no such user");
    if ((*found)->uid == 0) return fail(EINVAL, "--user " + name + " is uid 0; leave --user out to run as uid 0");
    return std::move(**found);
}

// What initgroups(3) would set, from the one meaning of a login's groups.
Error take_login_groups(const identity::User& user) {
    auto groups = identity::login_groups(user);
    if (!groups) return fail(groups.error().errnum, "--user " + user.name + ": " + groups.error().message);
    if (::setgroups(groups->size(), groups->data()) != 0) return sys("setgroups(" + user.name + ")");
    return Error::ok();
}

}  // namespace

Error become_fs_identity(const std::string& run_as) {
    if (run_as.empty()) return Error::ok();
    auto user = lookup_user(run_as);
    if (!user) return user.error();
    if (Error e = take_login_groups(*user)) return e;
    ::setfsgid(user->gid);
    ::setfsuid(user->uid);
    if (static_cast<uid_t>(::setfsuid(static_cast<uid_t>(-1))) != user->uid)
        return fail(EPERM, "setfsuid did not take");
    return Error::ok();
}

Error drop_privileges(const std::string& run_as) {
    // Bounding set first: dropping needs CAP_SETPCAP, which we still hold.
    for (int cap = 0; cap <= 63; ++cap) {
        int in = ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
        if (in < 0) break;      // past the kernel's last capability
        if (in == 0) continue;  // already gone (a unit's CapabilityBoundingSet=)
        if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) return sys("prctl(PR_CAPBSET_DROP)");
    }
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        return sys("prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
    // uid 0 must never regain capabilities (execve of anything, setuid games).
    if (::prctl(PR_SET_SECUREBITS,
                SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
                    SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED | SECBIT_KEEP_CAPS_LOCKED,
                0, 0, 0) != 0)
        return sys("prctl(PR_SET_SECUREBITS)");

    if (!run_as.empty()) {
        auto user = lookup_user(run_as);
        if (!user) return user.error();
        if (Error e = take_login_groups(*user)) return e;
        if (::setresgid(user->gid, user->gid, user->gid) != 0) return sys("setresgid");
        if (::setresuid(user->uid, user->uid, user->uid) != 0) return sys("setresuid");
        uid_t r, e, s;
        if (::getresuid(&r, &e, &s) != 0 || r != user->uid || e != user->uid || s != user->uid)
            return fail(EPERM, "setresuid did not take");
    }
    if (capset_empty() != 0) return sys("capset (empty)");
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return sys("prctl(PR_SET_NO_NEW_PRIVS)");
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return sys("prctl(PR_SET_DUMPABLE)");
    rlimit no_core{0, 0};
    if (::setrlimit(RLIMIT_CORE, &no_core) != 0) return sys("setrlimit(RLIMIT_CORE)");

    // Trust, but verify: the kernel's own view.
    for (const char* f : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"})
        if (status_field(f) != "0000000000000000")
            return fail(EPERM, std::string("capabilities left after the drop: ") + f + " " + status_field(f));
    if (status_field("NoNewPrivs") != "1") return fail(EPERM, "no_new_privs did not take");
    return Error::ok();
}

bool may_grant_on(const struct stat& caphash) {
    const uid_t fsuid = static_cast<uid_t>(::setfsuid(static_cast<uid_t>(-1)));
    const gid_t fsgid = static_cast<gid_t>(::setfsgid(static_cast<gid_t>(-1)));
    if (caphash.st_uid == 0 && caphash.st_gid == 0) {  // no grant_uid=/grant_gid=: CAP_SETUID and CAP_SETGID
        __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
        __user_cap_data_struct d[2]{};
        if (::syscall(SYS_capget, &h, d) != 0) return false;
        const unsigned need = (1u << CAP_SETUID) | (1u << CAP_SETGID);
        return (d[0].effective & need) == need;
    }
    bool uid_ok = caphash.st_uid == 0 || caphash.st_uid == fsuid;
    bool gid_ok = caphash.st_gid == 0 || caphash.st_gid == fsgid;
    if (!gid_ok) {
        std::vector<gid_t> groups(static_cast<std::size_t>(std::max(::getgroups(0, nullptr), 0)));
        int n = ::getgroups(static_cast<int>(groups.size()), groups.data());
        for (int i = 0; i < n; ++i) gid_ok = gid_ok || groups[static_cast<std::size_t>(i)] == caphash.st_gid;
    }
    return uid_ok && gid_ok;
}

#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)  // ABI 3 (Linux 6.2); Debian 12's headers predate it
#endif

Expected<Confinement> confine_writes(const std::string& writable_dir) {
    // Every way of writing or making a file that the kernel's ABI knows.
    long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 0) {
        // ENOSYS/EOPNOTSUPP: not in this kernel or not enabled; EPERM: an
        // outer filter (a unit or container without the calls) refuses it.
        if (errno == ENOSYS || errno == EOPNOTSUPP || errno == EPERM)
            return Confinement{false, std::string("no Landlock (") + std::strerror(errno) +
                                          "): every open stays read-only, pam_faillock cannot write its tallies"};
        return fail(errno, std::string("landlock_create_ruleset: ") + std::strerror(errno));
    }
    std::uint64_t writes = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
                           LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
                           LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
                           LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
    if (abi >= 2) writes |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3) writes |= LANDLOCK_ACCESS_FS_TRUNCATE;
    landlock_ruleset_attr attr{};
    attr.handled_access_fs = writes;
    int ruleset = static_cast<int>(::syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0));
    if (ruleset < 0) return fail(errno, std::string("landlock_create_ruleset: ") + std::strerror(errno));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{ruleset};
    std::string note = "Landlock ABI " + std::to_string(abi) + ": files writable only under ";
    int dir = writable_dir.empty() ? -1 : ::open(writable_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
        // A tally is opened, created, locked, truncated and rewritten in place.
        landlock_path_beneath_attr beneath{};
        beneath.allowed_access =
            writes & (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_TRUNCATE);
        beneath.parent_fd = dir;
        long rc = ::syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &beneath, 0);
        int e = errno;
        ::close(dir);
        if (rc != 0) return fail(e, "landlock_add_rule " + writable_dir + ": " + std::strerror(e));
        note += writable_dir;
    } else if (writable_dir.empty()) {
        note = "Landlock ABI " + std::to_string(abi) + ": no file writable";
    } else {
        note += "nothing (" + writable_dir + ": " + std::strerror(errno) + ")";
    }
    // This thread and those it starts later: called before the workers exist.
    if (::syscall(SYS_landlock_restrict_self, ruleset, 0) != 0)
        return fail(errno, std::string("landlock_restrict_self: ") + std::strerror(errno));
    return Confinement{true, note};
}

#ifndef FACTOTUM_SECCOMP
// Built without the filter: nothing is ever refused.
Trap seccomp_take_trap() { return {}; }
std::string syscall_name(int nr) { return "syscall " + std::to_string(nr); }
#endif

std::string describe_privileges() {
    return "uid=" + std::to_string(::getuid()) + " gid=" + std::to_string(::getgid()) +
           " CapEff=" + status_field("CapEff") + " CapBnd=" + status_field("CapBnd") +
           " NoNewPrivs=" + status_field("NoNewPrivs") + " Seccomp=" + status_field("Seccomp");
}

}  // namespace p9auth::factotum
