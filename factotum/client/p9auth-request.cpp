// p9auth-request: asks factotum for a capability to become TARGET and prints
// it on standard output, for p9use or a script. No privilege.
//
// Exit status: 0 granted; 1 refused (policy, authentication, throttled);
// 2 usage; 3 could not talk to factotum (or a protocol error).
#include <fcntl.h>
#include <getopt.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>

#include "client.hpp"
#include "config.hpp"
#include "die.hpp"
#include "terminal.hpp"

namespace {

void usage(std::FILE* to) {
    std::fprintf(
        to,
        "usage: p9auth-request [--socket PATH] [--stdin] [--timeout SECONDS] [--tty TTY] [--rhost HOST] TARGET\n"
        "       p9auth-request --help | --version\n"
        "Asks factotum for a capability to become TARGET, answering its prompts on the\n"
        "terminal (/dev/tty), or one line of standard input each with --stdin, and\n"
        "prints the capability on standard output: p9auth-request bob | p9use id\n"
        "\n"
        "      --socket PATH      factotum's socket (default: factotum_socket in\n"
        "                         /etc/p9auth/p9auth.conf)\n"
        "      --stdin            read each answer as a line of standard input\n"
        "      --timeout SECONDS  how long to wait for each of factotum's steps, 1..86400\n"
        "      --tty TTY          the terminal the request comes from (PAM_TTY)\n"
        "      --rhost HOST       the remote host it comes from (PAM_RHOST)\n"
        "  -h, --help             show this text\n"
        "  -V, --version          show the version\n"
        "Exit status: 0 granted, 1 refused, 2 usage, 3 no answer from factotum.\n"
        "See p9auth-request(1).\n");
}

int usage_error(const std::string& msg) {
    std::fprintf(stderr, "p9auth-request: %s\n", msg.c_str());
    usage(stderr);
    return 2;
}

// Answers through the shared terminal helpers (terminal.hpp): the one
// answer limit, refused never truncated; echo off on the terminal.
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
        if (stdin_) return p9auth::term::ask(0, 2, text, true);  // a pipe: nothing to echo
        if (tty_ < 0) return p9auth::fail(ENXIO, "no terminal to ask on (/dev/tty); use --stdin");
        return p9auth::term::ask(tty_, tty_, text, echo);
    }
    void info(std::string_view text) override { show(stdin_ || tty_ < 0 ? 2 : tty_, text); }
    void error(std::string_view text) override { show(2, text); }

private:
    static void show(int fd, std::string_view text) {
        const std::string s = p9auth::term::printable(text) + '\n';
        (void)!::write(fd, s.data(), s.size());
    }

    bool stdin_;
    int tty_ = -1;
};

}  // namespace

static int main_body(int argc, char** argv) {
    enum { kSocket = 256, kStdin, kTimeout, kTty, kRhost };
    static const option kLong[] = {
        {"socket", required_argument, nullptr, kSocket},
        {"stdin", no_argument, nullptr, kStdin},
        {"timeout", required_argument, nullptr, kTimeout},
        {"tty", required_argument, nullptr, kTty},
        {"rhost", required_argument, nullptr, kRhost},
        {"help", no_argument, nullptr, 'h'},
        {"version", no_argument, nullptr, 'V'},
        {nullptr, 0, nullptr, 0},
    };
    std::string socket, target;
    bool from_stdin = false;
    p9auth::RequestOptions options;
    opterr = 0;  // our messages, in our style
    for (;;) {
        const int c = ::getopt_long(argc, argv, ":hV", kLong, nullptr);
        if (c == -1) break;
        switch (c) {
            case 'h': usage(stdout); return 0;
            case 'V': std::printf("p9auth-request %s\n", P9AUTH_VERSION); return 0;
            case kStdin: from_stdin = true; break;
            // What the client library checks, it refuses (exit 3, EINVAL).
            case kTty: options.tty = optarg; break;
            case kRhost: options.rhost = optarg; break;
            case kSocket:
                if (!*optarg) return usage_error("--socket needs a path");
                socket = optarg;
                break;
            case kTimeout: {
                const std::string v = optarg;
                char* end = nullptr;
                errno = 0;
                const unsigned long s = std::strtoul(v.c_str(), &end, 10);
                if (v.empty() || v[0] < '0' || v[0] > '9' || *end || errno || s == 0 || s > 86400)
                    return usage_error("--timeout wants 1..86400 seconds, not '" + v + "'");
                options.step_timeout = std::chrono::seconds(s);
                break;
            }
            case ':': return usage_error(std::string(argv[optind - 1]) + " needs a value");
            default: {
                const std::string_view last = argv[optind - 1];
                return usage_error(last.starts_with("--")
                                       ? "unknown option " + std::string(last)
                                       : std::string("unknown option -") + static_cast<char>(optopt));
            }
        }
    }
    if (argc - optind != 1) return usage_error(argc == optind ? "no TARGET given" : "more than one TARGET");
    target = argv[optind];
    if (std::string why = p9auth::term::check_user_name(target); !why.empty()) return usage_error("TARGET: " + why);
    if (socket.empty()) {  // the root-owned configuration's, not the environment's
        auto config = p9auth::load_config();
        if (!config) return p9auth::fatal("p9auth-request", 3, config.error().message);
        socket = config->factotum_socket;
    }
    TerminalConversation conv(from_stdin);
    auto cap = p9auth::request_capability(socket, target, conv, options);
    if (!cap) {
        const int e = cap.error().errnum;
        return p9auth::fatal("p9auth-request",
                             e == EACCES || e == EKEYEXPIRED || e == EAGAIN ? 1
                             : e == EINVAL                                  ? 2
                                                                            : 3,
                             cap.error().message);
    }
    p9auth::SecretString out(cap->view());
    out.push_back('\n');
    std::size_t done = 0;
    while (done < out.size()) {
        ssize_t n = ::write(1, out.data() + done, out.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            return p9auth::fatal("p9auth-request", 3, std::string("write the capability: ") + std::strerror(errno));
        }
        done += static_cast<std::size_t>(n);
    }
    return 0;
}

int main(int argc, char** argv) {
    return p9auth::run_main("p9auth-request", 3, [&] { return main_body(argc, argv); });
}
