// Grant: who may open caphash (spec section 5) and what a write to it does
// (section 4), including the legacy 20-byte form (section 2).
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "registry.hpp"
#include "support.hpp"

namespace conformance {
namespace {

constexpr std::uint64_t bit(int cap) { return std::uint64_t{1} << cap; }

// In a child still running as root: become ids keeping only the capabilities
// in mask (effective and permitted), then return the errno of opening path
// for writing.
int open_with_caps(const Ids& ids, std::uint64_t mask, const std::string& path) {
    return run_as(user(0), [&] {
        if (::prctl(PR_SET_KEEPCAPS, 1) != 0) return 240;
        if (::setgroups(ids.groups.size(), ids.groups.data()) != 0 || ::setresgid(ids.gid, ids.gid, ids.gid) != 0 ||
            ::setresuid(ids.uid, ids.uid, ids.uid) != 0)
            return 241;
        __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
        __user_cap_data_struct data[2]{};
        if (::syscall(SYS_capget, &hdr, data) != 0) return 242;
        for (int i = 0; i < 2; ++i) {
            const auto m = static_cast<std::uint32_t>(mask >> (32 * i));
            data[i].permitted &= m;
            data[i].effective = data[i].permitted;
            data[i].inheritable = 0;
        }
        if (::syscall(SYS_capset, &hdr, data) != 0) return 243;
        return open_errno(path, O_WRONLY);
    });
}

int grant_as(const Ids& ids, const Mount& m, const p9auth::Hash& h) {
    return run_as(ids, [&] { return m.grant(h); });
}

CONFORMANCE_CASE(grant_unprivileged, "grant/unprivileged-refused", kBoth) {
    Mount m;
    const Grant g = make(kAlice, target(kBob, kBob));
    check_errno(grant_as(alice(), m, g.hash), EPERM, "open caphash as uid 2001");
    check_errno(grant_as(Ids{kGranter, kGrantGroup, {0}}, m, g.hash), EPERM, "open caphash as uid 3001 in group 0");
    check_errno(open_with_caps(user(0), ~(bit(CAP_SETUID) | bit(CAP_SETGID)), m.caphash()), EPERM,
                "open caphash as uid 0 without CAP_SETUID and CAP_SETGID");
    check_errno(open_with_caps(user(0), ~bit(CAP_SETGID), m.caphash()), EPERM,
                "open caphash as uid 0 without CAP_SETGID");
    check_errno(open_with_caps(user(0), ~bit(CAP_SETUID), m.caphash()), EPERM,
                "open caphash as uid 0 without CAP_SETUID");
    // The rules decide at open, not the mode bits: access() says yes to everybody.
    check_errno(run_as(alice(), [&] { return ::access(m.caphash().c_str(), W_OK) == 0 ? 0 : errno; }), 0,
                "access(caphash, W_OK) as uid 2001");
    const Status s = m.status();
    check(s.granted == 0 && s.outstanding == 0, "counters: " + describe(s));
    check_errno(use_direct(alice(), g.capability, m.path()).code, EPERM, "use of the refused grant");
}

CONFORMANCE_CASE(grant_caps_not_mode, "grant/capabilities-not-file-mode-decide", kBoth) {
    // A non-root process holding CAP_SETUID and CAP_SETGID may grant though
    // caphash is mode 0200 owned by root; root without them may not.
    Mount m;
    check_errno(open_with_caps(Ids{kGranter, kGranter, {}}, bit(CAP_SETUID) | bit(CAP_SETGID), m.caphash()), 0,
                "open caphash as uid 3001 with CAP_SETUID and CAP_SETGID only");
}

CONFORMANCE_CASE(grant_uid_option, "grant/grant_uid", kBoth) {
    Mount m("grant_uid=3001");
    struct stat st {};
    check(::stat(m.caphash().c_str(), &st) == 0, "stat caphash");
    check(st.st_uid == kGranter && st.st_gid == 0,
          "caphash owner " + std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid) + ", want 3001:0");
    const auto to = target(kBob, kBob);
    const Grant g = make(kAlice, to);
    check_errno(grant_as(user(kGranter), m, g.hash), 0, "grant as uid 3001");
    check_errno(m.grant(make(kAlice, to).hash), EPERM, "grant as root (CAP_SETUID) with grant_uid=3001");
    check_errno(grant_as(Ids{kOther, kGranter, {kGranter}}, m, make(kAlice, to).hash), EPERM,
                "grant as uid 3002 with gid 3001");
    check_became(use_native(alice(), g.capability, m.path()), expected_after(alice(), to), fuse(),
                 "use of the grant by uid 3001");
}

// Opens caphash with real uid ruid, effective and saved uid euid, and the
// filesystem uid (and gid) set to fs.
int open_with_fsuid(uid_t ruid, uid_t euid, uid_t fs, const std::string& path) {
    return run_as(user(0), [&] {
        if (::setgroups(0, nullptr) != 0 || ::setresgid(ruid, euid, euid) != 0 || ::setresuid(ruid, euid, euid) != 0)
            return 241;
        ::setfsgid(fs);
        ::setfsuid(fs);
        if (static_cast<uid_t>(::setfsuid(static_cast<uid_t>(-1))) != fs) return 242;
        return open_errno(path, O_WRONLY);
    });
}

CONFORMANCE_CASE(grant_uid_fsuid, "grant/grant_uid-checks-filesystem-uid", kBoth) {
    Mount m("grant_uid=3001");
    // Root's other ids are 0 (factotum --user): only the fsuid decides.
    check_errno(open_with_fsuid(0, 0, kOther, m.caphash()), EPERM, "uid 0, fsuid 3002");
    check_errno(open_with_fsuid(0, 0, kGranter, m.caphash()), 0, "uid 0, fsuid 3001");
    // A set-id opener acts for another, whatever its fsuid (section 5).
    check_errno(open_with_fsuid(kOther, kGranter, kOther, m.caphash()), EPERM, "ruid 3002, euid 3001, fsuid 3002");
    check_errno(open_with_fsuid(kGranter, kOther, kGranter, m.caphash()), EPERM,
                "ruid 3001, euid 3002, fsuid 3001 (set-id)");
}

CONFORMANCE_CASE(grant_gid_option, "grant/grant_gid", kBoth) {
    Mount m("grant_gid=3100");
    struct stat st {};
    check(::stat(m.caphash().c_str(), &st) == 0, "stat caphash");
    check(st.st_uid == 0 && st.st_gid == kGrantGroup,
          "caphash owner " + std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid) + ", want 0:3100");
    const auto to = target(kBob, kBob);
    check_errno(grant_as(Ids{kOther, kOther, {kGrantGroup}}, m, make(kAlice, to).hash), 0,
                "grant as uid 3002 with supplementary group 3100");
    check_errno(grant_as(Ids{kOther, kGrantGroup, {}}, m, make(kAlice, to).hash), 0, "grant as uid 3002 with gid 3100");
    check_errno(grant_as(Ids{kOther, kOther, {kStaff}}, m, make(kAlice, to).hash), EPERM,
                "grant as uid 3002 without group 3100");
    check_errno(m.grant(make(kAlice, to).hash), EPERM, "grant as root with grant_gid=3100");
    check(m.status().granted == 2, "granted counter: " + describe(m.status()));
}

