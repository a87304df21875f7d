#include "command_line.hpp"

#include <cerrno>

namespace p9authfs {

using p9auth::fail;

p9auth::Expected<CommandLine> parse_command_line(std::span<const char* const> args) {
    CommandLine cl;
    bool have_mountpoint = false;
    bool only_operands = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view a = args[i];
        if (!only_operands && a.size() > 1 && a[0] == '-') {
            if (a == "--") {
                only_operands = true;
            } else if (a == "-h" || a == "--help") {
                cl.action = CommandLine::Action::help;
                return cl;
            } else if (a == "-V" || a == "--version") {
                cl.action = CommandLine::Action::version;
                return cl;
            } else if (a == "-f") {
                cl.foreground = true;
            } else if (a == "-d") {
                cl.debug = cl.foreground = true;
            } else if (a == "-s") {
                cl.single_thread = true;
            } else if (a.starts_with("-o")) {
                std::string_view list = a.substr(2);
                if (list.empty()) {
                    if (++i == args.size()) return fail(EINVAL, "-o needs a list of mount options");
                    list = args[i];
                }
                if (p9auth::Error e = cl.options.parse(list)) return e;
            } else {
                return fail(EINVAL, "unknown flag '" + std::string(a) + "'");
            }
            continue;
        }
        if (have_mountpoint) return fail(EINVAL, "more than one mount point ('" + cl.mountpoint + "', '" +
                                                     std::string(a) + "')");
        cl.mountpoint = a;
        have_mountpoint = true;
    }
    if (!have_mountpoint) return fail(EINVAL, "no mount point given");
    return cl;
}

std::string usage_text(std::string_view program) {
    const std::string p(program);
    return "usage: " + p + " [-f] [-d] [-s] [-o OPTION[,OPTION...]] MOUNTPOINT\n"
           "       " + p + " --help | --version\n"
           "\n"
           "Serves the p9auth capability filesystem (caphash, capuse, status) at MOUNTPOINT.\n"
           "\n"
           "  -f              stay in the foreground, log to stderr\n"
           "  -d              debug: trace every FUSE request on stderr (implies -f)\n"
           "  -s              single-threaded\n"
           "  -o OPTIONS      comma-separated mount options:\n"
           "     timeout=N      seconds an unused grant stays outstanding, 1..86400 (120)\n"
           "     maxcaps=N      most outstanding grants, 1..16777216 (16384)\n"
           "     grant_uid=N    only this uid may open caphash\n"
           "     grant_gid=N    only members of this gid may open caphash\n"
           "     grant_once     caphash can be opened once, ever\n"
           "     legacy_sha1    also accept 20-byte HMAC-SHA1 grants\n"
           "  -h, --help      show this text\n"
           "  -V, --version   show the version\n"
           "\n"
           "Without -f it returns once the mount is in place and logs to syslog (authpriv).\n"
           "Exit status: 0 after an unmount or SIGTERM, 1 when mounting fails, 2 on a usage error.\n"
           "See p9authfs(8).\n";
}

}  // namespace p9authfs
