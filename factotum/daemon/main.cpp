// factotum: the granting server. Authenticates target users through PAM,
// applies its policy, and grants capabilities through the caphash
// descriptor it opened at start. See factotum(8).
//
// Exit status: 0 --check found the configuration usable; 2 usage; 78
// configuration (policy file, options, --check found it unusable, caphash
// already opened on a grant_once mount); 71 system error at start.
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sys/stat.h>
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
#include "identity.hpp"
#include "policy.hpp"
#include "privilege.hpp"
#include "sd_notify.hpp"
#include "server.hpp"

using namespace p9auth;
using namespace p9auth::factotum;

namespace {

constexpr int kExitUsage = 2, kExitConfig = 78, kExitSystem = 71;
constexpr const char* kLoginDaemonUser = "p9login";  // p9logind's user (sysusers.d/p9auth-login.conf)

struct Options {
    std::string mount;   // default: mountpoint in /etc/p9auth/p9auth.conf
    std::string socket;  // default: factotum_socket in /etc/p9auth/p9auth.conf
    std::string policy = paths::kFactotumPolicy;
    std::string user;
    std::string tally_dir = "/run/faillock";  // pam_faillock's default (faillock.conf dir=)
    bool log_stderr = false;
    bool check = false;
    bool max_connections_given = false;
    Settings settings;
};

void usage(std::FILE* to) {
    std::fprintf(to,
                 "usage: factotum [--mount DIR] [--socket PATH] [--policy FILE] [--pam-service NAME]\n"
                 "                [--user NAME] [--workers N] [--workers-per-uid N] [--queue-per-uid N]\n"
                 "                [--timeout S] [--session-timeout S] [--max-connections N] [--max-per-uid N]\n"
                 "                [--fail-limit N] [--client-fail-limit N] [--target-fail-limit N]\n"
                 "                [--origin-fail-limit N] [--fail-window S] [--lockout S]\n"
                 "                [--grants-per-uid N] [--grant-window S]\n"
                 "                [--tally-dir DIR] [--stderr]\n"
                 "       factotum --check [--policy FILE] [--user NAME] [--pam-service NAME] [...]\n"
                 "       factotum --help | --version\n"
                 "Grants p9auth capabilities to clients that authenticate as the target user.\n"
                 "--mount and --socket default to /etc/p9auth/p9auth.conf's mountpoint and\n"
                 "factotum_socket. --check reads the configuration and the policy, reports\n"
                 "problems and users or groups the user database does not know, and exits\n"
                 "0 (usable) or 78 (not); it touches no mount, socket or caphash.\n"
                 "SIGHUP rereads the policy. See factotum(8) and factotum.conf(5).\n");
}

bool number(const char* s, unsigned long lo, unsigned long hi, unsigned long* out) {
    std::string_view v(s);
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), *out);
    return !v.empty() && ec == std::errc() && p == v.data() + v.size() && *out >= lo && *out <= hi;
}

int bad_usage(const std::string& msg) {
    std::fprintf(stderr, "factotum: %s\n", msg.c_str());
    usage(stderr);
    return kExitUsage;
}

enum OptionId {
    kMount = 256, kSocket, kPolicy, kUser, kPamService, kWorkers, kWorkersPerUid, kQueuePerUid, kTimeout,
    kSessionTimeout, kMaxConnections, kMaxPerUid, kFailLimit, kClientFailLimit, kTargetFailLimit, kFailWindow,
    kLockout, kStderr, kCheck, kVersion, kTallyDir, kGrantsPerUid, kGrantWindow, kOriginFailLimit
};

