// p9logind: a login daemon that holds no privilege. Runs as a dedicated
// user with no capabilities; asks the login name and password over the
// connection, authenticates through PAM (pam_p9auth, which asks factotum),
// and gives the user a shell on a pseudo-terminal through p9use. See
// p9logind(8).
//
//   p9logind --inetd                   one connection on standard input/output
//   p9logind [--listen ADDR:PORT]      accept connections (127.0.0.1:2323)
#include <arpa/inet.h>
#include <getopt.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "die.hpp"
#include "session.hpp"

namespace {

constexpr const char* kUsageText =
    "usage: p9logind [--inetd | --listen ADDR:PORT] [--service PAM-SERVICE]\n"
    "                [--auth-timeout SECONDS] [--idle-timeout SECONDS] [--max-sessions N]\n"
    "                [--max-unauthenticated N] [--max-per-source N]\n"
    "                [--state-dir DIR] [--fail-limit N] [--fail-window SECONDS] [--lockout SECONDS]\n"
    "                [--p9use PATH]\n";

[[noreturn]] void usage_error(const std::string& message) {
    std::fprintf(stderr, "p9logind: %s\n%s", message.c_str(), kUsageText);
    std::exit(2);
}

int parse_number(const char* opt, const char* s) {
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(s, &end, 10);
    if (errno || !*s || *end || v < 1 || v > 86400)
        usage_error(std::string(opt) + ": not a number from 1 to 86400: " + s);
    return static_cast<int>(v);
}

// A connection the listener handed to a child of its own, until the child
// is reaped. Unauthenticated until the child writes its byte on the pipe
// (or closes it: then it is no longer waiting for a password either).
struct Child {
    pid_t pid;
    int pipe;  // -1 once authenticated or closed
    std::string source;
};

int listen_on(const std::string& where) {
    auto colon = where.rfind(':');
    if (colon == std::string::npos) {
        p9auth::die("p9logind", 2, "--listen wants ADDR:PORT, not " + where);
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    int port = std::atoi(where.c_str() + colon + 1);
    if (::inet_pton(AF_INET, where.substr(0, colon).c_str(), &a.sin_addr) != 1 || port < 0 || port > 65535) {
        p9auth::die("p9logind", 2, "bad address " + where);
    }
    a.sin_port = htons(static_cast<uint16_t>(port));
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || ::listen(fd, 64) < 0) {
        p9auth::die("p9logind", 1, "listen on " + where + ": " + std::strerror(errno));
    }
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    char addr[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &a.sin_addr, addr, sizeof addr);
    std::fprintf(stderr, "p9logind: listening on %s:%u\n", addr, ntohs(a.sin_port));
    return fd;
}

}  // namespace

