// factotum: the granting server. Authenticates target users through PAM,
// applies its policy, and grants capabilities through the caphash
// descriptor it opened at start. See factotum(8).
//
// Exit status: 2 usage; 78 configuration (policy file, options); 71 system
// error at start; 70 a forbidden system call (seccomp).
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>

#include "audit.hpp"
#include "config.hpp"
#include "grant.hpp"
#include "listen.hpp"
#include "paths.hpp"
#include "policy.hpp"
#include "privilege.hpp"
#include "server.hpp"

using namespace p9auth;
using namespace p9auth::factotum;

namespace {

constexpr int kExitUsage = 2, kExitConfig = 78, kExitSystem = 71;

struct Options {
    std::string mount;   // default: mountpoint in /etc/p9auth/p9auth.conf
    std::string socket;  // default: factotum_socket in /etc/p9auth/p9auth.conf
    std::string policy = paths::kFactotumPolicy;
    std::string user;
    bool log_stderr = false;
    Settings settings;
};

void usage(std::FILE* to) {
    std::fprintf(to,
                 "usage: factotum [--mount DIR] [--socket PATH] [--policy FILE] [--pam-service NAME]\n"
                 "                [--user NAME] [--workers N] [--workers-per-uid N] [--queue-per-uid N]\n"
                 "                [--timeout S] [--session-timeout S] [--max-connections N] [--max-per-uid N]\n"
                 "                [--fail-limit N] [--client-fail-limit N] [--target-fail-limit N]\n"
                 "                [--fail-window S] [--lockout S] [--stderr]\n"
                 "Grants p9auth capabilities to clients that authenticate as the target user.\n"
                 "--mount and --socket default to /etc/p9auth/p9auth.conf's mountpoint and\n"
                 "factotum_socket.\n"
                 "See factotum(8) and factotum.conf(5).\n");
}

bool number(const char* s, unsigned long lo, unsigned long hi, unsigned long* out) {
    std::string_view v(s);
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), *out);
    return !v.empty() && ec == std::errc() && p == v.data() + v.size() && *out >= lo && *out <= hi;
}

int parse_args(int argc, char** argv, Options* o) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            usage(stdout);
            std::exit(0);
        }
        if (a == "--version") {
            std::printf("factotum %s\n", P9AUTH_VERSION);
            std::exit(0);
        }
        if (a == "--stderr") {
            o->log_stderr = true;
            continue;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "factotum: %s: missing value or unknown option\n", a.c_str());
            return kExitUsage;
        }
        const char* v = argv[++i];
        unsigned long n = 0;
        auto num = [&](unsigned long lo, unsigned long hi) {
            if (number(v, lo, hi, &n)) return true;
            std::fprintf(stderr, "factotum: %s wants a number in %lu..%lu, not '%s'\n", a.c_str(), lo, hi, v);
            return false;
        };
        auto& s = o->settings;
        if (a == "--mount") o->mount = v;
        else if (a == "--socket") o->socket = v;
        else if (a == "--policy") o->policy = v;
        else if (a == "--user") o->user = v;
        else if (a == "--pam-service") s.pam_service = v;
        else if (a == "--workers") { if (!num(1, 256)) return kExitUsage; s.workers = static_cast<unsigned>(n); }
        else if (a == "--workers-per-uid") { if (!num(1, 256)) return kExitUsage; s.workers_per_uid = static_cast<unsigned>(n); }
        else if (a == "--queue-per-uid") { if (!num(1, 65536)) return kExitUsage; s.queue_per_uid = static_cast<unsigned>(n); }
        else if (a == "--timeout") { if (!num(1, 3600)) return kExitUsage; s.step_timeout = std::chrono::seconds(n); }
        else if (a == "--session-timeout") { if (!num(1, 86400)) return kExitUsage; s.session_timeout = std::chrono::seconds(n); }
        else if (a == "--max-connections") { if (!num(1, 65536)) return kExitUsage; s.max_connections = static_cast<unsigned>(n); }
        else if (a == "--max-per-uid") { if (!num(1, 65536)) return kExitUsage; s.max_per_uid = static_cast<unsigned>(n); }
        else if (a == "--fail-limit") { if (!num(1, 1000)) return kExitUsage; s.throttle.per_pair = static_cast<unsigned>(n); }
        else if (a == "--client-fail-limit") { if (!num(1, 100000)) return kExitUsage; s.throttle.per_client = static_cast<unsigned>(n); }
        else if (a == "--target-fail-limit") { if (!num(1, 100000)) return kExitUsage; s.throttle.per_target = static_cast<unsigned>(n); }
        else if (a == "--fail-window") { if (!num(1, 86400)) return kExitUsage; s.throttle.window = std::chrono::seconds(n); }
        else if (a == "--lockout") { if (!num(1, 86400)) return kExitUsage; s.throttle.lockout = std::chrono::seconds(n); }
        else {
            std::fprintf(stderr, "factotum: unknown option %s\n", a.c_str());
            usage(stderr);
            return kExitUsage;
        }
    }
    if (o->settings.pam_service.empty() || o->settings.pam_service.find('/') != std::string::npos) {
        std::fprintf(stderr, "factotum: --pam-service must be a plain name\n");
        return kExitUsage;
    }
    return 0;
}

