// The switch. Only become() uses a privilege, and only in FUSE mode; every
// step is read back from the kernel before p9use believes it.
#include "credentials.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace p9use {
namespace {

using p9auth::fail;

constexpr __u32 kSetidCaps = (1u << CAP_SETUID) | (1u << CAP_SETGID);
constexpr __u32 kSetpcap = 1u << CAP_SETPCAP;
// What a uid-0 target gets in FUSE mode (decisions.md 29): the kernel's
// root rule (full capabilities on every exec by uid 0, set-uid-root
// programs included) is off for good, so the session stays uid 0 without
// capabilities. Unlike no_new_privs it leaves set-uid programs and file
// capabilities working, as for any user.
constexpr unsigned long kRootTargetSecurebits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED;

struct CapSets {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};  // pid 0: this thread
    __user_cap_data_struct data[2]{};                              // all zero: no capabilities
};

bool capget(CapSets* c) { return ::syscall(SYS_capget, &c->hdr, c->data) == 0; }
bool capset(CapSets* c) { return ::syscall(SYS_capset, &c->hdr, c->data) == 0; }

std::string syscall_failed(const char* what, int err) { return std::string(what) + ": " + std::strerror(err); }

// The capabilities p9use needs to switch to uid `to`: CAP_SETPCAP too for
// uid 0, to set the securebits.
__u32 needed_caps(uid_t to) { return to == 0 ? kSetidCaps | kSetpcap : kSetidCaps; }

constexpr const char* kSetcapHint = "as root run: setcap cap_setuid,cap_setgid,cap_setpcap=p p9use";

// The capabilities needed for `to`, and only them, become effective.
p9auth::Error raise_switch_caps(uid_t to) {
    CapSets c;
    if (!capget(&c)) return fail(errno, syscall_failed("capget", errno));
    if ((c.data[0].permitted & needed_caps(to)) != needed_caps(to))
        return fail(EPERM, std::string("p9use lacks its file capabilities; ") + kSetcapHint);
    c.data[0].effective = needed_caps(to);
    c.data[1].effective = 0;
    if (!capset(&c)) return fail(errno, syscall_failed("cannot raise CAP_SETUID/CAP_SETGID", errno));
    return p9auth::Error::ok();
}

std::vector<gid_t> sorted_unique(std::vector<gid_t> v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
}

// The capability is spent by now: say so, and why the switch did not happen.
p9auth::Error switch_failed(const char* what, int err) {
    std::string msg = syscall_failed(what, err);
    if (err == EINVAL) msg += " (an id of the capability is not mapped in this user namespace)";
    return fail(err, msg + "; the capability is spent, nothing was run");
}

bool all_equal(uid_t want, uid_t a, uid_t b, uid_t c, uid_t d) {
    return a == want && b == want && c == want && d == want;
}

}  // namespace

p9auth::Expected<Ids> current_ids() {
    Ids ids{};
    if (::getresuid(&ids.ruid, &ids.euid, &ids.suid) != 0 || ::getresgid(&ids.rgid, &ids.egid, &ids.sgid) != 0)
        return fail(errno, syscall_failed("getresuid/getresgid", errno));
    ids.fsuid = static_cast<uid_t>(::setfsuid(static_cast<uid_t>(-1)));  // an invalid id changes nothing, reads
    ids.fsgid = static_cast<gid_t>(::setfsgid(static_cast<gid_t>(-1)));
    const int n = ::getgroups(0, nullptr);
    if (n < 0) return fail(errno, syscall_failed("getgroups", errno));
    ids.groups.resize(static_cast<std::size_t>(n));
    if (n > 0 && ::getgroups(n, ids.groups.data()) != n) return fail(EAGAIN, "getgroups: the group list changed");
    ids.groups = sorted_unique(std::move(ids.groups));
    return ids;
}

