// p9grant: grant a capability, as factotum does after authenticating, without
// the authenticating. Runs as a granter (CAP_SETUID+CAP_SETGID in the mount's
// user namespace, or the mount's grant_uid/grant_gid).
//
//   p9grant [-m MOUNTPOINT] [--sha1] [--uid-only] FROM TO
//
// Exit status: 0 granted (the capability is on stdout), 1 not granted, 2 usage.
#include <fcntl.h>
#include <getopt.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "capability.hpp"
#include "config.hpp"
#include "die.hpp"
#include "fs_magic.hpp"
#include "grant.hpp"
#include "identity.hpp"
#include "p9auth_spec.h"

namespace {

constexpr int kFailed = 1, kUsage = 2;

const char* const kUsageText =
    "usage: p9grant [-m MOUNTPOINT] [--sha1] [--uid-only] FROM TO\n"
    "       p9grant --help | --version\n"
    "Grants FROM (a user name or uid) a one-time capability to become TO, with\n"
    "TO's gid and login groups from the user database, and prints the capability.\n"
    "\n"
    "  -m, --mountpoint DIR  the p9auth mount (default: mountpoint in /etc/p9auth/p9auth.conf)\n"
    "      --sha1            an HMAC-SHA1 grant, for a mount with legacy_sha1\n"
    "      --uid-only        the bare form: TO's uid only; FROM keeps her gid and groups\n"
    "  -h, --help            show this text\n"
    "  -V, --version         show the version\n"
    "Exit status: 0 granted, 1 not granted, 2 usage. See p9grant(8).\n";

[[noreturn]] void die(int status, const std::string& msg) { p9auth::die("p9grant", status, msg); }

[[noreturn]] void usage_error(const std::string& msg) {
    std::fprintf(stderr, "p9grant: %s\n%s", msg.c_str(), kUsageText);
    std::exit(kUsage);
}

struct Args {
    std::string mountpoint;  // empty: from p9auth.conf
    bool sha1 = false, uid_only = false;
    std::string from, to;
};

Args parse_args(int argc, char** argv) {
    enum { kSha1 = 256, kUidOnly };
    static const option kLong[] = {
        {"mountpoint", required_argument, nullptr, 'm'}, {"sha1", no_argument, nullptr, kSha1},
        {"uid-only", no_argument, nullptr, kUidOnly},    {"help", no_argument, nullptr, 'h'},
        {"version", no_argument, nullptr, 'V'},          {nullptr, 0, nullptr, 0},
    };
    Args a;
    opterr = 0;  // our messages, in our style
    for (;;) {
        const int c = ::getopt_long(argc, argv, ":m:hV", kLong, nullptr);
        if (c == -1) break;
        switch (c) {
            case 'm':
                if (!*optarg) usage_error("-m needs a mount point");
                a.mountpoint = optarg;
                break;
            case kSha1: a.sha1 = true; break;
            case kUidOnly: a.uid_only = true; break;
            case 'h': std::fputs(kUsageText, stdout); std::exit(0);
            case 'V': std::printf("p9grant %s\n", P9AUTH_VERSION); std::exit(0);
            case ':': usage_error(std::string(argv[optind - 1]) + " needs a value");
            default: {
                const std::string_view last = argv[optind - 1];
                usage_error(last.starts_with("--") ? "unknown option " + std::string(last)
                                                   : std::string("unknown option -") + static_cast<char>(optopt));
            }
        }
    }
    if (argc - optind != 2) usage_error("expected FROM and TO");
    a.from = argv[optind];
    a.to = argv[optind + 1];
    return a;
}

// A user by name or, when it is all digits, by uid; through NSS either way.
// A lookup that fails is said as such, never as "no such user".
p9auth::identity::User lookup(const std::string& who) {
    p9auth::identity::Lookup<p9auth::identity::User> found = std::optional<p9auth::identity::User>{};
    if (!who.empty() && std::all_of(who.begin(), who.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        auto t = p9auth::parse_target(who);  // canonical decimal, in range
        if (!t || !t->bare()) die(kFailed, who + " is not a valid uid");
        found = p9auth::identity::user_by_uid(t->uid);
    } else {
        found = p9auth::identity::user_by_name(who);
    }
    if (!found) die(kFailed, "cannot look up " + who + ": " + found.error().message);
    if (!*found) die(kFailed, "no such user: " + who);
    return std::move(**found);
}

// The full form a login of the user gets, or the bare form.
p9auth::Target target_of(const p9auth::identity::User& user, bool uid_only) {
    if (uid_only) return p9auth::Target{user.uid, std::nullopt, {}};
    auto to = p9auth::identity::login_target(user);
    if (!to && to.error().errnum == E2BIG) die(kFailed, to.error().message + "; use --uid-only");
    if (!to) die(kFailed, "cannot list the groups of " + user.name + ": " + to.error().message);
    return std::move(*to);
}

// errno from caphash (docs/spec.md sections 4 and 5), said so that a person knows what to do.
std::string explain(int err, bool sha1) {
    std::string e = std::strerror(err);
    switch (err) {
        case EPERM:
            return e +
                   ": not allowed to grant on this mount (needs CAP_SETUID and CAP_SETGID in its user namespace, "
                   "or the mount's grant_uid=/grant_gid=; with grant_once, it was opened already)";
        case EACCES: return e + ": caphash can only be opened for writing";
        case ENOSPC:
            return e +
                   ": the table is full (maxcaps= outstanding grants); retry after uses or expiry, or remount with a "
                   "larger maxcaps=";
        case EINVAL:
            return e + (sha1 ? ": this mount takes no HMAC-SHA1 hashes (mount option legacy_sha1); drop --sha1"
                             : ": the filesystem refused the hash");
        case EEXIST: return e + ": this hash is outstanding already";
        case ENOENT: return e + ": no p9auth filesystem there; is p9authfs mounted?";
        case ENOTCONN: return e + ": the p9authfs daemon is gone; unmount and restart it";
        default: return e;
    }
}

// Writes all of it, or says why not.
bool write_all(int fd, std::string_view s) {
    while (!s.empty()) {
        const ssize_t n = ::write(fd, s.data(), s.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        s.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

}  // namespace

static int main_body(int argc, char** argv) {
    const Args args = parse_args(argc, argv);
    std::signal(SIGPIPE, SIG_IGN);  // a closed stdout is an error message, not a silent death
    std::string mountpoint = args.mountpoint;
    if (mountpoint.empty()) {
        auto config = p9auth::load_config();
        if (!config) die(kFailed, config.error().message);
        mountpoint = config->mountpoint;
    }
    const uid_t from = lookup(args.from).uid;
    const p9auth::Target to = target_of(lookup(args.to), args.uid_only);

    p9auth::core_init();
    const p9auth::NewGrant g =
        p9auth::make_grant(from, to, args.sha1 ? p9auth::HashKind::sha1 : p9auth::HashKind::sha256);
    const std::string caphash = mountpoint + "/" P9AUTH_FILE_CAPHASH;
    const int fd = ::open(caphash.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
    if (fd < 0) die(kFailed, caphash + ": " + explain(errno, args.sha1));
    if (const int e = p9auth::p9auth_filesystem_check(fd); e == EPERM)
        die(kFailed, caphash + " is not on a p9auth filesystem; is p9authfs mounted at " + mountpoint + "?");
    else if (e != 0)
        die(kFailed, caphash + ": " + explain(e, args.sha1));
    const auto bytes = g.hash.bytes();
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    const int err = errno;
    ::close(fd);
    if (n < 0) die(kFailed, caphash + ": " + explain(err, args.sha1));
    if (static_cast<std::size_t>(n) != bytes.size()) die(kFailed, caphash + ": short write; nothing granted");

    p9auth::SecretString out = g.capability;  // one write, no stdio buffer left holding the key
    out.push_back('\n');
    if (!write_all(STDOUT_FILENO, out.view()))
        die(kFailed, std::string("granted, but cannot write the capability to standard output: ") +
                         std::strerror(errno) + " (the grant expires unused)");
    return 0;
}

int main(int argc, char** argv) {
    return p9auth::run_main("p9grant", kFailed, [&] { return main_body(argc, argv); });
}
