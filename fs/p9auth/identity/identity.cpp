#include "identity.hpp"

#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace p9auth::identity {
namespace {

constexpr std::size_t kFirstBuffer = 16384;

// The key stays out of the message: a name that could not be looked up may
// be a password typed as a user name, and factotum logs these messages.
std::string what_failed(const char* call, int e) { return std::string(call) + ": " + std::strerror(e); }

// Calls one of the reentrant getters, growing the buffer on ERANGE up to
// kMaxEntryBytes. glibc returns 0 with a null result for "no such entry"
// and an errno for everything else (an unreachable module is ENOENT or
// ECONNREFUSED, which getpwnam_r(3) says some systems use for "not found";
// on glibc they are failures, and failures here fail closed).
template <class Entry, class Result, class Get>
Lookup<Result> lookup(const char* call, Get get, Result (*copy)(const Entry&)) {
    std::vector<char> buf(kFirstBuffer);
    for (;;) {
        Entry entry{};
        Entry* res = nullptr;
        const int e = get(&entry, buf.data(), buf.size(), &res);
        if (e == 0) {
            if (!res) return std::optional<Result>{};
            return std::optional<Result>{copy(*res)};
        }
        if (e != ERANGE) return fail(e, what_failed(call, e));
        if (buf.size() >= kMaxEntryBytes)
            return fail(E2BIG, std::string(call) + ": the entry is larger than " +
                                   std::to_string(kMaxEntryBytes >> 20) + " MiB; refusing it");
        buf.resize(std::min(buf.size() * 4, kMaxEntryBytes));
    }
}

User copy_user(const passwd& pw) {
    return User{pw.pw_name, pw.pw_uid, pw.pw_gid, pw.pw_dir && *pw.pw_dir ? pw.pw_dir : "/",
                pw.pw_shell ? pw.pw_shell : ""};
}

Group copy_group(const group& gr) {
    Group g{gr.gr_name, gr.gr_gid, {}};
    for (char** m = gr.gr_mem; m && *m; ++m) g.members.emplace_back(*m);
    return g;
}

}  // namespace

Lookup<User> user_by_name(std::string_view name) {
    const std::string key(name);
    return lookup(
        "getpwnam_r",
        [&](passwd* pw, char* b, std::size_t n, passwd** r) { return ::getpwnam_r(key.c_str(), pw, b, n, r); },
        copy_user);
}

Lookup<User> user_by_uid(uid_t uid) {
    return lookup(
        "getpwuid_r", [&](passwd* pw, char* b, std::size_t n, passwd** r) { return ::getpwuid_r(uid, pw, b, n, r); },
        copy_user);
}

Lookup<Group> group_by_name(std::string_view name) {
    const std::string key(name);
    return lookup(
        "getgrnam_r",
        [&](group* gr, char* b, std::size_t n, group** r) { return ::getgrnam_r(key.c_str(), gr, b, n, r); },
        copy_group);
}

Expected<std::vector<gid_t>> login_groups(const User& user) {
    // getgrouplist says how many there are when the array is too small.
    int n = 64;
    std::vector<gid_t> groups;
    for (;;) {
        groups.resize(static_cast<std::size_t>(n));
        int got = n;
        if (::getgrouplist(user.name.c_str(), user.gid, groups.data(), &got) >= 0) {
            groups.resize(static_cast<std::size_t>(got));
            break;
        }
        if (got <= n)  // -1 without asking for more: it could not list them
            return fail(EIO, "getgrouplist(" + user.name + "): failed without saying how many groups there are");
        if (static_cast<std::size_t>(got) > kMaxLoginGroups)
            return fail(E2BIG, "getgrouplist(" + user.name + "): " + std::to_string(got) + " groups, more than " +
                                   std::to_string(kMaxLoginGroups) + " (NGROUPS_MAX)");
        n = got;
    }
    std::sort(groups.begin(), groups.end());
    groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
    return groups;
}

Expected<Target> login_target(const User& user) {
    auto groups = login_groups(user);
    if (!groups) return groups.error();
    return login_target(user, std::move(*groups));
}

Expected<Target> login_target(const User& user, std::vector<gid_t> groups) {
    std::sort(groups.begin(), groups.end());  // already so from login_groups; the text must not depend on it
    groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
    if (groups.size() > kMaxGroups)
        return fail(E2BIG, user.name + " is in " + std::to_string(groups.size()) +
                               " groups, more than a capability carries (" + std::to_string(kMaxGroups) + ")");
    return Target{user.uid, user.gid, std::move(groups)};
}

}  // namespace p9auth::identity
