#include "utmp.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <lastlog.h>
#include <paths.h>
#include <sys/time.h>
#include <syslog.h>
#include <unistd.h>
#include <utmpx.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace p9logind {
namespace {

// Copies s into a fixed utmp field; cut, not NUL-terminated when full, as
// the format allows.
template <std::size_t N>
void put(char (&field)[N], const std::string& s) {
    std::memset(field, 0, N);
    std::memcpy(field, s.data(), std::min(N, s.size()));
}

utmpx entry(const LoginRecord& r, short type) {
    utmpx u{};
    u.ut_type = type;
    u.ut_pid = r.pid;
    put(u.ut_line, r.line);
    // As login and sshd: the id is the line's last four characters.
    put(u.ut_id, r.line.size() > sizeof u.ut_id ? r.line.substr(r.line.size() - sizeof u.ut_id) : r.line);
    if (type == USER_PROCESS) {
        put(u.ut_user, r.user);
        put(u.ut_host, r.host);
        in6_addr a6{};
        if (::inet_pton(AF_INET, r.host.c_str(), &u.ut_addr_v6[0]) != 1 &&
            ::inet_pton(AF_INET6, r.host.c_str(), &a6) == 1)
            std::memcpy(u.ut_addr_v6, &a6, sizeof u.ut_addr_v6);
        u.ut_session = ::getsid(r.pid) > 0 ? ::getsid(r.pid) : r.pid;
    }
    timeval tv{};
    ::gettimeofday(&tv, nullptr);
    u.ut_tv.tv_sec = static_cast<decltype(u.ut_tv.tv_sec)>(tv.tv_sec);
    u.ut_tv.tv_usec = static_cast<decltype(u.ut_tv.tv_usec)>(tv.tv_usec);
    return u;
}

void write_utmp_wtmp(const utmpx& u, const char* what) {
    // pututxline reports failure with a null pointer; errno says why (EACCES:
    // not in group utmp).
    errno = 0;
    ::setutxent();
    const bool ok = ::pututxline(&u) != nullptr;
    const int err = errno;
    ::endutxent();
    if (!ok)
        syslog(LOG_WARNING, "%s: cannot write %s: %s (is the daemon's user in group utmp?)", what, _PATH_UTMP,
               std::strerror(err));
    // updwtmpx says nothing of failure: check the file can be written first.
    if (::access(_PATH_WTMP, W_OK) != 0)
        syslog(LOG_WARNING, "%s: cannot write %s: %s (is the daemon's user in group utmp?)", what, _PATH_WTMP,
               std::strerror(errno));
    else
        ::updwtmpx(_PATH_WTMP, &u);
}

void write_lastlog(const LoginRecord& r) {
    const int fd = ::open(_PATH_LASTLOG, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        syslog(LOG_WARNING, "login: cannot write %s: %m", _PATH_LASTLOG);
        return;
    }
    lastlog ll{};
    ll.ll_time = static_cast<decltype(ll.ll_time)>(::time(nullptr));
    put(ll.ll_line, r.line);
    put(ll.ll_host, r.host);
    const off_t at = static_cast<off_t>(r.uid) * static_cast<off_t>(sizeof ll);
    if (::pwrite(fd, &ll, sizeof ll, at) != static_cast<ssize_t>(sizeof ll))
        syslog(LOG_WARNING, "login: cannot write %s: %m", _PATH_LASTLOG);
    ::close(fd);
}

}  // namespace

void record_login(const LoginRecord& r) {
    write_utmp_wtmp(entry(r, USER_PROCESS), "login");
    write_lastlog(r);
}

void record_logout(const LoginRecord& r) { write_utmp_wtmp(entry(r, DEAD_PROCESS), "logout"); }

}  // namespace p9logind