int die(int code, const std::string& msg) {
    std::fprintf(stderr, "factotum: %s\n", msg.c_str());
    audit(LOG_ERR, "not starting: %s", msg.c_str());
    return code;
}

// Every connection is a descriptor, and PAM and NSS open files of their
// own. Make sure --max-connections fits under RLIMIT_NOFILE (raising the
// soft limit up to the hard one), so accept() never meets EMFILE in normal
// operation.
constexpr rlim_t kDescriptorsBesideConnections = 64;

Error fit_descriptor_limit(unsigned max_connections) {
    const rlim_t need = rlim_t{max_connections} + kDescriptorsBesideConnections;
    rlimit nofile{};
    if (::getrlimit(RLIMIT_NOFILE, &nofile) != 0) return fail(errno, std::string("getrlimit: ") + std::strerror(errno));
    if (nofile.rlim_cur >= need) return Error::ok();
    if (nofile.rlim_max != RLIM_INFINITY && nofile.rlim_max < need)
        return fail(EMFILE, "--max-connections " + std::to_string(max_connections) + " needs " + std::to_string(need) +
                                " descriptors, but RLIMIT_NOFILE allows " + std::to_string(nofile.rlim_max) +
                                " (lower --max-connections, or raise LimitNOFILE=)");
    nofile.rlim_cur = need;
    if (::setrlimit(RLIMIT_NOFILE, &nofile) != 0) return fail(errno, std::string("setrlimit: ") + std::strerror(errno));
    return Error::ok();
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    if (int rc = parse_args(argc, argv, &o)) return rc;
    ::signal(SIGPIPE, SIG_IGN);
    core_init();
    audit_open(o.log_stderr);

    if (Error e = fit_descriptor_limit(o.settings.max_connections)) return die(kExitConfig, e.message);
    // Everything that needs privilege, first.
    if (o.mount.empty() || o.socket.empty()) {
        auto config = load_config();
        if (!config) return die(kExitConfig, config.error().message);
        if (o.mount.empty()) o.mount = config->mountpoint;
        if (o.socket.empty()) o.socket = config->factotum_socket;
    }
    auto policy = Policy::load(o.policy);
    if (!policy) return die(kExitConfig, policy.error().message);
    auto fds = sockets_from_systemd();
    if (!fds) return die(kExitConfig, fds.error().message);
    if (fds->empty()) {
        auto fd = bind_socket(o.socket);
        if (!fd) return die(kExitSystem, fd.error().message);
        fds->push_back(*fd);
    }

    std::string caphash = o.mount + "/caphash";
    if (Error e = become_fs_identity(o.user)) return die(kExitConfig, e.message);
    int cfd = ::open(caphash.c_str(), O_WRONLY | O_CLOEXEC);
    if (cfd < 0)
        return die(kExitSystem, "open " + caphash + ": " + std::strerror(errno) +
                                    " (is p9authfs mounted there, and may factotum grant on it?)");
    // Then give up all the rest.
    if (Error e = drop_privileges(o.user)) return die(kExitSystem, "dropping privileges: " + e.message);
    Factotum server(o.settings, std::move(*policy), cfd, *fds);
    if (int e = server.start()) return die(kExitSystem, std::string("start: ") + std::strerror(e));
#ifdef FACTOTUM_SECCOMP
    if (Error e = install_seccomp()) return die(kExitSystem, "seccomp: " + e.message);
#endif
    audit(LOG_NOTICE, "started: mount=%s socket=%s service=%s workers=%u %s", o.mount.c_str(),
          fds->size() == 1 && !o.socket.empty() ? o.socket.c_str() : "(systemd)", o.settings.pam_service.c_str(),
          o.settings.workers, describe_privileges().c_str());
    int e = server.run();
    audit(LOG_ERR, "event loop failed: %s", std::strerror(e));
    return kExitSystem;
}
