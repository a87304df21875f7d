// factotum: the granting server. Authenticates target users through PAM,
// applies its policy, and grants capabilities through the caphash
// descriptor it opened at start. See factotum(8).
//
// Two processes: this one becomes the monitor (monitor.hpp: caphash, the
// policy, PAM, NSS), and the child it forks becomes the front (server.hpp:
// every byte a client sends, as its own unprivileged user).
//
// Exit status: 0 --check found the configuration usable; 2 usage; 78
// configuration (policy file, options, --check found it unusable, caphash
// already opened on a grant_once mount, --mount not a p9auth filesystem);
// 71 system error at start.
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "audit.hpp"
#include "config.hpp"
#include "die.hpp"
#include "fs_magic.hpp"
#include "grant.hpp"
#include "listen.hpp"
#include "monitor.hpp"
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
// The front's user, made by the factotum package (factotum/systemd/factotum-sysusers.conf).
constexpr const char* kDefaultFrontUser = "p9front";

struct Options {
    std::string mount;   // default: mountpoint in /etc/p9auth/p9auth.conf
    std::string socket;  // default: factotum_socket in /etc/p9auth/p9auth.conf
    std::string policy = paths::kFactotumPolicy;
    std::string user;
    std::string front_user = kDefaultFrontUser;
    std::string tally_dir = "/run/faillock";  // pam_faillock's default (faillock.conf dir=)
    bool log_stderr = false;
    bool check = false;
    bool max_connections_given = false;
    bool network = false;  // --network: the monitor's modules may reach a KDC over IP
    Settings settings;
};

void usage(std::FILE* to) {
    std::fprintf(
        to,
        "usage: factotum [--mount DIR] [--socket PATH] [--policy FILE] [--pam-service NAME]\n"
        "                [--user NAME] [--front-user NAME] [--workers N] [--workers-per-uid N] [--queue-per-uid N]\n"
        "                [--timeout S] [--session-timeout S] [--max-connections N] [--max-per-uid N]\n"
        "                [--fail-limit N] [--client-fail-limit N] [--target-fail-limit N]\n"
        "                [--origin-fail-limit N] [--fail-window S] [--lockout S]\n"
        "                [--grants-per-uid N] [--grant-window S]\n"
        "                [--tally-dir DIR] [--network] [--stderr]\n"
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
    kMount = 256,
    kSocket,
    kPolicy,
    kUser,
    kPamService,
    kWorkers,
    kWorkersPerUid,
    kQueuePerUid,
    kTimeout,
    kSessionTimeout,
    kMaxConnections,
    kMaxPerUid,
    kFailLimit,
    kClientFailLimit,
    kTargetFailLimit,
    kFailWindow,
    kLockout,
    kStderr,
    kCheck,
    kVersion,
    kTallyDir,
    kGrantsPerUid,
    kGrantWindow,
    kOriginFailLimit,
    kFrontUser,
    kNetwork
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
        {"front-user", required_argument, nullptr, kFrontUser},
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
        {"network", no_argument, nullptr, kNetwork},
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
            case kFrontUser: o->front_user = ::optarg; break;
            case kTallyDir: o->tally_dir = ::optarg; break;
            case kNetwork: o->network = true; break;
            case kPamService: s.pam_service = ::optarg; break;
            case kWorkers:
                if (!num(1, 256)) return kExitUsage;
                s.workers = static_cast<unsigned>(n);
                break;
            case kWorkersPerUid:
                if (!num(1, 256)) return kExitUsage;
                s.workers_per_uid = static_cast<unsigned>(n);
                break;
            case kQueuePerUid:
                if (!num(1, 65536)) return kExitUsage;
                s.queue_per_uid = static_cast<unsigned>(n);
                break;
            case kTimeout:
                if (!num(1, 3600)) return kExitUsage;
                s.step_timeout = std::chrono::seconds(n);
                break;
            case kSessionTimeout:
                if (!num(1, 86400)) return kExitUsage;
                s.session_timeout = std::chrono::seconds(n);
                break;
            case kMaxConnections:
                if (!num(1, 65536)) return kExitUsage;
                s.max_connections = static_cast<unsigned>(n);
                o->max_connections_given = true;
                break;
            case kMaxPerUid:
                if (!num(1, 65536)) return kExitUsage;
                s.max_per_uid = static_cast<unsigned>(n);
                break;
            case kFailLimit:
                if (!num(1, 1000)) return kExitUsage;
                s.throttle.per_pair = static_cast<unsigned>(n);
                break;
            case kClientFailLimit:
                if (!num(1, 100000)) return kExitUsage;
                s.throttle.per_client = static_cast<unsigned>(n);
                break;
            case kTargetFailLimit:
                if (!num(1, 100000)) return kExitUsage;
                s.throttle.per_target = static_cast<unsigned>(n);
                break;
            case kOriginFailLimit:
                if (!num(1, 100000)) return kExitUsage;
                s.throttle.per_origins = static_cast<unsigned>(n);
                break;
            case kFailWindow:
                if (!num(1, 86400)) return kExitUsage;
                s.throttle.window = std::chrono::seconds(n);
                break;
            case kLockout:
                if (!num(1, 86400)) return kExitUsage;
                s.throttle.lockout = std::chrono::seconds(n);
                break;
            case kGrantsPerUid:
                if (!num(1, 1 << 24)) return kExitUsage;
                s.grants.burst = static_cast<unsigned>(n);
                break;
            case kGrantWindow:
                if (!num(1, 86400)) return kExitUsage;
                s.grants.window = std::chrono::seconds(n);
                break;
            case ':': return bad_usage(std::string(argv[::optind - 1]) + ": missing value");
            default: return bad_usage(std::string("unknown option ") + argv[::optind - 1]);
        }
    }
    if (::optind < argc) return bad_usage(std::string("unexpected argument '") + argv[::optind] + "'");
    if (o->settings.pam_service.empty() || o->settings.pam_service.find('/') != std::string::npos)
        return bad_usage("--pam-service must be a plain name");
    if (o->front_user.empty() || o->front_user == "root" || o->front_user == o->user)
        return bad_usage("--front-user must name a user of its own, not root or --user");
    return 0;
}

