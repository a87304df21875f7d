// The filter's network rules (seccomp_allow.cpp, --network), applied for
// real: each case forks, installs a filter in the child, makes the calls
// and reports through its exit status, so the filter never touches the
// test runner. What libkrb5 needs passes with --network in the monitor;
// everything near it is refused; the front and a monitor without
// --network refuse IP sockets outright.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/netlink.h>
#include <unistd.h>

#include <cerrno>
#include <functional>

#include "privilege.hpp"

namespace {

using p9auth::factotum::Half;

// Runs fn in a child under install_seccomp(half, false, network); returns
// what fn returned (0, or an errno), 250 when the filter could not be
// installed, 251 when the child died otherwise.
int filtered(Half half, bool network, const std::function<int()>& fn) {
    pid_t pid = ::fork();
    if (pid < 0) return 252;
    if (pid == 0) {
        if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(250);
        if (p9auth::factotum::install_seccomp(half, false, network)) ::_exit(250);
        ::_exit(fn());
    }
    int st = 0;
    if (::waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) return 251;
    return WEXITSTATUS(st);
}

// socket(2)'s errno, or 0 when it made one.
int try_socket(int family, int type, int protocol) {
    int fd = ::socket(family, type, protocol);
    if (fd < 0) return errno;
    ::close(fd);
    return 0;
}

TEST(SeccompNetwork, MonitorWithNetworkMakesWhatLibkrb5Makes) {
    EXPECT_EQ(filtered(Half::monitor, true, [] { return try_socket(AF_INET, SOCK_DGRAM, 0); }), 0);
    EXPECT_EQ(filtered(Half::monitor, true, [] { return try_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); }), 0);
    EXPECT_EQ(filtered(Half::monitor, true, [] { return try_socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK, 0); }), 0);
    EXPECT_EQ(filtered(Half::monitor, true, [] { return try_socket(AF_INET6, SOCK_STREAM, 0); }), 0);
    // Non-blocking by ioctl, lingering off: what libkrb5 does before a TCP connect.
    EXPECT_EQ(filtered(Half::monitor, true,
                       [] {
                           int fd = ::socket(AF_INET, SOCK_STREAM, 0);
                           if (fd < 0) return errno;
                           int on = 1;
                           if (::ioctl(fd, FIONBIO, &on) != 0) return errno;
                           linger l{};
                           if (::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l) != 0) return errno;
                           return 0;
                       }),
              0);
}

TEST(SeccompNetwork, MonitorWithNetworkRefusesTheRest) {
    // Raw, packet, an explicit protocol, another family: refused (trapped: EPERM).
    EXPECT_EQ(filtered(Half::monitor, true, [] { return try_socket(AF_INET, SOCK_RAW, IPPROTO_ICMP); }), EPERM);
    EXPECT_EQ(filtered(Half::monitor, true, [] { return try_socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP); }), EPERM);
    EXPECT_EQ(filtered(Half::monitor, true, [] { return try_socket(AF_PACKET, SOCK_DGRAM, 0); }), EPERM);
    EXPECT_EQ(filtered(Half::monitor, true, [] { return try_socket(AF_INET, SOCK_SEQPACKET, 0); }), EPERM);
    // getaddrinfo's interface question: "no such protocol", not a trap.
    EXPECT_EQ(
        filtered(Half::monitor, true, [] { return try_socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE); }),
        EPROTONOSUPPORT);
    // No listening, no other socket option.
    EXPECT_EQ(filtered(Half::monitor, true,
                       [] {
                           int fd = ::socket(AF_INET, SOCK_STREAM, 0);
                           if (fd < 0) return 100;
                           sockaddr_in a{};
                           a.sin_family = AF_INET;
                           a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                           return ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 ? 0 : errno;
                       }),
              EPERM);
    EXPECT_EQ(filtered(Half::monitor, true,
                       [] {
                           int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
                           if (fd < 0) return 100;
                           int on = 1;
                           return ::setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &on, sizeof on) == 0 ? 0 : errno;
                       }),
              EPERM);
}

TEST(SeccompNetwork, WithoutNetworkOrInTheFrontNoIpSocket) {
    EXPECT_EQ(filtered(Half::monitor, false, [] { return try_socket(AF_INET, SOCK_DGRAM, 0); }), EPERM);
    EXPECT_EQ(filtered(Half::monitor, false, [] { return try_socket(AF_INET6, SOCK_STREAM, 0); }), EPERM);
    // The front ignores the flag: it serves Unix clients only.
    EXPECT_EQ(filtered(Half::front, true, [] { return try_socket(AF_INET, SOCK_DGRAM, 0); }), EPERM);
    EXPECT_EQ(filtered(Half::front, true, [] { return try_socket(AF_INET6, SOCK_STREAM, 0); }), EPERM);
    // Unix sockets stay allowed in both.
    EXPECT_EQ(filtered(Half::front, true, [] { return try_socket(AF_UNIX, SOCK_DGRAM, 0); }), 0);
    EXPECT_EQ(filtered(Half::monitor, false, [] { return try_socket(AF_UNIX, SOCK_STREAM, 0); }), 0);
}

}  // namespace
