// Kernel module only: refusals that depend on the writer's user namespace
// (spec section 4, "Kernel module only, also refused before the table is
// touched").
#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "registry.hpp"
#include "support.hpp"

namespace conformance {
namespace {

bool write_proc(const char* path, std::string_view text) {
    const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    return ok;
}

// As alice, in a user namespace of her own that maps only her (ns 0 = 2001)
// and denies setgroups: the errno of writing capability to capuse.
int use_from_own_userns(const std::string& mount, const std::string& capability) {
    return run_as(alice(), [&] {
        // Changing uids made this process non-dumpable, which would leave
        // its /proc/self files owned by root.
        if (::prctl(PR_SET_DUMPABLE, 1) != 0 || ::unshare(CLONE_NEWUSER) != 0) return 230;
        if (!write_proc("/proc/self/setgroups", "deny") || !write_proc("/proc/self/uid_map", "0 2001 1\n") ||
            !write_proc("/proc/self/gid_map", "0 2001 1\n"))
            return 231;
        return write_file(mount + "/capuse", capability);
    });
}

CONFORMANCE_CASE(kernel_userns_refusals, "use/kernel-writer-userns-refusals", kKernelOnly) {
    Mount m;
    const auto unmapped_to = target(kBob);
    const auto full_to = target(kAlice, kAlice, {kStaff});
    const Grant unmapped = make(kAlice, unmapped_to);
    const Grant full = make(kAlice, full_to);
    check_errno(m.grant(unmapped.hash), 0, "grant 2001@2002");
    check_errno(m.grant(full.hash), 0, "grant 2001@2001:2001:2100");
    const int e1 = use_from_own_userns(m.path(), unmapped.capability);
    check(e1 != 230 && e1 != 231, "cannot set up a user namespace as uid 2001 (" + std::to_string(e1) + ")");
    check_errno(e1, EINVAL, "TO uid 2002 not mapped in the writer's user namespace");
    check_errno(use_from_own_userns(m.path(), full.capability), EPERM, "full form with setgroups denied");
    const Status s = m.status();
    check(s.outstanding == 2 && s.used == 0 && s.refused == 2, "counters: " + describe(s));
    check_became(use_direct(alice(), unmapped.capability, m.path()), expected_after(alice(), unmapped_to), false,
                 "2001@2002 from the initial namespace");
    check_became(use_direct(alice(), full.capability, m.path()), expected_after(alice(), full_to), false,
                 "2001@2001:2001:2100 from the initial namespace");
}


// A switch made by the module must leave the per-user accounting as
// setresuid(2) would: a later setresuid() with the same ids, a fork and the
// exits must not underflow the target's process count (the VM runner fails
// on the kernel's WARN in dec_rlimit_ucounts).
CONFORMANCE_CASE(kernel_accounting, "use/kernel-accounting-follows-the-uid", kKernelOnly) {
    Mount m;
    const auto to = target(kBob, kBob, {kStaff});
    const Grant g = make(kAlice, to);
    check_errno(m.grant(g.hash), 0, "grant 2001@2002:2002:2100");
    const int rc = run_as(alice(), [&] {
        if (write_file(m.path() + "/capuse", g.capability) != 0) return 240;
        if (::getuid() != kBob) return 241;
        if (::setresuid(kBob, kBob, kBob) != 0) return 242;  // same ids: the ucounts are looked at again
        for (int i = 0; i < 3; ++i) {
            const pid_t child = ::fork();
            if (child < 0) return 243;
            if (child == 0) ::_exit(0);
            int st = 0;
            if (::waitpid(child, &st, 0) != child || !WIFEXITED(st)) return 244;
        }
        return 0;
    });
    check(rc == 0, "switch, setresuid, fork and exit as the target: step " + std::to_string(rc) + " failed");
}

// Spec section 4: a write is one whole message, also a writev(2) of several
// segments (p9auth.ko implements write_iter; with .write alone the VFS
// would deliver each segment as a message of its own).
CONFORMANCE_CASE(kernel_writev_one_message, "write/kernel-writev-is-one-message", kKernelOnly) {
    Mount m;
    const auto to = target(kBob, kBob, {kStaff});
    const Grant g = make(kAlice, to);
    const auto b = g.hash.bytes();
    const int hfd = ::open(m.caphash().c_str(), O_WRONLY | O_CLOEXEC);
    check(hfd >= 0, "open caphash: " + errno_name(errno));
    iovec hv[2] = {{const_cast<std::uint8_t*>(b.data()), 16}, {const_cast<std::uint8_t*>(b.data()) + 16, b.size() - 16}};
    const ssize_t hn = ::writev(hfd, hv, 2);
    const int herr = hn < 0 ? errno : 0;
    ::close(hfd);
    check(hn == static_cast<ssize_t>(b.size()),
          "grant by writev of 16+16 bytes returned " + std::to_string(hn) + " (" + errno_name(herr) + ")");
    const std::size_t split = g.capability.rfind('@');
    const int rc = run_as(alice(), [&] {
        const int fd = ::open(m.capuse().c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0) return 250;
        iovec v[2] = {{const_cast<char*>(g.capability.data()), split},
                      {const_cast<char*>(g.capability.data()) + split, g.capability.size() - split}};
        const ssize_t n = ::writev(fd, v, 2);
        if (n < 0) return errno;
        if (n != static_cast<ssize_t>(g.capability.size())) return 251;
        return ::getuid() == kBob && ::getgid() == kBob ? 0 : 252;
    });
    check(rc == 0, "use by writev of FROM@TO and @KEY: " + (rc < 200 ? errno_name(rc) : "step " + std::to_string(rc)));
    const Status s = m.status();
    check(s.granted == 1 && s.used == 1 && s.refused == 0 && s.outstanding == 0, "counters: " + describe(s));
}

}  // namespace
}  // namespace conformance