// The shared fatal path (die.hpp), and the log.
int die(int code, const std::string& msg) {
    audit(LOG_ERR, "not starting: %s", msg.c_str());
    return p9auth::fatal("factotum", code, msg);
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
    if (Error e =
            fit_descriptor_limit(o.settings.max_connections, o.max_connections_given, o.settings.max_per_uid, &lowered))
        problem(e.message);
    if (!lowered.empty()) warn(lowered);
    if (o.mount.empty() || o.socket.empty()) {
        auto config = load_config();
        if (!config)
            problem(config.error().message);
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
                    if (!u)
                        failed = u.error();
                    else
                        known = u->has_value();
                } else {
                    auto g = identity::group_by_name(id->name);
                    if (!g)
                        failed = g.error();
                    else
                        known = g->has_value();
                }
                if (failed)
                    problem(where + "cannot look up " + what + ": " + failed.message);
                else if (!known)
                    warn(where + what + " is not known to the user database (NSS)");
            }
        if (policy->rules().empty()) warn(o.policy + ": no rules: every request will be denied");
    }
    if (!o.user.empty()) {
        auto u = identity::user_by_name(o.user);
        if (!u)
            problem("--user " + o.user + ": " + u.error().message);
        else if (!*u)
            problem("--user " + o.user + ": no such user");
    }
    if (auto f = identity::user_by_name(o.front_user); !f)
        problem("--front-user " + o.front_user + ": " + f.error().message);
    else if (!*f)
        problem("--front-user " + o.front_user + ": no such user (the package creates it with systemd-sysusers)");
    else if ((*f)->uid == 0)
        problem("--front-user " + o.front_user + ": has uid 0");
    const std::string pam_file = "/etc/pam.d/" + o.settings.pam_service;
    struct stat st {};
    if (::stat(pam_file.c_str(), &st) != 0)
        warn(pam_file + ": " + std::strerror(errno) + " (PAM will use /etc/pam.d/other for service " +
             o.settings.pam_service + ")");
    if (problems) {
        std::fprintf(stderr, "factotum: %d problem%s: factotum would not start\n", problems, problems == 1 ? "" : "s");
        return kExitConfig;
    }
    std::printf("factotum: %s: %zu rule%s; mount %s, socket %s, PAM service %s: usable (%d warning%s)\n",
                o.policy.c_str(), policy->rules().size(), policy->rules().size() == 1 ? "" : "s", o.mount.c_str(),
                o.socket.c_str(), o.settings.pam_service.c_str(), warnings, warnings == 1 ? "" : "s");
    return 0;
}

