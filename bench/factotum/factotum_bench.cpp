// factotum-bench: grant latency and throughput.
//
//   factotum-bench factotum SOCKET TARGET N CONCURRENCY
//       N requests through p9auth_client, CONCURRENCY at a time; every
//       prompt answered with an empty line (the bench uses pam_permit).
//   factotum-bench p9grant P9GRANT MOUNT FROM TO N
//       N runs of the grant command, one after another (fork + exec + wait).
//   factotum-bench caphash MOUNT N
//       N grants written straight to MOUNT/caphash from this process: the
//       filesystem's own ceiling, with no process start and no PAM.
//   factotum-bench floor SERVICE MOUNT TARGET N
//       N times, in this one process, what a grant costs without factotum:
//       the NSS lookups (target, its groups, the client's name), a PAM
//       transaction (pam_start, pam_authenticate, pam_acct_mgmt, pam_end)
//       and the caphash write. factotum(1)/floor is factotum's own share.
//   factotum-bench kinit KINIT PRINCIPAL N CONCURRENCY
//       N runs of kinit PRINCIPAL (a memory credential cache, the password
//       on its standard input), CONCURRENCY at a time: what the KDC alone
//       costs a login, for run-krb5.sh.
// Prompts (factotum's, kinit's) are answered with $FT_BENCH_PASSWORD, or
// an empty line (pam_permit asks nothing). A fixture password, never a
// real one: it is in the environment.
// Prints one line: "NAME n=N seconds=S rate=R/s p50=Xms p99=Yms failures=F".
#include <grp.h>
#include <pwd.h>
#include <security/pam_appl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"
#include "grant.hpp"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

class Silent final : public p9auth::Conversation {
public:
    p9auth::Expected<p9auth::SecretString> prompt(std::string_view, bool) override {
        const char* pw = std::getenv("FT_BENCH_PASSWORD");
        return p9auth::SecretString(pw ? pw : "");
    }
    void info(std::string_view) override {}
    void error(std::string_view) override {}
};

void report(const char* name, std::vector<double> ms, double seconds, int failures) {
    std::sort(ms.begin(), ms.end());
    auto pct = [&](double p) {
        return ms.empty() ? 0.0 : ms[std::min(ms.size() - 1, static_cast<std::size_t>(p * ms.size()))];
    };
    std::printf("%s n=%zu seconds=%.3f rate=%.1f/s p50=%.3fms p99=%.3fms failures=%d\n", name, ms.size(), seconds,
                ms.size() / seconds, pct(0.50), pct(0.99), failures);
}

int bench_factotum(const std::string& sock, const std::string& target, int n, int conc) {
    std::atomic<int> next{0}, failures{0};
    std::mutex mu;
    std::vector<double> ms;
    ms.reserve(static_cast<std::size_t>(n));
    auto t0 = Clock::now();
    std::vector<std::thread> ts;
    for (int c = 0; c < conc; ++c)
        ts.emplace_back([&] {
            Silent conv;
            std::vector<double> mine;
            while (next.fetch_add(1) < n) {
                auto s = Clock::now();
                auto cap = p9auth::request_capability(sock, target, conv);
                auto e = std::chrono::duration<double, std::milli>(Clock::now() - s).count();
                if (!cap) {
                    if (failures.fetch_add(1) == 0)
                        std::fprintf(stderr, "factotum-bench: %s\n", cap.error().message.c_str());
                    continue;
                }
                mine.push_back(e);
            }
            std::lock_guard lock(mu);
            ms.insert(ms.end(), mine.begin(), mine.end());
        });
    for (auto& t : ts) t.join();
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::string name = "factotum(concurrency=" + std::to_string(conc) + ")";
    report(name.c_str(), ms, secs, failures);
    return failures ? 1 : 0;
}

int bench_p9grant(const std::string& prog, const std::string& mount, const std::string& from, const std::string& to,
                  int n) {
    std::vector<double> ms;
    int failures = 0;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    std::vector<std::string> args{prog, "-m", mount, from, to};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
        auto s = Clock::now();
        pid_t pid;
        int st = 0;
        if (posix_spawn(&pid, prog.c_str(), &fa, nullptr, argv.data(), environ) != 0 || waitpid(pid, &st, 0) < 0 ||
            !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            ++failures;
            continue;
        }
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
    }
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    posix_spawn_file_actions_destroy(&fa);
    report("p9grant(sequential)", ms, secs, failures);
    return failures ? 1 : 0;
}

int bench_caphash(const std::string& mount, int n) {
    p9auth::core_init();
    int fd = ::open((mount + "/caphash").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        std::perror("factotum-bench: open caphash");
        return 1;
    }
    p9auth::Target to;
    to.uid = 2002;
    to.gid = 2002;
    to.groups = {2002, 2100};
    std::vector<double> ms;
    int failures = 0;
    auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
        auto s = Clock::now();
        auto g = p9auth::make_grant(2001, to);
        if (::write(fd, g.hash.bytes().data(), g.hash.size()) != static_cast<ssize_t>(g.hash.size())) {
            ++failures;
            continue;
        }
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
    }
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    ::close(fd);
    report("caphash(in-process)", ms, secs, failures);
    return failures ? 1 : 0;
}

