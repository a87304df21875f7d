// Openers acting for another (spec section 5, "Opened for oneself"): a
// set-id process, or a non-root one able to mount, opens neither caphash
// nor capuse, so a set-uid mount helper such as fusermount3 cannot check
// that its caller may mount over capuse (issue 10, item 6). Each opener
// is built by hand in a child of this root process, as the helper is
// when it opens its mount point: ids set with setres[ug]id, the fs ids
// lowered with setfs[ug]id. tests/integration/mount-over-capuse.sh runs
// the real fusermount3.
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <functional>

#include "registry.hpp"
#include "support.hpp"

namespace conformance {
namespace {

// An open's outcome in one digit: 0 opened, 1 EPERM, 2 EACCES, 3 anything else.
constexpr int outcome(int e) { return e == 0 ? 0 : e == EPERM ? 1 : e == EACCES ? 2 : 3; }
constexpr int both(int use_errno, int hash_errno) { return outcome(use_errno) * 10 + outcome(hash_errno); }

// In a child still running as root: become the opener `become` makes (230
// when it cannot), then open capuse and caphash for writing: both().
int open_both_as(const Mount& m, const std::function<bool()>& become) {
    return run_as(user(0), [&] {
        if (::setgroups(0, nullptr) != 0 || !become()) return 230;
        return both(open_errno(m.capuse(), O_WRONLY), open_errno(m.caphash(), O_WRONLY));
    });
}

std::string describe_both(int code) {
    if (code >= 100) return "the child could not become the opener (" + std::to_string(code) + ")";
    static const char* const names[] = {"opened", "EPERM", "EACCES", "another error"};
    return std::string("capuse ") + names[code / 10 % 4] + ", caphash " + names[code % 10 % 4];
}

// fusermount3 as it opens a regular-file mount point: real uid the
// caller's, effective and saved uid 0, fs ids the caller's (CAP_SETUID,
// CAP_SETGID and CAP_SYS_ADMIN still effective).
bool become_setuid_helper() {
    return ::setresgid(kAlice, kAlice, kAlice) == 0 && ::setresuid(kAlice, 0, 0) == 0 &&
           (::setfsuid(kAlice), static_cast<uid_t>(::setfsuid(static_cast<uid_t>(-1))) == kAlice);
}

CONFORMANCE_CASE(open_setuid_helper, "open/set-uid-helper-refused", kBoth) {
    Mount m;
    const int code = open_both_as(m, become_setuid_helper);
    check(code == both(EPERM, EPERM),
          "a set-uid helper (uids 2001 0 0 2001) opening as its caller: want capuse EPERM, caphash EPERM; got " +
              describe_both(code));
    // Users who open for themselves are unaffected.
    const Grant g = make(kAlice, target(kBob, kBob));
    check_errno(m.grant(g.hash), 0, "grant after the refused opens");
    check_became(use_native(alice(), g.capability, m.path()), expected_after(alice(), target(kBob, kBob)), fuse(),
                 "2001@2002:2002 after the refused opens");
}

// A helper that lowered its effective uid with seteuid() can raise it
// again: the saved uid counts.
CONFORMANCE_CASE(open_saved_uid, "open/saved-uid-0-refused", kBoth) {
    Mount m;
    const int code =
        open_both_as(m, [] { return ::setresgid(kAlice, kAlice, kAlice) == 0 && ::setresuid(kAlice, kAlice, 0) == 0; });
    check(code == both(EPERM, EPERM), "uids 2001 2001 0: want capuse EPERM, caphash EPERM; got " + describe_both(code));
}

CONFORMANCE_CASE(open_setgid, "open/set-gid-opener-refused", kBoth) {
    Mount m;
    const int code = open_both_as(
        m, [] { return ::setresgid(kAlice, kStaff, kStaff) == 0 && ::setresuid(kAlice, kAlice, kAlice) == 0; });
    check(code == both(EPERM, EPERM),
          "gids 2001 2100 2100, uids 2001: want capuse EPERM, caphash EPERM; got " + describe_both(code));
}

// A mount helper with file capabilities instead of the set-uid bit.
CONFORMANCE_CASE(open_capable_helper, "open/cap-sys-admin-non-root-refused", kBoth) {
    Mount m;
    int code = open_both_as(m, [] { return drop_keeping({CAP_SYS_ADMIN}); });
    check(code == both(EPERM, EPERM),
          "uid 2001 with CAP_SYS_ADMIN: want capuse EPERM, caphash EPERM; got " + describe_both(code));
    // p9use's capabilities (and a granter's) are not a mounter's.
    code = open_both_as(m, [] { return drop_keeping({CAP_SETUID, CAP_SETGID}); });
    check(code == both(0, 0), "uid 2001 with CAP_SETUID and CAP_SETGID: want both opened; got " + describe_both(code));
}

// factotum --user opens caphash as root with the fsuid of its grant_uid=
// user; root's fs ids may differ from its others, and root may mount.
CONFORMANCE_CASE(open_root_fsuid, "open/root-with-lowered-fsuid-opens", kBoth) {
    Mount m("grant_uid=3001");
    const int code = open_both_as(m, [] {
        ::setfsgid(kGrantGroup);
        ::setfsuid(kGranter);
        return static_cast<uid_t>(::setfsuid(static_cast<uid_t>(-1))) == kGranter;
    });
    check(code == both(0, 0), "uid 0 with fsuid 3001, grant_uid=3001: want both opened; got " + describe_both(code));
}

}  // namespace
}  // namespace conformance