// caphash, from systemd's descriptor store if it holds one that checks
// out (a restart on a grant_once mount, where a second open fails), or
// opened here (and then stored: see main).
Expected<int> obtain_caphash(const std::string& mount, int stored) {
    const std::string caphash = mount + "/caphash";
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
    // The same judgement of "a p9auth mount" as p9grant's and p9use's
    // (fs_magic.hpp), made on the directory before caphash is opened: an
    // open on a grant_once mount cannot be taken back, and a file of that
    // name elsewhere (a tmpfs, a FIFO) must be neither written nor waited on.
    const int dir = ::open(mount.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return fail(errno, "--mount " + mount + ": " + std::strerror(errno) + " (is p9authfs mounted there?)");
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{dir};
    if (int e = p9auth_filesystem_check(dir))
        return fail(e == EPERM ? EMEDIUMTYPE : e,
                    e == EPERM ? "configuration error: --mount " + mount +
                                     " is not a p9auth filesystem (neither p9authfs nor p9auth.ko is mounted there); "
                                     "not opening its caphash"
                               : "--mount " + mount + ": fstatfs: " + std::strerror(e));
    int fd = ::openat(dir, "caphash", O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
    if (fd < 0) {
        int e = errno;
        struct stat st {};
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

// The front: every byte a client sends, as front_user, holding nothing
// the monitor holds. Returns only on a fatal error.
int run_front(const Options& o, pid_t monitor, std::vector<int> channels, std::vector<int> sockets) {
    if (Error e = drop_privileges(o.front_user)) return die(kExitSystem, "front: dropping privileges: " + e.message);
    // Dies with the monitor (the thread that forked it lives as long). Set
    // after the drop, which clears it; the monitor may have gone before.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != monitor)
        return die(kExitSystem, "front: the monitor is gone");
    auto confined = confine_writes("");  // writes nothing at all
    if (!confined) return die(kExitSystem, "front: confining writes: " + confined.error().message);
    const std::size_t nsockets = sockets.size();
    Factotum server(o.settings, std::move(channels), std::move(sockets));
    if (int e = server.start()) return die(kExitSystem, std::string("front: start: ") + std::strerror(e));
#ifdef FACTOTUM_SECCOMP
    if (Error e = install_seccomp(Half::front, false, false)) return die(kExitSystem, "front: seccomp: " + e.message);
#endif
    audit(LOG_NOTICE, "front started: socket=%s workers=%u %s; %s",
          nsockets == 1 && !o.socket.empty() ? o.socket.c_str() : "(systemd)", o.settings.workers,
          describe_privileges().c_str(), confined->note.c_str());
    // Out through _exit, as the monitor goes: the workers are blocked on
    // their channels, and nothing at exit (static destructors, a leak
    // checker that would need clone(2) under the filter) has work to do.
    if (int e = server.run()) {
        audit(LOG_ERR, "front: event loop failed: %s", std::strerror(e));
        ::_exit(kExitSystem);
    }
    ::_exit(0);  // the monitor hung up: factotum is stopping
}

// The monitor: a thread per channel, and this thread for SIGHUP (reload
// the policy), SIGTERM and SIGINT (stop the front, wait for it, exit 0: a
// new factotum may bind the socket at once) and SIGCHLD (the front is
// gone: so is factotum). Returns only on a fatal error.
int run_monitor(const Options& o, MonitorSettings ms, Policy policy, const std::vector<int>& channels, pid_t front) {
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGCHLD);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    // Blocked before the threads start, so that every thread inherits it
    // and only this one reads them.
    if (int e = ::pthread_sigmask(SIG_BLOCK, &sigs, nullptr)) return die(kExitSystem, std::strerror(e));
    const int sfd = ::signalfd(-1, &sigs, SFD_CLOEXEC);
    if (sfd < 0) return die(kExitSystem, std::string("signalfd: ") + std::strerror(errno));
    if (Error e = drop_privileges(o.user)) return die(kExitSystem, "dropping privileges: " + e.message);
    auto confined = confine_writes(o.tally_dir);
    if (!confined) return die(kExitSystem, "confining writes: " + confined.error().message);
    Monitor monitor(std::move(ms), std::move(policy));
    static std::atomic<bool> stopping{false};
    for (int chan : channels)
        std::thread([&monitor, chan] {
            // A channel ends only with the front (or its misconduct): then
            // nobody may be served, and the service manager restarts both.
            int e = monitor.serve(chan);
            // Stopping: parked until the main thread's _exit, never ended. A
            // thread that ends runs the thread-exit destructors modules
            // registered, and pam_sss's (a pthread key) lives in code pam_end
            // has unloaded: SIGSEGV at every stop (directory.sh, SSSD part).
            while (stopping) std::this_thread::sleep_for(std::chrono::hours(1));
            if (e == 0) audit(LOG_ERR, "monitor: the front closed its channel; stopping");
            ::_exit(kExitSystem);
        }).detach();
#ifdef FACTOTUM_SECCOMP
    if (Error e = install_seccomp(Half::monitor, confined->writes_confined, o.network)) {
        audit(LOG_ERR, "not starting: seccomp: %s", e.message.c_str());
        ::_exit(kExitSystem);
    }
#endif
    audit(LOG_NOTICE, "started: mount=%s service=%s front_pid=%d network=%s %s; %s", o.mount.c_str(),
          o.settings.pam_service.c_str(), static_cast<int>(front), o.network ? "on" : "off",
          describe_privileges().c_str(), confined->note.c_str());
    if (int e = sd_notify_send("READY=1\nSTATUS=granting on " + o.mount))
        audit(LOG_WARNING, "could not tell the service manager we are ready: %s", std::strerror(e));
    for (;;) {
        signalfd_siginfo si{};
        ssize_t n = ::read(sfd, &si, sizeof si);
        if (n < 0 && errno == EINTR) continue;
        if (n != static_cast<ssize_t>(sizeof si)) {
            audit(LOG_ERR, "monitor: signalfd: %s; stopping", n < 0 ? std::strerror(errno) : "short read");
            ::_exit(kExitSystem);
        }
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            // The monitor cannot signal the front (another uid, and no
            // CAP_KILL): it hangs up on it, and the front, which watches its
            // channels, ends.
            stopping = true;
            for (int chan : channels) ::shutdown(chan, SHUT_RDWR);
            int status = 0;
            ::waitpid(front, &status, 0);
            audit(LOG_NOTICE, "stopped by signal %u", si.ssi_signo);
            ::_exit(0);
        }
        if (si.ssi_signo == SIGCHLD) {
            int status = 0;
            if (::waitpid(front, &status, WNOHANG) != front) continue;
            audit(LOG_ERR, "monitor: the front (pid %d) %s %d; stopping", static_cast<int>(front),
                  WIFSIGNALED(status) ? "was killed by signal" : "exited with status",
                  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
            ::_exit(kExitSystem);
        }
        // SIGHUP. A policy that does not load (syntax, owner, mode) is
        // logged and the old one stays: a typo must not lock everyone out,
        // nor let everyone in.
        auto loaded = Policy::load(o.policy);
        if (!loaded) {
            audit(LOG_ERR, "reload %s failed, keeping the policy in force: %s", o.policy.c_str(),
                  loaded.error().message.c_str());
            continue;
        }
        monitor.set_policy(std::move(*loaded));
        audit(LOG_NOTICE, "reloaded %s (%zu rules)", o.policy.c_str(), monitor.policy_rules());
    }
}

}  // namespace

static int main_body(int argc, char** argv) {
    Options o;
    if (int rc = parse_args(argc, argv, &o)) return rc;
    ::signal(SIGPIPE, SIG_IGN);
    if (o.check) return check_config(o);
    core_init();
    audit_open(o.log_stderr);

    std::string lowered;
    if (Error e =
            fit_descriptor_limit(o.settings.max_connections, o.max_connections_given, o.settings.max_per_uid, &lowered))
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

    if (Error e = become_fs_identity(o.user)) return die(kExitConfig, e.message);
    auto cfd = obtain_caphash(o.mount, fds->caphash);
    if (!cfd) {
        const int e = cfd.error().errnum;
        return die(e == EALREADY || e == EMEDIUMTYPE ? kExitConfig : kExitSystem, cfd.error().message);
    }
    // Into the store at once: a start that fails from here on still
    // leaves the next one the descriptor. One that came from the store is
    // there already (systemd 252 checks the store's size before it looks
    // for a duplicate, and logs a full store).
    const bool from_store = *cfd == fds->caphash;
    if (int e = from_store ? 0 : sd_notify_send("FDSTORE=1\nFDNAME=caphash", {*cfd}))
        audit(LOG_WARNING,
              "could not hand caphash to the service manager's store (NOTIFY_SOCKET): %s; "
              "a restart on a grant_once mount will not be able to grant",
              std::strerror(e));
    // The channels between the halves, then the front.
    MonitorSettings ms;
    ms.pam_service = o.settings.pam_service;
    ms.caphash_fd = *cfd;
    for (int fd : fds->sockets) ms.socket_addresses.push_back(unix_address_of(fd));
    std::vector<int> monitor_ends, front_ends;
    for (unsigned i = 0; i < o.settings.workers; ++i) {
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
            return die(kExitSystem, std::string("socketpair: ") + std::strerror(errno));
        monitor_ends.push_back(sv[0]);
        front_ends.push_back(sv[1]);
    }
    const pid_t monitor_pid = ::getpid();
    const pid_t front = ::fork();
    if (front < 0) return die(kExitSystem, std::string("fork: ") + std::strerror(errno));
    if (front == 0) {
        ::close(*cfd);
        for (int fd : monitor_ends) ::close(fd);
        return run_front(o, monitor_pid, std::move(front_ends), std::move(fds->sockets));
    }
    for (int fd : front_ends) ::close(fd);
    for (int fd : fds->sockets) ::close(fd);
    return run_monitor(o, std::move(ms), std::move(*policy), monitor_ends, front);
}

int main(int argc, char** argv) {
    return p9auth::run_main("factotum", kExitSystem, [&] { return main_body(argc, argv); });
}