CONFORMANCE_CASE(grant_uid_and_gid, "grant/grant_uid-and-grant_gid-both-needed", kBoth) {
    Mount m("grant_uid=3001,grant_gid=3100");
    const auto to = target(kBob);
    check_errno(grant_as(Ids{kGranter, kGranter, {kGrantGroup}}, m, make(kAlice, to).hash), 0,
                "uid 3001 in group 3100");
    check_errno(grant_as(Ids{kGranter, kGranter, {}}, m, make(kAlice, to).hash), EPERM, "uid 3001 without 3100");
    check_errno(grant_as(Ids{kOther, kGrantGroup, {kGrantGroup}}, m, make(kAlice, to).hash), EPERM,
                "uid 3002 in group 3100");
}

CONFORMANCE_CASE(grant_once_option, "grant/grant_once", kBoth) {
    Mount m("grant_once");
    const auto to = target(kBob, kBob);
    // An unprivileged attempt does not spend the one open (decisions.md 7).
    check_errno(grant_as(alice(), m, make(kAlice, to).hash), EPERM, "open by uid 2001");
    const int fd = ::open(m.caphash().c_str(), O_WRONLY | O_CLOEXEC);
    check(fd >= 0, "first open of caphash by root: " + errno_name(errno));
    const Grant g1 = make(kAlice, to);
    const auto b1 = g1.hash.bytes();
    check(::write(fd, b1.data(), b1.size()) == static_cast<ssize_t>(b1.size()), "grant through the first open");
    check_errno(open_errno(m.caphash(), O_WRONLY), EPERM, "second open while the first is open");
    const Grant g2 = make(kAlice, to);
    const auto b2 = g2.hash.bytes();
    check(::write(fd, b2.data(), b2.size()) == static_cast<ssize_t>(b2.size()),
          "grant through the first open after a refused open");
    ::close(fd);
    check_errno(open_errno(m.caphash(), O_WRONLY), EPERM, "open after the first was closed");
    check_errno(open_with_caps(user(0), ~std::uint64_t{0}, m.caphash()), EPERM, "open by a fresh root process");
    check(m.status().granted == 2, "counters: " + describe(m.status()));
    check_became(use_native(alice(), g1.capability, m.path()), expected_after(alice(), to), fuse(), "use of grant 1");
    check_errno(use_direct(alice(), g2.capability, m.path()).code, 0, "use of grant 2");
}

