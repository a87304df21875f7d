// p9grant: grant a capability, as factotum does after authenticating, without
// the authenticating. Runs as a granter (CAP_SETUID+CAP_SETGID in the mount's
// user namespace, or the mount's grant_uid/grant_gid).
//
//   p9grant [-m MOUNTPOINT] [--sha1] [--uid-only] FROM TO
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "capability.hpp"
#include "config.hpp"
#include "grant.hpp"

namespace {

constexpr int kFailed = 1, kUsage = 2;

const char* const kUsageText =
    "usage: p9grant [-m MOUNTPOINT] [--sha1] [--uid-only] FROM TO\n"
    "Grants FROM (a user name or uid) a one-time capability to become TO, with\n"
    "TO's gid and groups from the user database, and prints the capability.\n";

[[noreturn]] void die(int status, const std::string& msg) {
    std::fprintf(stderr, "p9grant: %s\n", msg.c_str());
    std::exit(status);
}

bool all_digits(const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A user by name or number, through NSS.
std::optional<passwd> lookup(const std::string& who, std::string* name) {
    passwd* pw = nullptr;
    if (all_digits(who)) {
        auto t = p9auth::parse_target(who);  // canonical decimal, in range
        if (!t || !t->bare()) return std::nullopt;
        pw = ::getpwuid(t->uid);
    } else {
        pw = ::getpwnam(who.c_str());
    }
    if (!pw) return std::nullopt;
    *name = pw->pw_name;
    return *pw;
}

// What a login would give: the primary gid and every group listing the user.
std::vector<gid_t> login_groups(const std::string& name, gid_t gid) {
    int n = 64;
    std::vector<gid_t> g;
    for (int tries = 0; tries < 8; ++tries) {
        g.resize(static_cast<std::size_t>(n));
        if (::getgrouplist(name.c_str(), gid, g.data(), &n) >= 0) {
            g.resize(static_cast<std::size_t>(n));
            std::sort(g.begin(), g.end());
            g.erase(std::unique(g.begin(), g.end()), g.end());
            return g;
        }
    }
    die(kFailed, "cannot list the groups of " + name);
}

std::string explain(int err) {
    switch (err) {
        case EPERM:
            return "not allowed to grant on this mount (opening caphash needs CAP_SETUID and CAP_SETGID "
                   "in its user namespace, or the mount's grant_uid=/grant_gid=; or it has grant_once)";
        case EACCES: return "permission denied";
        case ENOSPC: return "the table is full (maxcaps= outstanding capabilities); try again after uses or expiry";
        case EINVAL: return "the filesystem refused the hash (is --sha1 used without legacy_sha1?)";
        case EEXIST: return "this hash is outstanding already";
        case ENOTCONN: return "the filesystem is gone (is p9authfs running?)";
        default: return std::strerror(err);
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string mountpoint;
    bool sha1 = false, uid_only = false;
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-m" && i + 1 < argc) mountpoint = argv[++i];
        else if (a == "--sha1") sha1 = true;
        else if (a == "--uid-only") uid_only = true;
        else if (a == "--help") { std::fputs(kUsageText, stdout); return 0; }
        else if (a == "--version") { std::puts("p9grant " P9AUTH_VERSION); return 0; }
        else if (!a.empty() && a[0] == '-') die(kUsage, "unknown option " + a + "\n" + kUsageText);
        else args.push_back(a);
    }
    if (args.size() != 2) die(kUsage, std::string("expected FROM and TO\n") + kUsageText);
    if (mountpoint.empty()) {
        auto config = p9auth::load_config();
        if (!config) die(kFailed, config.error().message);
        mountpoint = config->mountpoint;
    }

    std::string from_name, to_name;
    auto from = lookup(args[0], &from_name);
    if (!from) die(kFailed, "no such user: " + args[0]);
    auto to_pw = lookup(args[1], &to_name);
    if (!to_pw) die(kFailed, "no such user: " + args[1]);
    p9auth::Target to{to_pw->pw_uid, std::nullopt, {}};
    if (!uid_only) {
        to.gid = to_pw->pw_gid;
        to.groups = login_groups(to_name, to_pw->pw_gid);
        if (to.groups.size() > p9auth::kMaxGroups) die(kFailed, to_name + " has more groups than a capability can carry");
    }

    p9auth::core_init();
    const p9auth::NewGrant g =
        p9auth::make_grant(from->pw_uid, to, sha1 ? p9auth::HashKind::sha1 : p9auth::HashKind::sha256);
    const std::string caphash = mountpoint + "/caphash";
    const int fd = ::open(caphash.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) die(kFailed, caphash + ": " + explain(errno));
    const auto bytes = g.hash.bytes();
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    const int err = errno;
    ::close(fd);
    if (n != static_cast<ssize_t>(bytes.size())) die(kFailed, caphash + ": " + explain(n < 0 ? err : EIO));

    std::fwrite(g.capability.data(), 1, g.capability.size(), stdout);
    std::fputc('\n', stdout);
    if (std::fflush(stdout) != 0) die(kFailed, "cannot write the capability to standard output");
    return 0;
}