int parse_args(int argc, char** argv, Options* o) {
    static const option longopts[] = {
        {"help", no_argument, nullptr, 'h'},
        {"version", no_argument, nullptr, kVersion},
        {"check", no_argument, nullptr, kCheck},
        {"stderr", no_argument, nullptr, kStderr},
        {"mount", required_argument, nullptr, kMount},
        {"socket", required_argument, nullptr, kSocket},
        {"policy", required_argument, nullptr, kPolicy},
        {"user", required_argument, nullptr, kUser},
        {"pam-service", required_argument, nullptr, kPamService},
        {"workers", required_argument, nullptr, kWorkers},
        {"workers-per-uid", required_argument, nullptr, kWorkersPerUid},
        {"queue-per-uid", required_argument, nullptr, kQueuePerUid},
        {"timeout", required_argument, nullptr, kTimeout},
        {"session-timeout", required_argument, nullptr, kSessionTimeout},
        {"max-connections", required_argument, nullptr, kMaxConnections},
        {"max-per-uid", required_argument, nullptr, kMaxPerUid},
        {"fail-limit", required_argument, nullptr, kFailLimit},
        {"client-fail-limit", required_argument, nullptr, kClientFailLimit},
        {"target-fail-limit", required_argument, nullptr, kTargetFailLimit},
        {"origin-fail-limit", required_argument, nullptr, kOriginFailLimit},
        {"fail-window", required_argument, nullptr, kFailWindow},
        {"lockout", required_argument, nullptr, kLockout},
        {"grants-per-uid", required_argument, nullptr, kGrantsPerUid},
        {"grant-window", required_argument, nullptr, kGrantWindow},
        {"tally-dir", required_argument, nullptr, kTallyDir},
        {nullptr, 0, nullptr, 0},
    };
    ::opterr = 0;  // our own messages, in our own style
    auto& s = o->settings;
    for (;;) {
        int longindex = -1;
        int c = ::getopt_long(argc, argv, ":h", longopts, &longindex);
        if (c == -1) break;
        // The option as typed, for messages.
        const std::string name =
            longindex >= 0 ? std::string("--") + longopts[longindex].name : std::string(argv[::optind - 1]);
        unsigned long n = 0;
        auto num = [&](unsigned long lo, unsigned long hi) {
            if (number(::optarg, lo, hi, &n)) return true;
            std::fprintf(stderr, "factotum: %s wants a number in %lu..%lu, not '%s'\n", name.c_str(), lo, hi, ::optarg);
            return false;
        };
        switch (c) {
        case 'h': usage(stdout); std::exit(0);
        case kVersion: std::printf("factotum %s\n", P9AUTH_VERSION); std::exit(0);
        case kCheck: o->check = true; break;
        case kStderr: o->log_stderr = true; break;
        case kMount: o->mount = ::optarg; break;
        case kSocket: o->socket = ::optarg; break;
        case kPolicy: o->policy = ::optarg; break;
        case kUser: o->user = ::optarg; break;
        case kTallyDir: o->tally_dir = ::optarg; break;
        case kPamService: s.pam_service = ::optarg; break;
        case kWorkers: if (!num(1, 256)) return kExitUsage; s.workers = static_cast<unsigned>(n); break;
        case kWorkersPerUid: if (!num(1, 256)) return kExitUsage; s.workers_per_uid = static_cast<unsigned>(n); break;
        case kQueuePerUid: if (!num(1, 65536)) return kExitUsage; s.queue_per_uid = static_cast<unsigned>(n); break;
        case kTimeout: if (!num(1, 3600)) return kExitUsage; s.step_timeout = std::chrono::seconds(n); break;
        case kSessionTimeout: if (!num(1, 86400)) return kExitUsage; s.session_timeout = std::chrono::seconds(n); break;
        case kMaxConnections:
            if (!num(1, 65536)) return kExitUsage;
            s.max_connections = static_cast<unsigned>(n);
            o->max_connections_given = true;
            break;
        case kMaxPerUid: if (!num(1, 65536)) return kExitUsage; s.max_per_uid = static_cast<unsigned>(n); break;
        case kFailLimit: if (!num(1, 1000)) return kExitUsage; s.throttle.per_pair = static_cast<unsigned>(n); break;
        case kClientFailLimit: if (!num(1, 100000)) return kExitUsage; s.throttle.per_client = static_cast<unsigned>(n); break;
        case kTargetFailLimit: if (!num(1, 100000)) return kExitUsage; s.throttle.per_target = static_cast<unsigned>(n); break;
        case kOriginFailLimit: if (!num(1, 100000)) return kExitUsage; s.throttle.per_origins = static_cast<unsigned>(n); break;
        case kFailWindow: if (!num(1, 86400)) return kExitUsage; s.throttle.window = std::chrono::seconds(n); break;
        case kLockout: if (!num(1, 86400)) return kExitUsage; s.throttle.lockout = std::chrono::seconds(n); break;
        case kGrantsPerUid: if (!num(1, 1 << 24)) return kExitUsage; s.grants.burst = static_cast<unsigned>(n); break;
        case kGrantWindow: if (!num(1, 86400)) return kExitUsage; s.grants.window = std::chrono::seconds(n); break;
        case ':': return bad_usage(std::string(argv[::optind - 1]) + ": missing value");
        default: return bad_usage(std::string("unknown option ") + argv[::optind - 1]);
        }
    }
    if (::optind < argc) return bad_usage(std::string("unexpected argument '") + argv[::optind] + "'");
    if (o->settings.pam_service.empty() || o->settings.pam_service.find('/') != std::string::npos)
        return bad_usage("--pam-service must be a plain name");
    o->settings.policy_path = o->policy;
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

// The default --max-connections (4096) is lowered to what the hard limit
// allows, with a notice (*note), but never below --max-per-uid: a limit the
// operator did not ask for must not stop the start.
Error fit_descriptor_limit(unsigned& max_connections, bool given, unsigned max_per_uid, std::string* note) {
    rlimit nofile{};
    if (::getrlimit(RLIMIT_NOFILE, &nofile) != 0) return fail(errno, std::string("getrlimit: ") + std::strerror(errno));
    if (!given && nofile.rlim_max != RLIM_INFINITY &&
        nofile.rlim_max < rlim_t{max_connections} + kDescriptorsBesideConnections &&
        nofile.rlim_max >= rlim_t{max_per_uid} + kDescriptorsBesideConnections) {
        unsigned fits = static_cast<unsigned>(nofile.rlim_max - kDescriptorsBesideConnections);
        *note = "--max-connections lowered from " + std::to_string(max_connections) + " to " + std::to_string(fits) +
                " to fit RLIMIT_NOFILE " + std::to_string(nofile.rlim_max);
        max_connections = fits;
    }
    const rlim_t need = rlim_t{max_connections} + kDescriptorsBesideConnections;
    if (nofile.rlim_cur >= need) return Error::ok();
    if (nofile.rlim_max != RLIM_INFINITY && nofile.rlim_max < need)
        return fail(EMFILE, "--max-connections " + std::to_string(max_connections) + " needs " + std::to_string(need) +
                                " descriptors, but RLIMIT_NOFILE allows " + std::to_string(nofile.rlim_max) +
                                " (lower --max-connections, or raise LimitNOFILE=)");
    nofile.rlim_cur = need;
    if (::setrlimit(RLIMIT_NOFILE, &nofile) != 0) return fail(errno, std::string("setrlimit: ") + std::strerror(errno));
    return Error::ok();
}

// factotum --check: what a start would read, judged the same way, and
// names the user database does not know (a typo in the policy denies
// silently for ever). 0 usable, 78 not.
int check_config(Options& o) {
    int problems = 0, warnings = 0;
    auto problem = [&](const std::string& m) {
        std::fprintf(stderr, "factotum: %s\n", m.c_str());
        ++problems;
    };
    auto warn = [&](const std::string& m) {
        std::fprintf(stderr, "factotum: warning: %s\n", m.c_str());
        ++warnings;
    };
    std::string lowered;
    if (Error e = fit_descriptor_limit(o.settings.max_connections, o.max_connections_given, o.settings.max_per_uid,
                                       &lowered))
        problem(e.message);
    if (!lowered.empty()) warn(lowered);
    if (o.mount.empty() || o.socket.empty()) {
        auto config = load_config();
        if (!config) problem(config.error().message);
        else {
            if (o.mount.empty()) o.mount = config->mountpoint;
            if (o.socket.empty()) o.socket = config->factotum_socket;
        }
    }
    auto policy = Policy::load(o.policy);
    if (!policy) problem(policy.error().message);
    if (policy) {
        for (const Rule& r : policy->rules())
            for (const Identity* id : {&r.client, &r.target}) {
                if (id->kind == Identity::Kind::any || id->id) continue;  // "*" or a number
                const std::string where = o.policy + ":" + std::to_string(r.line) + ": ";
                const bool user = id->kind == Identity::Kind::user;
                const std::string what = std::string(user ? "user '" : "group '") + id->name + "'";
                // A lookup that fails is a problem: a running factotum refuses every request the rule decides.
                Error failed;
                bool known = true;
                if (user) {
                    auto u = identity::user_by_name(id->name);
                    if (!u) failed = u.error();
                    else known = u->has_value();
                } else {
                    auto g = identity::group_by_name(id->name);
                    if (!g) failed = g.error();
                    else known = g->has_value();
                }
                if (failed) problem(where + "cannot look up " + what + ": " + failed.message);
                else if (!known) warn(where + what + " is not known to the user database (NSS)");
            }
        if (policy->size() == 0) warn(o.policy + ": no rules: every request will be denied");
    }
    if (!o.user.empty()) {
        auto u = identity::user_by_name(o.user);
        if (!u) problem("--user " + o.user + ": " + u.error().message);
        else if (!*u) problem("--user " + o.user + ": no such user");
    }
    const std::string pam_file = "/etc/pam.d/" + o.settings.pam_service;
    struct stat st{};
    if (::stat(pam_file.c_str(), &st) != 0)
        warn(pam_file + ": " + std::strerror(errno) + " (PAM will use /etc/pam.d/other for service " +
             o.settings.pam_service + ")");
    if (problems) {
        std::fprintf(stderr, "factotum: %d problem%s: factotum would not start\n", problems, problems == 1 ? "" : "s");
        return kExitConfig;
    }
    std::printf("factotum: %s: %zu rule%s; mount %s, socket %s, PAM service %s: usable (%d warning%s)\n",
                o.policy.c_str(), policy->size(), policy->size() == 1 ? "" : "s", o.mount.c_str(), o.socket.c_str(),
                o.settings.pam_service.c_str(), warnings, warnings == 1 ? "" : "s");
    return 0;
}

// caphash, from systemd's descriptor store if it holds one that checks
// out (a restart on a grant_once mount, where a second open fails), or
// opened here (and then stored: see main).
Expected<int> obtain_caphash(const std::string& caphash, int stored) {
    if (stored >= 0) {
        if (Error e = check_stored_caphash(stored, caphash)) {
            audit(LOG_WARNING, "not using %s; opening %s instead", e.message.c_str(), caphash.c_str());
            ::close(stored);
            (void)sd_notify_send("FDSTOREREMOVE=1\nFDNAME=caphash");
        } else {
            audit(LOG_INFO, "caphash: the descriptor from the service manager's store");
            return stored;
        }
    }
    int fd = ::open(caphash.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        struct stat st{};
        if (e == EPERM && ::stat(caphash.c_str(), &st) == 0 && may_grant_on(st))
            return fail(EALREADY,  // the one errno obtain_caphash gives for this
                        "configuration error: caphash was already opened on this grant_once mount; open " + caphash +
                            ": " + std::strerror(e) +
                            ". Only the descriptor the first factotum opened can grant: under systemd it is kept in "
                            "the unit's descriptor store (FileDescriptorStoreMax=1 in factotum.service); otherwise "
                            "remount p9authfs to start over");
        return fail(e, "open " + caphash + ": " + std::strerror(e) +
                                     " (is p9authfs mounted there, and may factotum grant on it?)");
    }
    return fd;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    if (int rc = parse_args(argc, argv, &o)) return rc;
    ::signal(SIGPIPE, SIG_IGN);
    if (o.check) return check_config(o);
    core_init();
    audit_open(o.log_stderr);

    std::string lowered;
    if (Error e = fit_descriptor_limit(o.settings.max_connections, o.max_connections_given, o.settings.max_per_uid,
                                       &lowered))
        return die(kExitConfig, e.message);
    if (!lowered.empty()) audit(LOG_NOTICE, "%s", lowered.c_str());
    // The login daemon's user may name the remote host its logins come
    // from, and the throttle keys on it (see Settings::origin_uids).
    // NSS failing here trusts nobody's rhost: stricter, never looser.
    if (auto login = identity::user_by_name(kLoginDaemonUser); login && *login)
        o.settings.origin_uids.push_back((*login)->uid);
    else if (!login)
        audit(LOG_WARNING, "user %s: %s; no client's rhost keys the throttle", kLoginDaemonUser,
              login.error().message.c_str());
    // Everything that needs privilege, first.
    if (o.mount.empty() || o.socket.empty()) {
        auto config = load_config();
        if (!config) return die(kExitConfig, config.error().message);
        if (o.mount.empty()) o.mount = config->mountpoint;
        if (o.socket.empty()) o.socket = config->factotum_socket;
    }
    auto policy = Policy::load(o.policy);
    if (!policy) return die(kExitConfig, policy.error().message);
    auto fds = fds_from_systemd();
    if (!fds) return die(kExitConfig, fds.error().message);
    if (fds->sockets.empty()) {
        auto fd = bind_socket(o.socket);
        if (!fd) return die(kExitSystem, fd.error().message);
        fds->sockets.push_back(*fd);
    }

    std::string caphash = o.mount + "/caphash";
    if (Error e = become_fs_identity(o.user)) return die(kExitConfig, e.message);
    auto cfd = obtain_caphash(caphash, fds->caphash);
    if (!cfd) return die(cfd.error().errnum == EALREADY ? kExitConfig : kExitSystem, cfd.error().message);
    // Into the store at once: a start that fails from here on still
    // leaves the next one the descriptor. One that came from the store is
    // there already (systemd 252 checks the store's size before it looks
    // for a duplicate, and logs a full store).
    const bool from_store = *cfd == fds->caphash;
    if (int e = from_store ? 0 : sd_notify_send("FDSTORE=1\nFDNAME=caphash", {*cfd}))
        audit(LOG_WARNING, "could not hand caphash to the service manager's store (NOTIFY_SOCKET): %s; "
                           "a restart on a grant_once mount will not be able to grant",
              std::strerror(e));
    // Then give up all the rest.
    if (Error e = drop_privileges(o.user)) return die(kExitSystem, "dropping privileges: " + e.message);
    auto confined = confine_writes(o.tally_dir);
    if (!confined) return die(kExitSystem, "confining writes: " + confined.error().message);
    const std::size_t nsockets = fds->sockets.size();
    Factotum server(o.settings, std::move(*policy), *cfd, fds->sockets);
    if (int e = server.start()) return die(kExitSystem, std::string("start: ") + std::strerror(e));
#ifdef FACTOTUM_SECCOMP
    if (Error e = install_seccomp(confined->writes_confined)) return die(kExitSystem, "seccomp: " + e.message);
#endif
    audit(LOG_NOTICE, "started: mount=%s socket=%s service=%s workers=%u %s; %s", o.mount.c_str(),
          nsockets == 1 && !o.socket.empty() ? o.socket.c_str() : "(systemd)", o.settings.pam_service.c_str(),
          o.settings.workers, describe_privileges().c_str(), confined->note.c_str());
    if (int e = sd_notify_send("READY=1\nSTATUS=granting on " + o.mount))
        audit(LOG_WARNING, "could not tell the service manager we are ready: %s", std::strerror(e));
    int e = server.run();
    audit(LOG_ERR, "event loop failed: %s", std::strerror(e));
    return kExitSystem;
}
