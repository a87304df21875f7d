// factotum-test-systemd: plays the part of systemd for factotum's tests.
//
//   factotum-test-systemd NOTIFY_SOCKET --store|--no-store -- FACTOTUM [ARGS...]
//
// Binds a datagram socket at NOTIFY_SOCKET and starts FACTOTUM with
// NOTIFY_SOCKET set. Prints each notification ("notify 1: READY=1 ...";
// "fd 1: caphash" for a descriptor that came with FDSTORE=1). Once the
// first factotum is READY and has stored caphash, kills it (SIGKILL), then
// starts FACTOTUM again: with --store, with the stored descriptor as fd 3
// and LISTEN_FDS=1, LISTEN_PID, LISTEN_FDNAMES=caphash, as systemd hands
// a service its descriptor store; with --no-store, without it. Prints
// "second: READY" or "second: exit N", then waits for the second factotum
// to exit (SIGTERM to the harness kills it first). Exits 0, or 1 when the
// first factotum did not get that far within 20 s. Not installed.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

int g_notify = -1;
pid_t g_child = -1;

// The service's processes are its process group (the child leads one), as
// a unit's are its cgroup: killed together, and gone together before a
// restart, as systemd's KillMode=control-group has it (factotum's front is
// a child of its monitor).
void on_term(int) {
    if (g_child > 0) ::kill(-g_child, SIGKILL);
    ::_exit(0);
}

void kill_service(pid_t leader) {
    ::kill(-leader, SIGKILL);
    ::waitpid(leader, nullptr, 0);
    for (int i = 0; i < 1000 && ::kill(-leader, 0) == 0; ++i) ::usleep(10'000);  // the rest of the group, 10 s at most
}

pid_t spawn(char** argv, int stored) {
    pid_t pid = ::fork();
    if (pid != 0) {
        if (pid > 0) ::setpgid(pid, pid);  // in both, so that neither side races the other
        return pid;
    }
    ::setpgid(0, 0);
    if (stored >= 0) {
        if (stored != 3) {
            ::dup2(stored, 3);
            ::close(stored);
        } else {
            ::fcntl(3, F_SETFD, 0);
        }
        ::setenv("LISTEN_FDS", "1", 1);
        ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
        ::setenv("LISTEN_FDNAMES", "caphash", 1);
    }
    ::execv(argv[0], argv);
    std::perror("factotum-test-systemd: exec");
    ::_exit(127);
}

// One datagram: its text and any descriptors that came with it.
bool receive(int ms, std::string* text, std::vector<int>* fds) {
    pollfd p{g_notify, POLLIN, 0};
    if (::poll(&p, 1, ms) != 1) return false;
    char buf[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 16)];
    iovec iov{buf, sizeof buf};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(g_notify, &m, MSG_CMSG_CLOEXEC);
    if (n < 0) return false;
    text->assign(buf, static_cast<std::size_t>(n));
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            std::size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (std::size_t i = 0; i < k; ++i) {
                int fd;
                std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                fds->push_back(fd);
            }
        }
    return true;
}

std::string oneline(std::string s) {
    for (char& c : s)
        if (c == '\n') c = ' ';
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 5 || std::strcmp(argv[3], "--") != 0) {
        std::fprintf(stderr, "usage: factotum-test-systemd NOTIFY_SOCKET --store|--no-store -- FACTOTUM [ARGS...]\n");
        return 2;
    }
    const bool store = std::strcmp(argv[2], "--store") == 0;
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    g_notify = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, argv[1], sizeof a.sun_path - 1);
    ::unlink(argv[1]);
    if (::bind(g_notify, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        std::perror("factotum-test-systemd: bind");
        return 1;
    }
    ::setenv("NOTIFY_SOCKET", argv[1], 1);
    ::signal(SIGTERM, on_term);

    g_child = spawn(argv + 4, -1);
    int stored = -1;
    bool ready = false;
    int count = 0;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!(ready && stored >= 0) && std::chrono::steady_clock::now() < until) {
        std::string text;
        std::vector<int> fds;
        if (!receive(200, &text, &fds)) {
            int st = 0;
            if (::waitpid(g_child, &st, WNOHANG) == g_child) {
                std::printf("first: exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
                return 1;
            }
            continue;
        }
        ++count;
        std::printf("notify %d: %s\n", count, oneline(text).c_str());
        if (text.find("READY=1") != std::string::npos) ready = true;
        bool named = text.find("FDSTORE=1") != std::string::npos && text.find("FDNAME=caphash") != std::string::npos;
        for (int fd : fds) {
            if (named && stored < 0) {
                stored = fd;
                std::printf("fd %d: caphash\n", count);
            } else {
                ::close(fd);
            }
        }
    }
    if (!ready || stored < 0) {
        std::printf("first: %s\n", ready ? "no caphash stored" : "not ready");
        kill_service(g_child);
        return 1;
    }
    kill_service(g_child);
    std::printf("first: killed\n");
    if (!store) {
        ::close(stored);
        stored = -1;
    }

    g_child = spawn(argv + 4, stored);
    if (stored >= 0) ::close(stored);  // systemd keeps its copy; ours is not needed for the rest
    until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
        std::string text;
        std::vector<int> fds;
        if (receive(200, &text, &fds)) {
            for (int fd : fds) ::close(fd);
            std::printf("second notify: %s\n", oneline(text).c_str());
            if (text.find("READY=1") != std::string::npos) std::printf("second: READY\n");
            continue;
        }
        int st = 0;
        if (::waitpid(g_child, &st, WNOHANG) == g_child) {
            std::printf("second: exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
            return 0;
        }
    }
}