static int main_body(int argc, char** argv) {
    p9logind::Settings s;
    bool inetd = false;
    std::string where = "127.0.0.1:2323";
    int max_sessions = 64, max_unauthenticated = 16, max_per_source = 4;
    enum {
        kInetd = 256,
        kListen,
        kService,
        kP9use,
        kAuthTimeout,
        kIdleTimeout,
        kMaxSessions,
        kMaxUnauth,
        kMaxPerSource,
        kStateDir,
        kFailLimit,
        kFailWindow,
        kLockout,
        kVersion
    };
    static const option longopts[] = {{"inetd", no_argument, nullptr, kInetd},
                                      {"listen", required_argument, nullptr, kListen},
                                      {"service", required_argument, nullptr, kService},
                                      {"p9use", required_argument, nullptr, kP9use},
                                      {"auth-timeout", required_argument, nullptr, kAuthTimeout},
                                      {"idle-timeout", required_argument, nullptr, kIdleTimeout},
                                      {"max-sessions", required_argument, nullptr, kMaxSessions},
                                      {"max-unauthenticated", required_argument, nullptr, kMaxUnauth},
                                      {"max-per-source", required_argument, nullptr, kMaxPerSource},
                                      {"state-dir", required_argument, nullptr, kStateDir},
                                      {"fail-limit", required_argument, nullptr, kFailLimit},
                                      {"fail-window", required_argument, nullptr, kFailWindow},
                                      {"lockout", required_argument, nullptr, kLockout},
                                      {"help", no_argument, nullptr, 'h'},
                                      {"version", no_argument, nullptr, kVersion},
                                      {nullptr, 0, nullptr, 0}};
    ::opterr = 0;
    for (int c; (c = ::getopt_long(argc, argv, ":h", longopts, nullptr)) != -1;) {
        const std::string opt = ::optind > 0 && ::optind <= argc ? argv[::optind - 1] : "?";
        switch (c) {
            case kInetd: inetd = true; break;
            case kListen: where = ::optarg; break;
            case kService: s.service = ::optarg; break;
            case kP9use: s.p9use = ::optarg; break;
            case kAuthTimeout: s.auth_timeout = parse_number("--auth-timeout", ::optarg); break;
            case kIdleTimeout: s.idle_timeout = parse_number("--idle-timeout", ::optarg); break;
            case kMaxSessions: max_sessions = parse_number("--max-sessions", ::optarg); break;
            case kMaxUnauth: max_unauthenticated = parse_number("--max-unauthenticated", ::optarg); break;
            case kMaxPerSource: max_per_source = parse_number("--max-per-source", ::optarg); break;
            case kStateDir:
                if (::optarg[0] != '/') usage_error(std::string("--state-dir wants an absolute path, not ") + ::optarg);
                s.state_dir = ::optarg;
                break;
            case kFailLimit:
                s.throttle.fail_limit = static_cast<unsigned>(parse_number("--fail-limit", ::optarg));
                break;
            case kFailWindow: s.throttle.window = parse_number("--fail-window", ::optarg); break;
            case kLockout: s.throttle.lockout = parse_number("--lockout", ::optarg); break;
            case 'h':
                std::printf(
                    "%sA login daemon without privilege (see p9logind(8)); listens on 127.0.0.1:2323 by default.\n",
                    kUsageText);
                return std::fflush(stdout) == 0 ? 0 : 1;
            case kVersion: std::printf("p9logind %s\n", P9AUTH_VERSION); return std::fflush(stdout) == 0 ? 0 : 1;
            case ':': usage_error(opt + " needs a value");
            default:
                usage_error("unknown option " +
                            (::optopt && ::optopt < 256 ? "-" + std::string(1, static_cast<char>(::optopt)) : opt));
        }
    }
    if (::optind < argc) usage_error(std::string("unexpected argument ") + argv[::optind]);
    // The point of this daemon is to hold nothing: refuse to run as root.
    if (::geteuid() == 0 || ::getuid() == 0) {
        return p9auth::fatal("p9logind", 1, "refusing to run as root; run it as a dedicated user (see p9logind(8))");
    }
    ::openlog("p9logind", LOG_PID, LOG_AUTHPRIV);
    if (inetd) {  // systemd's Accept=yes or inetd: the connection is standard input
        s.rhost = p9logind::peer_address(0);
        if (!s.rhost.empty()) s.peer = s.rhost;
        return p9logind::serve_connection(0, 1, s);
    }

    // Standalone, the state directory is checked once, before listening:
    // a daemon that could not count failures does not start.
    if (std::string bad = p9logind::SourceThrottle(s.state_dir, s.throttle).check(); !bad.empty()) {
        return p9auth::fatal("p9logind", 1, "the state directory " + bad + " (--state-dir; see p9logind(8))");
    }
    int lfd = listen_on(where);
    std::signal(SIGPIPE, SIG_IGN);
    std::vector<Child> children;
    auto refuse = [](int c, const char* why, const std::string& source) {
        syslog(LOG_WARNING, "refused a connection from %s: %s", source.c_str(), why);
        std::string text = std::string("p9logind: ") + why + ", try later\r\n";
        ssize_t ignored = ::write(c, text.data(), text.size());
        (void)ignored;
        ::close(c);
    };
    for (;;) {
        std::vector<pollfd> fds{{lfd, POLLIN, 0}};
        for (const Child& ch : children)
            if (ch.pipe >= 0) fds.push_back({ch.pipe, POLLIN, 0});
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            if (errno != EINTR) syslog(LOG_ERR, "poll: %m");
            continue;
        }
        for (std::size_t i = 1; i < fds.size(); ++i) {
            if (!fds[i].revents) continue;
            for (Child& ch : children) {
                if (ch.pipe != fds[i].fd) continue;
                // A byte (authenticated) or the end (the child is done): either
                // way the peer no longer waits at a prompt.
                ::close(ch.pipe);
                ch.pipe = -1;
            }
        }
        for (pid_t pid; (pid = ::waitpid(-1, nullptr, WNOHANG)) > 0;) {
            for (auto it = children.begin(); it != children.end(); ++it) {
                if (it->pid != pid) continue;
                if (it->pipe >= 0) ::close(it->pipe);
                children.erase(it);
                break;
            }
        }
        if (!(fds[0].revents & POLLIN)) continue;
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        int c = ::accept4(lfd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN) syslog(LOG_ERR, "accept: %m");
            if (errno == EMFILE || errno == ENFILE) ::sleep(1);
            continue;
        }
        char addr[INET_ADDRSTRLEN] = "?";
        ::inet_ntop(AF_INET, &peer.sin_addr, addr, sizeof addr);
        const std::string source = p9logind::source_key(addr);
        int waiting = 0, waiting_here = 0;
        for (const Child& ch : children) {
            if (ch.pipe < 0) continue;
            ++waiting;
            if (ch.source == source) ++waiting_here;
        }
        // Every session costs a process; one not yet logged in costs it for
        // up to --auth-timeout, for anyone who can connect: bounded in all
        // and per source, as systemd's socket bounds p9logind@.
        if (static_cast<int>(children.size()) >= max_sessions) {
            refuse(c, "too many sessions", source);
            continue;
        }
        if (waiting >= max_unauthenticated) {
            refuse(c, "too many connections waiting to log in", source);
            continue;
        }
        if (waiting_here >= max_per_source) {
            refuse(c, "too many connections from your address waiting to log in", source);
            continue;
        }
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0) {
            refuse(c, "out of resources", source);
            continue;
        }
        pid_t pid = ::fork();
        if (pid == 0) {
            ::close(lfd);
            ::close(p[0]);
            for (const Child& ch : children)
                if (ch.pipe >= 0) ::close(ch.pipe);
            s.peer = std::string(addr) + ":" + std::to_string(ntohs(peer.sin_port));
            s.rhost = addr;
            s.authenticated_fd = p[1];
            int rc = p9logind::serve_connection(c, c, s);
            ::shutdown(c, SHUT_RDWR);
            ::close(c);
            std::_Exit(rc);
        }
        ::close(p[1]);
        if (pid < 0) {
            syslog(LOG_ERR, "fork: %m");
            ::close(p[0]);
        } else {
            children.push_back({pid, p[0], source});
        }
        ::close(c);
    }
}

int main(int argc, char** argv) {
    return p9auth::run_main("p9logind", 1, [&] { return main_body(argc, argv); });
}