p9auth::Error check_can_switch(const p9auth::Target& to) {
    CapSets c;
    if (!capget(&c)) return fail(errno, syscall_failed("capget", errno));
    if ((c.data[0].permitted & needed_caps(to.uid)) != needed_caps(to.uid))
        return fail(EPERM, std::string("p9use lacks its file capabilities") +
                               (to.uid == 0 ? " (a uid-0 target needs cap_setpcap too)" : "") +
                               " (the capability was not used); " + kSetcapHint);
    if (to.bare()) return p9auth::Error::ok();
    // In a user namespace whose setgroups is "deny", setgroups(2) always fails.
    const int fd = ::open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return p9auth::Error::ok();  // no such file: setgroups is not restricted
    char buf[8] = {};
    const ssize_t got = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (got > 0 && std::strncmp(buf, "deny", 4) == 0)
        return fail(EPERM,
                    "setgroups is denied in this user namespace, so a capability with groups cannot be "
                    "used here (the capability was not used); ask for a uid-only capability");
    return p9auth::Error::ok();
}

p9auth::Error become(const p9auth::Target& to, Mode mode, const Ids& before) {
    if (mode == Mode::fuse) {  // groups and gids first: setresuid may give up the capabilities
        if (p9auth::Error e = raise_switch_caps(to.uid)) return e;
        if (to.uid == 0 && ::prctl(PR_SET_SECUREBITS, kRootTargetSecurebits, 0, 0, 0) != 0)
            return switch_failed("cannot set the securebits SECBIT_NOROOT and its lock", errno);
        if (!to.bare()) {
            if (::setgroups(to.groups.size(), to.groups.data()) != 0) return switch_failed("setgroups", errno);
            if (::setresgid(*to.gid, *to.gid, *to.gid) != 0) return switch_failed("setresgid", errno);
        }
        if (::setresuid(to.uid, to.uid, to.uid) != 0) return switch_failed("setresuid", errno);
    }
    auto now = current_ids();
    if (!now) return now.error();
    const bool uids = all_equal(to.uid, now->ruid, now->euid, now->suid, now->fsuid);
    const bool gids = to.bare() ? now->rgid == before.rgid && now->egid == before.egid && now->sgid == before.sgid &&
                                      now->fsgid == before.fsgid && now->groups == before.groups
                                : all_equal(*to.gid, now->rgid, now->egid, now->sgid, now->fsgid) &&
                                      now->groups == sorted_unique(to.groups);
    if (!uids || !gids)
        return fail(EPERM, "the ids after the switch are not exactly the capability's; not running anything");
    if (mode == Mode::fuse && to.uid == 0) {
        const int bits = ::prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
        if (bits < 0 || (static_cast<unsigned long>(bits) & kRootTargetSecurebits) != kRootTargetSecurebits)
            return fail(EPERM, "SECBIT_NOROOT did not take effect; not running anything as uid 0");
    }
    return p9auth::Error::ok();
}

p9auth::Error drop_privilege() {
    if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return fail(errno, syscall_failed("PR_SET_KEEPCAPS", errno));
    // EINVAL: a kernel without ambient capabilities (before 4.3) has none to clear.
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        return fail(errno, syscall_failed("cannot clear the ambient capabilities", errno));
    CapSets none;
    if (!capset(&none)) return fail(errno, syscall_failed("cannot drop the capabilities", errno));
    // No no_new_privs (decisions.md 29): it is inherited and permanent, and
    // would keep passwd, sudo, su and p9use itself from working in the
    // session. A uid-0 target is held by the securebits set in become().

    CapSets check;
    if (!capget(&check)) return fail(errno, syscall_failed("capget", errno));
    for (const auto& d : check.data)
        if (d.effective || d.permitted || d.inheritable) return fail(EPERM, "capabilities survived the drop");
    if (::prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) != 0) return fail(EPERM, "keepcaps did not go off");
    return p9auth::Error::ok();
}

}  // namespace p9use