CONFORMANCE_CASE(grant_table_full, "grant/table-full-ENOSPC", kBoth) {
    Mount m("maxcaps=2");
    const auto to = target(kBob, kBob);
    const Grant a = make(kAlice, to), b = make(kAlice, to), c = make(kAlice, to);
    check_errno(m.grant(a.hash), 0, "grant 1");
    check_errno(m.grant(b.hash), 0, "grant 2");
    check_errno(m.grant(c.hash), ENOSPC, "grant 3 into a full table");
    Status s = m.status();
    check(s.outstanding == 2 && s.granted == 2 && s.refused == 1 && s.maxcaps == 2,
          "counters when full: " + describe(s));
    check_errno(use_direct(alice(), c.capability, m.path()).code, EPERM, "use of the refused grant");
    check_errno(use_direct(alice(), a.capability, m.path()).code, 0, "grant 1 still usable");
    check_errno(m.grant(c.hash), 0, "grant 3 once there is room");
    check_errno(use_direct(alice(), b.capability, m.path()).code, 0, "grant 2 still usable");
    check_errno(use_direct(alice(), c.capability, m.path()).code, 0, "grant 3 usable");
    s = m.status();
    check(s.outstanding == 0 && s.granted == 3 && s.used == 3 && s.refused == 2, "final counters: " + describe(s));
}

CONFORMANCE_CASE(grant_duplicate, "grant/duplicate-EEXIST", kBoth) {
    Mount m;
    const Grant g = make(kAlice, target(kBob, kBob));
    check_errno(m.grant(g.hash), 0, "grant");
    check_errno(m.grant(g.hash), EEXIST, "the same hash again");
    const Status s = m.status();
    check(s.outstanding == 1 && s.granted == 1 && s.refused == 1, "counters: " + describe(s));
    check_errno(use_direct(alice(), g.capability, m.path()).code, 0, "first use");
    check_errno(use_direct(alice(), g.capability, m.path()).code, EPERM, "the duplicate did not make it usable twice");
}

void wrong_lengths(const std::string& opts, std::initializer_list<std::size_t> lengths) {
    Mount m(opts);
    std::uint64_t refused = 0;
    for (std::size_t n : lengths) {
        const std::string bytes(n, '\x5a');
        check_errno(write_file(m.caphash(), bytes), EINVAL, std::to_string(n) + "-byte write to caphash");
        ++refused;
    }
    // A valid hash split over two writes is two bad writes, not a grant.
    const Grant g = make(kAlice, target(kBob));
    const auto b = g.hash.bytes();
    const int fd = ::open(m.caphash().c_str(), O_WRONLY | O_CLOEXEC);
    check(fd >= 0, "open caphash");
    const bool first = ::write(fd, b.data(), 16) < 0 && errno == EINVAL;
    const bool second = ::write(fd, b.data() + 16, 16) < 0 && errno == EINVAL;
    ::close(fd);
    check(first && second, "a 32-byte hash written as two 16-byte writes was accepted");
    refused += 2;
    // A zero-length write returns 0 and changes nothing.
    const int fd2 = ::open(m.caphash().c_str(), O_WRONLY | O_CLOEXEC);
    const ssize_t z = ::write(fd2, "", 0);
    const int ze = errno;
    ::close(fd2);
    check(z == 0, "zero-length write to caphash: " + errno_name(ze));
    const Status s = m.status();
    check(s.outstanding == 0 && s.granted == 0 && s.refused == refused,
          "counters after bad grants: " + describe(s) + ", want refused " + std::to_string(refused));
    check_errno(use_direct(alice(), g.capability, m.path()).code, EPERM, "use after the split grant");
}

