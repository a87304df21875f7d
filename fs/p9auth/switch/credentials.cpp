#include "credentials.hpp"

#include <grp.h>
#include <linux/capability.h>
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

struct CapSets {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
};

bool capget(CapSets* c) { return ::syscall(SYS_capget, &c->hdr, c->data) == 0; }
bool capset(CapSets* c) { return ::syscall(SYS_capset, &c->hdr, c->data) == 0; }

p9auth::Error raise_setid_caps() {
    CapSets c;
    if (!capget(&c)) return fail(errno, "capget failed");
    const __u32 want = (1u << CAP_SETUID) | (1u << CAP_SETGID);
    if ((c.data[0].permitted & want) != want)
        return fail(EPERM, "p9use lacks its file capabilities (setcap cap_setuid,cap_setgid=p p9use)");
    c.data[0].effective = want;
    c.data[1].effective = 0;
    if (!capset(&c)) return fail(errno, "cannot raise CAP_SETUID/CAP_SETGID");
    return p9auth::Error::ok();
}

std::vector<gid_t> sorted_unique(std::vector<gid_t> v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
}

}  // namespace

Ids current_ids() {
    Ids ids{};
    ::getresuid(&ids.ruid, &ids.euid, &ids.suid);
    ::getresgid(&ids.rgid, &ids.egid, &ids.sgid);
    ids.fsuid = static_cast<uid_t>(::setfsuid(static_cast<uid_t>(-1)));  // an invalid id only reads
    ids.fsgid = static_cast<gid_t>(::setfsgid(static_cast<gid_t>(-1)));
    const int n = ::getgroups(0, nullptr);
    if (n > 0) {
        ids.groups.resize(static_cast<std::size_t>(n));
        const int got = ::getgroups(n, ids.groups.data());
        ids.groups.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
    }
    ids.groups = sorted_unique(std::move(ids.groups));
    return ids;
}

p9auth::Error become(const p9auth::Target& to, Mode mode, const Ids& before) {
    if (mode == Mode::fuse) {
        if (p9auth::Error e = raise_setid_caps()) return e;
        if (!to.bare()) {
            if (::setgroups(to.groups.size(), to.groups.data()) != 0)
                return fail(errno, "setgroups: " + std::string(std::strerror(errno)));
            if (::setresgid(*to.gid, *to.gid, *to.gid) != 0)
                return fail(errno, "setresgid: " + std::string(std::strerror(errno)));
        }
        if (::setresuid(to.uid, to.uid, to.uid) != 0)
            return fail(errno, "setresuid: " + std::string(std::strerror(errno)));
    }
    const Ids now = current_ids();
    const bool uids = now.ruid == to.uid && now.euid == to.uid && now.suid == to.uid && now.fsuid == to.uid;
    bool gids;
    if (to.bare()) {
        gids = now.rgid == before.rgid && now.egid == before.egid && now.sgid == before.sgid &&
               now.fsgid == before.fsgid && now.groups == before.groups;
    } else {
        const gid_t g = *to.gid;
        gids = now.rgid == g && now.egid == g && now.sgid == g && now.fsgid == g &&
               now.groups == sorted_unique(to.groups);
    }
    if (!uids || !gids)
        return fail(EPERM, "the credentials after the switch are not exactly the capability's; not running anything");
    return p9auth::Error::ok();
}

p9auth::Error drop_privilege() {
    if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return fail(errno, "PR_SET_KEEPCAPS");
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        return fail(errno, "cannot clear the ambient capabilities");
    CapSets none;
    if (!capset(&none)) return fail(errno, "cannot drop capabilities");
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail(errno, "cannot set no_new_privs");
    CapSets check;
    if (!capget(&check)) return fail(errno, "capget failed");
    for (const auto& d : check.data)
        if (d.effective || d.permitted || d.inheritable) return fail(EPERM, "capabilities survived the drop");
    return p9auth::Error::ok();
}

}  // namespace p9use
