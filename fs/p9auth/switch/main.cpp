// p9use: use a capability and run a program as its target.
//
//   p9use [--fd N] PROGRAM [ARG...]     (the capability on stdin, or fd N)
//
// Installed with file capabilities cap_setuid,cap_setgid=p and nothing else.
// It trusts: the root-owned config, the kernel's mount table, and the
// filesystem's answer to one write. It takes from the caller only the
// capability and the program to run.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "capability.hpp"
#include "config.hpp"
#include "credentials.hpp"
#include "mount_check.hpp"

namespace {

constexpr int kRefused = 1, kUsage = 2, kCannotExec = 126, kNotFound = 127;

[[noreturn]] void die(int status, const std::string& msg) {
    std::fprintf(stderr, "p9use: %s\n", msg.c_str());
    std::exit(status);
}

// Up to the first newline or end of file, one byte at a time so that PROGRAM
// inherits the rest of its input untouched.
p9auth::SecretString read_capability(int fd) {
    p9auth::SecretString s;
    while (s.size() <= p9auth::kMaxCapability) {
        char c;
        const ssize_t n = ::read(fd, &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die(kRefused, "cannot read the capability: " + std::string(std::strerror(errno)));
        if (n == 0 || c == '\n') return s;
        s.push_back(c);
    }
    die(kRefused, "the capability is longer than " + std::to_string(p9auth::kMaxCapability) + " bytes");
}

int parse_fd(const char* s) {
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(s, &end, 10);
    if (errno || !*s || *end || v < 0 || v > 1024 * 1024) die(kUsage, std::string("--fd: not a descriptor: ") + s);
    return static_cast<int>(v);
}

}  // namespace

int main(int argc, char** argv) {
    int in = 0, first = 1;
    if (argc > 2 && std::strcmp(argv[1], "--fd") == 0) {
        in = parse_fd(argv[2]);
        first = 3;
    } else if (argc > 1 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "--version") == 0)) {
        std::printf(argv[1][2] == 'v' ? "p9use " P9AUTH_VERSION "\n"
                                      : "usage: p9use [--fd N] PROGRAM [ARG...]\n"
                                        "Reads a capability FROM@TO@KEY from standard input (or fd N), uses it on\n"
                                        "the p9auth filesystem and runs PROGRAM as TO. See p9use(1).\n");
        return 0;
    }
    if (first >= argc || argv[first][0] == '-')
        die(kUsage, "usage: p9use [--fd N] PROGRAM [ARG...] (the capability comes on standard input)");

    p9auth::SecretString text = read_capability(in);
    auto cap = p9auth::parse_capability(text.view());
    if (!cap) die(kRefused, cap.error().message);

    const p9use::Ids before = p9use::current_ids();
    if (before.ruid != cap->from)
        die(kRefused, "this capability is for uid " + std::to_string(cap->from) + ", not for uid " +
                          std::to_string(before.ruid));
    if (before.euid != before.ruid || before.suid != before.ruid || before.fsuid != before.ruid)
        die(kRefused, "real, effective, saved and filesystem uids differ; run p9use as a plain process");

    auto config = p9auth::load_config();
    if (!config) die(kRefused, config.error().message);
    auto capuse = p9use::open_authentic_capuse(config->mountpoint);
    if (!capuse) die(kRefused, capuse.error().message);

    // One write; only its full success lets us go on (a dead daemon: ENOTCONN).
    const ssize_t n = ::write(capuse->fd, text.data(), text.size());
    const int write_errno = errno;
    const bool accepted = n == static_cast<ssize_t>(text.size());
    ::close(capuse->fd);
    text.clear();
    if (!accepted) {
        if (n < 0 && write_errno == EPERM)
            die(kRefused, "capability refused by " + config->mountpoint +
                              " (never granted, already used, expired, or for another mount)");
        if (n < 0) die(kRefused, "capability refused: " + std::string(std::strerror(write_errno)));
        die(kRefused, "short write to capuse: capability refused");
    }

    if (p9auth::Error e = p9use::become(cap->to, capuse->mode, before)) die(kRefused, e.message);
    if (p9auth::Error e = p9use::drop_privilege()) die(kRefused, e.message);

    const char* program = argv[first];
    ::execvp(program, argv + first);
    const int err = errno;
    std::fprintf(stderr, "p9use: %s: %s\n", program, std::strerror(err));
    return err == ENOENT ? kNotFound : kCannotExec;
}
