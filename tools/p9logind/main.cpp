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
#include <netinet/in.h>
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

#include "session.hpp"

namespace {

constexpr const char* kUsageText =
    "usage: p9logind [--inetd | --listen ADDR:PORT] [--service PAM-SERVICE]\n"
    "                [--auth-timeout SECONDS] [--idle-timeout SECONDS] [--max-sessions N]\n"
    "                [--p9use PATH]\n";

[[noreturn]] void usage_error(const std::string& message) {
    std::fprintf(stderr, "p9logind: %s\n%s", message.c_str(), kUsageText);
    std::exit(2);
}

int parse_seconds(const char* opt, const char* s) {
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(s, &end, 10);
    if (errno || !*s || *end || v < 1 || v > 86400)
        usage_error(std::string(opt) + ": not a number from 1 to 86400: " + s);
    return static_cast<int>(v);
}

int listen_on(const std::string& where) {
    auto colon = where.rfind(':');
    if (colon == std::string::npos) {
        std::fprintf(stderr, "p9logind: --listen wants ADDR:PORT, not %s\n", where.c_str());
        std::exit(2);
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    int port = std::atoi(where.c_str() + colon + 1);
    if (::inet_pton(AF_INET, where.substr(0, colon).c_str(), &a.sin_addr) != 1 || port < 0 || port > 65535) {
        std::fprintf(stderr, "p9logind: bad address %s\n", where.c_str());
        std::exit(2);
    }
    a.sin_port = htons(static_cast<uint16_t>(port));
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || ::listen(fd, 64) < 0) {
        std::fprintf(stderr, "p9logind: listen on %s: %s\n", where.c_str(), std::strerror(errno));
        std::exit(1);
    }
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    char addr[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &a.sin_addr, addr, sizeof addr);
    std::fprintf(stderr, "p9logind: listening on %s:%u\n", addr, ntohs(a.sin_port));
    return fd;
}

}  // namespace

int main(int argc, char** argv) {
    p9logind::Settings s;
    bool inetd = false;
    std::string where = "127.0.0.1:2323";
    int max_sessions = 64;
    enum { kInetd = 256, kListen, kService, kP9use, kAuthTimeout, kIdleTimeout, kMaxSessions, kVersion };
    static const option longopts[] = {{"inetd", no_argument, nullptr, kInetd},
                                      {"listen", required_argument, nullptr, kListen},
                                      {"service", required_argument, nullptr, kService},
                                      {"p9use", required_argument, nullptr, kP9use},
                                      {"auth-timeout", required_argument, nullptr, kAuthTimeout},
                                      {"idle-timeout", required_argument, nullptr, kIdleTimeout},
                                      {"max-sessions", required_argument, nullptr, kMaxSessions},
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
        case kAuthTimeout: s.auth_timeout = parse_seconds("--auth-timeout", ::optarg); break;
        case kIdleTimeout: s.idle_timeout = parse_seconds("--idle-timeout", ::optarg); break;
        case kMaxSessions: max_sessions = parse_seconds("--max-sessions", ::optarg); break;
        case 'h':
            std::printf("%sA login daemon without privilege (see p9logind(8)); listens on 127.0.0.1:2323 by default.\n",
                        kUsageText);
            return std::fflush(stdout) == 0 ? 0 : 1;
        case kVersion:
            std::printf("p9logind %s\n", P9AUTH_VERSION);
            return std::fflush(stdout) == 0 ? 0 : 1;
        case ':': usage_error(opt + " needs a value");
        default:
            usage_error("unknown option " + (::optopt && ::optopt < 256 ? "-" + std::string(1, static_cast<char>(::optopt)) : opt));
        }
    }
    if (::optind < argc) usage_error(std::string("unexpected argument ") + argv[::optind]);
    // The point of this daemon is to hold nothing: refuse to run as root.
    if (::geteuid() == 0 || ::getuid() == 0) {
        std::fprintf(stderr, "p9logind: refusing to run as root; run it as a dedicated user (see p9logind(8))\n");
        return 1;
    }
    ::openlog("p9logind", LOG_PID, LOG_AUTHPRIV);
    if (inetd) {  // systemd's Accept=yes or inetd: the connection is standard input
        s.rhost = p9logind::peer_address(0);
        if (!s.rhost.empty()) s.peer = s.rhost;
        return p9logind::serve_connection(0, 1, s);
    }

    int lfd = listen_on(where);
    std::signal(SIGPIPE, SIG_IGN);
    int live = 0;  // session processes not yet reaped
    for (;;) {
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        int c = ::accept4(lfd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno != EINTR && errno != ECONNABORTED) syslog(LOG_ERR, "accept: %m");
            if (errno == EMFILE || errno == ENFILE) ::sleep(1);
            continue;
        }
        while (live > 0 && ::waitpid(-1, nullptr, WNOHANG) > 0) --live;
        if (live >= max_sessions) {
            syslog(LOG_WARNING, "refused a connection: %d sessions (--max-sessions)", live);
            static const char busy[] = "p9logind: too many sessions, try later\r\n";
            ssize_t ignored = ::write(c, busy, sizeof busy - 1);
            (void)ignored;
            ::close(c);
            continue;
        }
        pid_t pid = ::fork();
        if (pid == 0) {
            ::close(lfd);
            char addr[INET_ADDRSTRLEN] = "?";
            ::inet_ntop(AF_INET, &peer.sin_addr, addr, sizeof addr);
            s.peer = std::string(addr) + ":" + std::to_string(ntohs(peer.sin_port));
            s.rhost = addr;
            int rc = p9logind::serve_connection(c, c, s);
            ::shutdown(c, SHUT_RDWR);
            ::close(c);
            std::_Exit(rc);
        }
        if (pid < 0) syslog(LOG_ERR, "fork: %m");
        else ++live;
        ::close(c);
    }
}
