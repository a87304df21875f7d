// p9auth-request: asks factotum for a capability to become TARGET and prints
// it on standard output, for p9use or a script. No privilege.
//
// Exit status: 0 granted; 1 refused (policy, authentication, throttled);
// 2 usage; 3 could not talk to factotum (or a protocol error).
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "client.hpp"
#include "config.hpp"

namespace {

void usage(std::FILE* to) {
    std::fprintf(to,
                 "usage: p9auth-request [--socket PATH] [--stdin] [--timeout SECONDS] [--tty TTY] [--rhost HOST] TARGET\n"
                 "(default socket: factotum_socket in /etc/p9auth/p9auth.conf)\n"
                 "Asks factotum for a capability to become TARGET, answering its prompts on the\n"
                 "terminal (/dev/tty), or one line of standard input each with --stdin, and\n"
                 "prints the capability on standard output: p9auth-request bob | p9use id\n");
}

// Reads a line of at most p9auth::wire-sized answer into a zeroing string.
p9auth::Expected<p9auth::SecretString> read_line(int fd) {
    p9auth::SecretString line;
    for (;;) {
        char c;
        ssize_t n = ::read(fd, &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return p9auth::fail(errno, std::string("read an answer: ") + std::strerror(errno));
        if (n == 0) {
            if (line.empty()) return p9auth::fail(ENODATA, "no answer: end of input");
            return line;
        }
        if (c == '\n') return line;
        if (line.size() >= 1024) return p9auth::fail(EMSGSIZE, "answer longer than 1024 bytes");
        line.push_back(c);
    }
}

class TerminalConversation final : public p9auth::Conversation {
public:
    explicit TerminalConversation(bool from_stdin) : stdin_(from_stdin) {
        if (!stdin_) tty_ = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    }
    ~TerminalConversation() override {
        if (tty_ >= 0) ::close(tty_);
    }
    TerminalConversation(const TerminalConversation&) = delete;
    TerminalConversation& operator=(const TerminalConversation&) = delete;

    p9auth::Expected<p9auth::SecretString> prompt(std::string_view text, bool echo) override {
        if (stdin_) {
            show(2, text);
            return read_line(0);
        }
        if (tty_ < 0) return p9auth::fail(ENXIO, "no terminal to ask on (/dev/tty); use --stdin");
        show(tty_, text);
        termios saved{};
        bool restore = false;
        if (!echo && ::tcgetattr(tty_, &saved) == 0) {
            termios quiet = saved;
            quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
            quiet.c_lflag |= ECHONL;
            restore = ::tcsetattr(tty_, TCSAFLUSH, &quiet) == 0;
            if (!restore) return p9auth::fail(errno, "cannot turn the terminal's echo off");
        }
        auto line = read_line(tty_);
        if (restore) ::tcsetattr(tty_, TCSAFLUSH, &saved);
        return line;
    }
    void info(std::string_view text) override { show(stdin_ || tty_ < 0 ? 2 : tty_, text, true); }
    void error(std::string_view text) override { show(2, text, true); }

private:
    static void show(int fd, std::string_view text, bool newline = false) {
        std::string s(text);
        for (char& c : s)  // never let a module drive the terminal
            if ((static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') || c == 0x7f) c = '?';
        if (newline) s += '\n';
        (void)!::write(fd, s.data(), s.size());
    }

    bool stdin_;
    int tty_ = -1;
};

}  // namespace

int main(int argc, char** argv) {
    std::string socket, target;
    bool from_stdin = false;
    p9auth::RequestOptions options;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            usage(stdout);
            return 0;
        } else if (a == "--version") {
            std::printf("p9auth-request %s\n", P9AUTH_VERSION);
            return 0;
        } else if (a == "--stdin") {
            from_stdin = true;
        } else if ((a == "--socket" || a == "--timeout" || a == "--tty" || a == "--rhost") && i + 1 < argc) {
            std::string v = argv[++i];
            if (a == "--socket") {
                socket = v;
            } else if (a == "--tty") {  // what the client library checks, it refuses (exit 3, EINVAL)
                options.tty = v;
            } else if (a == "--rhost") {
                options.rhost = v;
            } else {
                char* end = nullptr;
                unsigned long s = std::strtoul(v.c_str(), &end, 10);
                if (v.empty() || *end || s == 0 || s > 86400) {
                    std::fprintf(stderr, "p9auth-request: --timeout wants 1..86400 seconds, not '%s'\n", v.c_str());
                    return 2;
                }
                options.step_timeout = std::chrono::seconds(s);
            }
        } else if (!a.empty() && a[0] == '-') {
            usage(stderr);
            return 2;
        } else if (target.empty()) {
            target = a;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (target.empty()) {
        usage(stderr);
        return 2;
    }
    if (socket.empty()) {  // the root-owned configuration's, not the environment's
        auto config = p9auth::load_config();
        if (!config) {
            std::fprintf(stderr, "p9auth-request: %s\n", config.error().message.c_str());
            return 3;
        }
        socket = config->factotum_socket;
    }
    TerminalConversation conv(from_stdin);
    auto cap = p9auth::request_capability(socket, target, conv, options);
    if (!cap) {
        std::fprintf(stderr, "p9auth-request: %s\n", cap.error().message.c_str());
        int e = cap.error().errnum;
        return e == EACCES || e == EKEYEXPIRED || e == EAGAIN ? 1 : e == EINVAL ? 2 : 3;
    }
    p9auth::SecretString out(cap->view());
    out.push_back('\n');
    std::size_t done = 0;
    while (done < out.size()) {
        ssize_t n = ::write(1, out.data() + done, out.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            std::fprintf(stderr, "p9auth-request: write the capability: %s\n", std::strerror(errno));
            return 3;
        }
        done += static_cast<std::size_t>(n);
    }
    return 0;
}
