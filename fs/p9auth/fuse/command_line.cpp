#include "command_line.hpp"

#include <getopt.h>

#include <array>
#include <cerrno>
#include <string>

#include "p9auth_spec.h"

namespace p9authfs {

using p9auth::fail;

namespace {

// Generic mount options that mount(8) and mount.fuse3 pass to every helper
// ("rw", and "dev,suid" for root unless the line says otherwise). They change
// nothing here: the mount is always nosuid,nodev,noexec (none of its three
// files is a device or a program) and allow_other, and its files' times are
// not kept. Accepting them is what lets "mount -t fuse.p9authfs" and fstab work.
constexpr std::array kNoEffect = {
    "rw",          "suid",          "nosuid",   "dev",        "nodev",       "exec",     "noexec",
    "async",       "atime",         "noatime",  "diratime",   "nodiratime",  "relatime", "norelatime",
    "strictatime", "nostrictatime", "lazytime", "nolazytime", "allow_other",
};

bool no_effect(std::string_view name) {
    for (std::string_view n : kNoEffect)
        if (n == name) return true;
    return false;
}

// Generic options that would make a p9authfs mount other than spec section 5
// says, refused with the reason.
p9auth::Error refused(std::string_view name) {
    const std::string n(name);
    if (name == "ro")
        return fail(
            EINVAL,
            "mount option 'ro': caphash and capuse are written to; a read-only p9authfs could neither grant nor use");
    if (name == "default_permissions")
        return fail(EINVAL,
                    "mount option 'default_permissions': the grant rules decide who may open caphash, not mode bits "
                    "(p9authfs(8))");
    if (name == "fsname")
        return fail(EINVAL,
                    "mount option 'fsname': name the filesystem with the SOURCE operand (p9authfs SOURCE MOUNTPOINT)");
    if (name == "subtype") return fail(EINVAL, "mount option 'subtype': the type is always fuse." P9AUTH_FUSE_SUBTYPE);
    return fail(EINVAL, "unknown mount option '" + n + "'");
}

p9auth::Error parse_options(std::string_view list, p9auth::MountOptions& options) {
    while (!list.empty()) {
        const auto comma = list.find(',');
        const std::string_view item = list.substr(0, comma);
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        if (item.empty()) continue;  // "a,,b" and a trailing comma, as mount(8) allows
        const auto eq = item.find('=');
        const std::string_view name = item.substr(0, eq);
        const std::string_view value = eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
        if (eq != std::string_view::npos && value.empty())
            return fail(EINVAL, "mount option " + std::string(name) + ": empty value");
        bool ours = false;
        if (p9auth::Error e = options.set(name, value, &ours)) return e;
        if (ours) continue;
        if (eq == std::string_view::npos && no_effect(name)) continue;
        return refused(name);
    }
    return p9auth::Error::ok();
}

// The mount's source shows in mountinfo, df and findmnt. A name, not a path:
// "p9authfs /run/p9auth /mnt" is more likely a mistake than a mount of /mnt
// named "/run/p9auth".
p9auth::Error check_source(std::string_view s) {
    if (s.empty() || s.size() > 64)
        return fail(EINVAL, "SOURCE must be a name of 1 to 64 characters, not '" + std::string(s) + "'");
    if (s.find('/') != std::string_view::npos)
        return fail(EINVAL, "two operands '" + std::string(s) +
                                "' and a mount point: the first is the SOURCE, a name "
                                "such as p9authfs, and has no '/'; p9authfs mounts at one mount point");
    for (unsigned char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                        c == '-' || c == '.' || c == ':' || c == '@';
        if (!ok) return fail(EINVAL, "SOURCE '" + std::string(s) + "' may hold only letters, digits and _-.:@");
    }
    return p9auth::Error::ok();
}

}  // namespace

p9auth::Expected<CommandLine> parse_command_line(int argc, char** argv) {
    static const option kLong[] = {
        {"help", no_argument, nullptr, 'h'},
        {"version", no_argument, nullptr, 'V'},
        {nullptr, 0, nullptr, 0},
    };
    CommandLine cl;
    opterr = 0;  // our messages, not getopt's
    optind = 0;  // 0: a full reset, so a second parse (tests) starts afresh
    for (;;) {
        const int c = ::getopt_long(argc, argv, ":fdso:hV", kLong, nullptr);
        if (c == -1) break;
        switch (c) {
            case 'h': cl.action = CommandLine::Action::help; return cl;
            case 'V': cl.action = CommandLine::Action::version; return cl;
            case 'f': cl.foreground = true; break;
            case 'd': cl.debug = cl.foreground = true; break;
            case 's': cl.single_thread = true; break;
            case 'o':
                if (p9auth::Error e = parse_options(optarg, cl.options)) return e;
                break;
            case ':':
                return fail(EINVAL, optopt == 'o' ? std::string("-o needs a list of mount options")
                                                  : "'" + std::string(argv[optind - 1]) + "' needs a value");
            default: {
                const std::string_view last = argv[optind - 1];
                if (last.starts_with("--")) return fail(EINVAL, "unknown flag '" + std::string(last) + "'");
                return fail(EINVAL, "unknown flag '-" + std::string(1, static_cast<char>(optopt)) + "'");
            }
        }
    }
    const int operands = argc - optind;
    if (operands == 0) return fail(EINVAL, "no mount point given");
    if (operands > 2)
        return fail(EINVAL,
                    std::to_string(operands) + " operands: give MOUNTPOINT, or SOURCE MOUNTPOINT as mount(8) does");
    if (operands == 2) {
        if (p9auth::Error e = check_source(argv[optind])) return e;
        cl.fsname = argv[optind];
    }
    cl.mountpoint = argv[argc - 1];
    if (cl.mountpoint.empty()) return fail(EINVAL, "the mount point is empty");
    return cl;
}

std::string usage_text(std::string_view program) {
    const std::string p(program);
    auto range = [](unsigned lo, unsigned hi, unsigned dflt) {  // "1..86400 (120)\n"
        return std::to_string(lo) + ".." + std::to_string(hi) + " (" + std::to_string(dflt) + ")\n";
    };
    return "usage: " + p +
           " [-f] [-d] [-s] [-o OPTION[,OPTION...]] [SOURCE] MOUNTPOINT\n"
           "       " +
           p +
           " --help | --version\n"
           "\n"
           "Serves the p9auth capability filesystem (caphash, capuse, status) at MOUNTPOINT.\n"
           "SOURCE names the mount (default p9authfs), as mount -t fuse.p9authfs passes it.\n"
           "\n"
           "  -f              stay in the foreground, log to stderr\n"
           "  -d              debug: trace every FUSE request on stderr (implies -f)\n"
           "  -s              single-threaded\n"
           "  -o OPTIONS      comma-separated mount options:\n"
           "     timeout=N      seconds an unused grant stays outstanding, " +
           range(P9AUTH_MIN_TIMEOUT, P9AUTH_MAX_TIMEOUT, P9AUTH_DEFAULT_TIMEOUT) +
           "     maxcaps=N      most outstanding grants, " +
           range(P9AUTH_MIN_MAXCAPS, P9AUTH_MAX_MAXCAPS, P9AUTH_DEFAULT_MAXCAPS) +
           "     grant_uid=N    only this uid may open caphash\n"
           "     grant_gid=N    only members of this gid may open caphash\n"
           "     grant_once     caphash can be opened once, ever\n"
           "     legacy_sha1    also accept 20-byte HMAC-SHA1 grants\n"
           "     rw, suid, dev, exec, noatime, ... are accepted and change nothing:\n"
           "     the mount is always nosuid,nodev,noexec,allow_other\n"
           "  -h, --help      show this text\n"
           "  -V, --version   show the version\n"
           "\n"
           "Without -f it returns once the mount is in place and logs to syslog (authpriv).\n"
           "Exit status: 0 after an unmount or SIGTERM, 1 when mounting fails, 2 on a usage error.\n"
           "See p9authfs(8).\n";
}

}  // namespace p9authfs