CONFORMANCE_CASE(grant_wrong_length, "grant/wrong-length-EINVAL", kBoth) {
    wrong_lengths("", {1, 16, 19, 20, 21, 31, 33, 40, 52, 64, 4096});
}

CONFORMANCE_CASE(grant_wrong_length_legacy, "grant/wrong-length-EINVAL-legacy_sha1", kBoth) {
    wrong_lengths("legacy_sha1", {1, 19, 21, 31, 33, 40, 52, 64});
}

CONFORMANCE_CASE(grant_legacy, "grant/legacy-sha1-with-option", kBoth) {
    Mount m("legacy_sha1");
    const auto to = target(kBob, kBob, {kStaff});
    const Grant g1 = make(kAlice, to, p9auth::HashKind::sha1);
    check(g1.hash.size() == 20, "core made a 20-byte hash");
    check_errno(m.grant(g1.hash), 0, "20-byte grant");
    check_became(use_native(alice(), g1.capability, m.path()), expected_after(alice(), to), fuse(), "legacy use");
    const Grant g2 = make(kAlice, to);
    check_errno(m.grant(g2.hash), 0, "32-byte grant on a legacy_sha1 mount");
    check_errno(use_direct(alice(), g2.capability, m.path()).code, 0, "32-byte use on a legacy_sha1 mount");
    // A legacy grant of the same text is another hash: each is used once.
    const Grant g3 = make(kAlice, target(kBob), p9auth::HashKind::sha1);
    check_errno(m.grant(g3.hash), 0, "20-byte grant of the bare form");
    check_errno(use_direct(alice(), g3.capability, m.path()).code, 0, "bare legacy use");
    check_errno(use_direct(alice(), g3.capability, m.path()).code, EPERM, "bare legacy replay");
    const Status s = m.status();
    check(s.granted == 3 && s.used == 3 && s.refused == 1, "counters: " + describe(s));
}

CONFORMANCE_CASE(grant_legacy_refused, "grant/legacy-sha1-refused-without-option", kBoth) {
    Mount m;
    const Grant g = make(kAlice, target(kBob, kBob), p9auth::HashKind::sha1);
    check_errno(m.grant(g.hash), EINVAL, "20-byte grant without legacy_sha1");
    check_errno(use_direct(alice(), g.capability, m.path()).code, EPERM, "use of the refused legacy grant");
    const Status s = m.status();
    check(s.granted == 0 && s.refused == 2, "counters: " + describe(s));
}

// Issue 12 item 1: grant_uid=/grant_gid= give the grant right away, so
// only a mounter holding CAP_SETUID and CAP_SETGID may name them. A
// mounter with CAP_SYS_ADMIN alone (uid 2001) is refused: the kernel with
// EPERM, p9authfs by exiting with a message saying so; nothing is mounted.
CONFORMANCE_CASE(grant_options_need_setid, "mount/grant-uid-needs-mounters-setuid-setgid", kBoth) {
    const std::string path = ensure_dir(config().mount);
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    check(pid >= 0, "fork");
    if (pid == 0) {
        if (!drop_keeping({CAP_SYS_ADMIN})) ::_exit(230);
        for (const char* opts : {"grant_uid=2001", "grant_gid=2001"}) {
            std::string log;
            const int r = mount_refusal(opts, path, &log);
            if (r == -1) ::_exit(231);
            if (kernel() && r != EPERM) ::_exit(232);
            if (fuse() && (r == 0 || log.find("CAP_SETUID and CAP_SETGID") == std::string::npos)) {
                std::fprintf(stderr, "p9authfs -o %s: exit %d: %s\n", opts, r, log.c_str());
                ::_exit(233);
            }
        }
        ::_exit(0);
    }
    int st = 0;
    check(::waitpid(pid, &st, 0) == pid && WIFEXITED(st), "the mounter child did not exit");
    const int code = WEXITSTATUS(st);
    check(code != 231, "a CAP_SYS_ADMIN-only mounter mounted with grant_uid=/grant_gid=");
    check(code == 0, "CAP_SYS_ADMIN-only mounter: step " + std::to_string(code) + " failed");
    check(!mounted_at(path), "the refused mount left something mounted");
}

}  // namespace
}  // namespace conformance
