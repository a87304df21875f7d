// p9use: use a capability and run a program as its target.
//
//   p9use [--fd N] [--chdir DIR] [--argv0 NAME] PROGRAM [ARG...]
//                                       (the capability on stdin, or fd N)
//
// Installed with file capabilities cap_setuid,cap_setgid,cap_setpcap=p and nothing else.
// It trusts: the root-owned config, the kernel's mount table, and the
// filesystem's answer to one write. It takes from the caller only the
// capability (never from argv or the environment) and the program to run.
// --chdir and --argv0 shape only how PROGRAM starts: they take effect after
// every privilege is gone, as the target, so they can do nothing the
// target could not do itself.
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "capability.hpp"
#include "config.hpp"
#include "credentials.hpp"
#include "die.hpp"
#include "grant.hpp"
#include "mount_check.hpp"

namespace {

constexpr int kRefused = 1, kUsage = 2, kCannotExec = 126, kNotFound = 127;
constexpr const char* kUsageText =
    "usage: p9use [--fd N] [--chdir DIR] [--argv0 NAME] PROGRAM [ARG...]  (the capability on standard input)";

// A refusal unwinds to main, so every SecretString on the way (the
// capability text, its key) is zeroed before the process exits.
struct Exit {
    int status;
    std::string message;
};

[[noreturn]] void die(int status, const std::string& msg) { throw Exit{status, msg}; }

// Descriptors 0, 1 and 2 are open before p9use opens anything, so that no
// file it opens (capuse) can be mistaken for standard error.
void ensure_standard_fds() {
    for (int fd = 0; fd <= 2; ++fd) {
        if (::fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
        const int null = ::open("/dev/null", O_RDWR | O_NOCTTY);
        if (null != fd) std::_Exit(kRefused);  // cannot even report it: stderr is what is missing
    }
}

struct Args {
    int fd = 0;                   // where the capability comes from
    const char* dir = nullptr;    // --chdir: where PROGRAM starts, as the target
    const char* argv0 = nullptr;  // --argv0: PROGRAM's argv[0] (a login shell's "-sh")
    int program = 0;              // index of PROGRAM in argv
};

int parse_fd(const char* s) {
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(s, &end, 10);
    if (errno || !*s || *end || v < 0 || v > 1024L * 1024) die(kUsage, std::string("--fd: not a descriptor: ") + s);
    return static_cast<int>(v);
}

// getopt_long in "+" mode: options end at PROGRAM, whose own arguments are
// never looked at. Errors are ours (opterr 0), in the one style of every
// p9auth program: "p9use: what was wrong" and the usage, exit 2.
Args parse_args(int argc, char** argv) {
    enum { kHelp = 'h', kVersion = 'V', kFd = 'f', kChdir = 'd', kArgv0 = 'a' };
    static const option longopts[] = {
        {"help", no_argument, nullptr, kHelp},         {"version", no_argument, nullptr, kVersion},
        {"fd", required_argument, nullptr, kFd},       {"chdir", required_argument, nullptr, kChdir},
        {"argv0", required_argument, nullptr, kArgv0}, {nullptr, 0, nullptr, 0}};
    Args a;
    bool fd = false, dir = false, argv0 = false;
    ::opterr = 0;
    for (int c; (c = ::getopt_long(argc, argv, "+:", longopts, nullptr)) != -1;) {
        const std::string opt = ::optind > 0 && ::optind <= argc ? argv[::optind - 1] : "?";
        switch (c) {
            case kHelp:
                std::printf(
                    "%s\nReads a capability FROM@TO@KEY from standard input (or fd N), uses it on the p9auth\n"
                    "filesystem and runs PROGRAM as TO. See p9use(1).\n",
                    kUsageText);
                std::exit(std::fflush(stdout) == 0 ? 0 : kRefused);
            case kVersion:
                std::printf("p9use %s\n", P9AUTH_VERSION);
                std::exit(std::fflush(stdout) == 0 ? 0 : kRefused);
            case kFd:
            case kChdir:
            case kArgv0: {
                bool* seen = c == kFd ? &fd : c == kChdir ? &dir : &argv0;
                const char* name = c == kFd ? "--fd" : c == kChdir ? "--chdir" : "--argv0";
                if (*seen) die(kUsage, std::string(name) + " given twice\n" + kUsageText);
                *seen = true;
                if (c == kFd)
                    a.fd = parse_fd(::optarg);
                else if (!*::optarg)
                    die(kUsage, std::string(name) + ": empty value\n" + kUsageText);
                else if (c == kChdir)
                    a.dir = ::optarg;
                else
                    a.argv0 = ::optarg;
                break;
            }
            case ':': die(kUsage, opt + " needs a value\n" + kUsageText);
            default: die(kUsage, "unknown option " + opt + "\n" + kUsageText);
        }
    }
    if (::optind >= argc) die(kUsage, std::string("no PROGRAM\n") + kUsageText);
    a.program = ::optind;
    return a;
}

// Up to the first newline or end of file, one byte at a time so that PROGRAM
// inherits the rest of its input untouched; at most kMaxCapability + 1 bytes.
p9auth::SecretString read_capability(int fd) {
    p9auth::SecretString s;
    while (s.size() <= p9auth::kMaxCapability) {
        char c;
        const ssize_t n = ::read(fd, &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) {  // a non-blocking descriptor: wait for it
            pollfd p{fd, POLLIN, 0};
            ::poll(&p, 1, -1);
            continue;
        }
        if (n < 0)
            die(kRefused,
                "cannot read the capability from descriptor " + std::to_string(fd) + ": " + std::strerror(errno));
        if (n == 0 || c == '\n') {
            if (s.empty())
                die(kRefused,
                    "no capability on descriptor " + std::to_string(fd) + " (expected FROM@TO@KEY and a newline)");
            return s;
        }
        s.push_back(c);
    }
    die(kRefused, "the capability is longer than " + std::to_string(p9auth::kMaxCapability) + " bytes");
}

std::string why_refused(int err, const std::string& mountpoint) {
    switch (err) {
        case EPERM:
            return "the filesystem refused the capability: never granted, already used, expired, or granted on another "
                   "mount";
        case EINVAL:
            return "the filesystem says the capability is malformed, or its ids are not mapped in this user namespace";
        case ENOTCONN: return "the p9authfs daemon serving " + mountpoint + " is gone (ENOTCONN); nobody switched user";
        default: return std::string("the write to capuse failed: ") + std::strerror(err);
    }
}

// Steps 1 to 5 of p9use(1). Every secret lives in this scope and is zeroed
// when it ends; what comes out is only the target the filesystem accepted,
// which the process now is.
p9auth::Target use_capability(int in) {
    p9auth::SecretString text = read_capability(in);
    auto cap = p9auth::parse_capability(text.view());
    if (!cap) die(kRefused, cap.error().message);

    auto before = p9use::current_ids();
    if (!before) die(kRefused, before.error().message);
    if (before->ruid != cap->from)
        die(kRefused, "this capability is for uid " + std::to_string(cap->from) + ", and you are uid " +
                          std::to_string(before->ruid));
    if (before->euid != before->ruid || before->suid != before->ruid || before->fsuid != before->ruid)
        die(kRefused, "real, effective, saved and filesystem uids differ (" + std::to_string(before->ruid) + ", " +
                          std::to_string(before->euid) + ", " + std::to_string(before->suid) + ", " +
                          std::to_string(before->fsuid) + "); run p9use from a plain process");

    auto config = p9auth::load_config();
    if (!config) die(kRefused, config.error().message);
    auto capuse = p9use::open_authentic_capuse(config->mountpoint);
    if (!capuse) die(kRefused, capuse.error().message);
    if (capuse->mode == p9use::Mode::fuse)
        if (p9auth::Error e = p9use::check_can_switch(cap->to)) die(kRefused, e.message);

    // One write; only its full success lets us go on.
    const ssize_t n = ::write(capuse->fd, text.data(), text.size());
    const int write_errno = errno;
    ::close(capuse->fd);
    if (n < 0) die(kRefused, why_refused(write_errno, config->mountpoint));
    if (static_cast<std::size_t>(n) != text.size()) die(kRefused, "short write to capuse: not switching");

    p9auth::Target to = cap->to;
    cap->key.clear();
    text.clear();
    if (p9auth::Error e = p9use::become(to, capuse->mode, *before)) die(kRefused, e.message);
    return to;
}

// Everything before the exec: the switch, the drop, the directory. A
// refusal throws Exit. Returns the program to run; argv + *at is its argv.
const char* prepare(int argc, char** argv, int* at) {
    ensure_standard_fds();
    const Args args = parse_args(argc, argv);
    p9auth::core_init();

    use_capability(args.fd);
    if (p9auth::Error e = p9use::drop_privilege()) die(kRefused, e.message);

    // As the target, with nothing left to lose: a home directory it cannot
    // enter is a warning, as for su and login, and the program starts in /.
    if (args.dir && ::chdir(args.dir) != 0) {
        std::fprintf(stderr, "p9use: warning: cannot change directory to %s: %s; using /\n", args.dir,
                     std::strerror(errno));
        if (::chdir("/") != 0) die(kRefused, std::string("cannot change directory to /: ") + std::strerror(errno));
    }
    const char* program = argv[args.program];
    if (args.argv0) argv[args.program] = const_cast<char*>(args.argv0);
    *at = args.program;
    return program;
}

}  // namespace

static int main_body(int argc, char** argv) {
    int at = 0;
    const char* program = nullptr;
    try {
        program = prepare(argc, argv, &at);
    } catch (const Exit& e) {
        return p9auth::fatal("p9use", e.status, e.message);  // after the unwinding zeroed the capability
    }
    ::execvp(program, argv + at);
    const int err = errno;
    std::fprintf(stderr, "p9use: cannot run %s: %s\n", program, std::strerror(err));
    return err == ENOENT || err == ENOTDIR ? kNotFound : kCannotExec;
}

int main(int argc, char** argv) {
    return p9auth::run_main("p9use", kRefused, [&] { return main_body(argc, argv); });
}