int silent_conv(int n, const pam_message** msg, pam_response** resp, void*) {
    auto* r = static_cast<pam_response*>(std::calloc(static_cast<std::size_t>(n), sizeof(pam_response)));
    if (!r) return PAM_BUF_ERR;
    for (int i = 0; i < n; ++i)
        if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON) r[i].resp = strdup("");
    *resp = r;
    return PAM_SUCCESS;
}

int bench_floor(const std::string& service, const std::string& mount, const std::string& target, int n) {
    p9auth::core_init();
    int fd = ::open((mount + "/caphash").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        std::perror("factotum-bench: open caphash");
        return 1;
    }
    const pam_conv conv{silent_conv, nullptr};
    std::vector<double> ms;
    int failures = 0;
    std::vector<char> buf(16384);
    auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
        auto s = Clock::now();
        passwd pw{}, *res = nullptr;
        passwd cpw{}, *cres = nullptr;
        std::vector<char> cbuf(16384);
        gid_t groups[256];
        int ng = 256;
        bool ok = getpwnam_r(target.c_str(), &pw, buf.data(), buf.size(), &res) == 0 && res &&
                  getgrouplist(pw.pw_name, pw.pw_gid, groups, &ng) >= 0 &&
                  getpwuid_r(2001, &cpw, cbuf.data(), cbuf.size(), &cres) == 0 && cres;
        pam_handle_t* h = nullptr;
        ok = ok && pam_start(service.c_str(), target.c_str(), &conv, &h) == PAM_SUCCESS;
        ok = ok && pam_authenticate(h, 0) == PAM_SUCCESS && pam_acct_mgmt(h, 0) == PAM_SUCCESS;
        if (h) pam_end(h, ok ? PAM_SUCCESS : PAM_AUTH_ERR);
        if (ok) {
            p9auth::Target to;
            to.uid = pw.pw_uid;
            to.gid = pw.pw_gid;
            to.groups.assign(groups, groups + ng);
            auto g = p9auth::make_grant(2001, to);
            ok = ::write(fd, g.hash.bytes().data(), g.hash.size()) == static_cast<ssize_t>(g.hash.size());
        }
        if (!ok) {
            ++failures;
            continue;
        }
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
    }
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    ::close(fd);
    report("floor(nss+pam+caphash)", ms, secs, failures);
    return failures ? 1 : 0;
}

int bench_kinit(const std::string& prog, const std::string& principal, int n, int conc) {
    const char* pw = std::getenv("FT_BENCH_PASSWORD");
    const std::string answer = std::string(pw ? pw : "") + "\n";
    std::vector<std::string> env{"KRB5CCNAME=MEMORY:bench", "PATH=/usr/bin:/bin"};
    for (char** e = environ; *e; ++e)
        if (std::strncmp(*e, "KRB5_CONFIG=", 12) == 0) env.emplace_back(*e);
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::atomic<int> next{0}, failures{0};
    std::mutex mu;
    std::vector<double> ms;
    auto t0 = Clock::now();
    std::vector<std::thread> ts;
    for (int c = 0; c < conc; ++c)
        ts.emplace_back([&] {
            std::vector<double> mine;
            std::vector<std::string> args{prog, principal};
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            while (next.fetch_add(1) < n) {
                auto s = Clock::now();
                int p[2];
                if (::pipe2(p, O_CLOEXEC) != 0) {
                    ++failures;
                    continue;
                }
                posix_spawn_file_actions_t fa;
                posix_spawn_file_actions_init(&fa);
                posix_spawn_file_actions_adddup2(&fa, p[0], 0);
                posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
                pid_t pid;
                int st = 0;
                bool ok = posix_spawn(&pid, prog.c_str(), &fa, nullptr, argv.data(), envp.data()) == 0;
                posix_spawn_file_actions_destroy(&fa);
                ::close(p[0]);
                if (ok) ok = ::write(p[1], answer.data(), answer.size()) == static_cast<ssize_t>(answer.size());
                ::close(p[1]);
                if (ok) ok = waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
                if (!ok) {
                    ++failures;
                    continue;
                }
                mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
            }
            std::lock_guard lock(mu);
            ms.insert(ms.end(), mine.begin(), mine.end());
        });
    for (auto& t : ts) t.join();
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::string name = "kinit(concurrency=" + std::to_string(conc) + ")";
    report(name.c_str(), ms, secs, failures);
    return failures ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "factotum" && argc == 6)
        return bench_factotum(argv[2], argv[3], std::atoi(argv[4]), std::atoi(argv[5]));
    if (mode == "caphash" && argc == 4) return bench_caphash(argv[2], std::atoi(argv[3]));
    if (mode == "floor" && argc == 6) return bench_floor(argv[2], argv[3], argv[4], std::atoi(argv[5]));
    if (mode == "kinit" && argc == 6) return bench_kinit(argv[2], argv[3], std::atoi(argv[4]), std::atoi(argv[5]));
    if (mode == "p9grant" && argc == 7) return bench_p9grant(argv[2], argv[3], argv[4], argv[5], std::atoi(argv[6]));
    std::fprintf(stderr,
                 "usage: factotum-bench factotum SOCKET TARGET N CONCURRENCY\n"
                 "       factotum-bench p9grant P9GRANT MOUNT FROM TO N\n"
                 "       factotum-bench caphash MOUNT N\n"
                 "       factotum-bench floor SERVICE MOUNT TARGET N\n"
                 "       factotum-bench kinit KINIT PRINCIPAL N CONCURRENCY\n");
    return 2;
}
