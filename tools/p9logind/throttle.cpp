// Failed logins per source, in files shared by p9logind's processes.
#include "throttle.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace p9logind {
namespace {

struct Record {
    long long failures = 0, window_start = 0, locked_until = 0;
};

// A record nobody else can write (0600 in a 0700 directory of ours); one
// that does not parse is a fresh one.
Record read_record(int fd) {
    char buf[128] = "";
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    Record r;
    if (n <= 0) return r;
    buf[n] = '\0';
    if (std::sscanf(buf, "%lld %lld %lld", &r.failures, &r.window_start, &r.locked_until) != 3 || r.failures < 0)
        r = Record{};
    return r;
}

bool write_record(int fd, const Record& r) {
    char buf[128];
    int n = std::snprintf(buf, sizeof buf, "%lld %lld %lld\n", r.failures, r.window_start, r.locked_until);
    return n > 0 && ::pwrite(fd, buf, static_cast<std::size_t>(n), 0) == n && ::ftruncate(fd, n) == 0;
}

// A window that has run out, or a lockout that has, starts the count again.
void age(Record& r, long long now, long window) {
    if (r.locked_until != 0 && r.locked_until <= now) r = Record{};
    if (r.locked_until == 0 && now - r.window_start >= window) {
        r.failures = 0;
        r.window_start = now;
    }
}

std::string file_name(const std::string& key) {
    std::string f = key;
    for (char& c : f)
        if (c == '/') c = '_';
    return f;
}

class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

}  // namespace

long long boot_seconds() {
    timespec ts{};
    ::clock_gettime(CLOCK_BOOTTIME, &ts);
    return ts.tv_sec;
}

std::string source_key(const std::string& rhost) {
    if (rhost.empty()) return "local";
    in_addr a4{};
    if (::inet_pton(AF_INET, rhost.c_str(), &a4) == 1) {
        char t[INET_ADDRSTRLEN];
        ::inet_ntop(AF_INET, &a4, t, sizeof t);
        return t;
    }
    in6_addr a6{};
    if (::inet_pton(AF_INET6, rhost.c_str(), &a6) == 1) {
        std::memset(&a6.s6_addr[8], 0, 8);
        char t[INET6_ADDRSTRLEN];
        ::inet_ntop(AF_INET6, &a6, t, sizeof t);
        return std::string(t) + "/64";
    }
    return "unknown";  // never from peer_address(); counted together, not trusted as a name
}

std::string SourceThrottle::check() const {
    struct stat st {};
    if (::lstat(dir_.c_str(), &st) != 0) return dir_ + ": " + std::strerror(errno);
    if (!S_ISDIR(st.st_mode)) return dir_ + ": not a directory";
    if (st.st_uid != ::geteuid())
        return dir_ + ": not owned by the daemon's user (uid " + std::to_string(::geteuid()) + ")";
    if (st.st_mode & 022) return dir_ + ": writable by group or others";
    return "";
}

int SourceThrottle::open_entry(const std::string& key, bool create, bool* absent) const {
    *absent = false;
    Fd dir(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (dir.get() < 0) return -1;
    const std::string name = file_name(key);
    int fd = ::openat(dir.get(), name.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0 || errno != ENOENT) return fd;
    if (!create) {
        *absent = true;  // a source with no count: not the same as a directory we cannot read
        return -1;
    }
    // A new source: the directory is bounded (tmpfs is memory). Sources
    // whose window and lockout are over are dropped first.
    DIR* d = ::fdopendir(::dup(dir.get()));
    if (!d) return -1;
    std::size_t count = 0;
    for (dirent* e; (e = ::readdir(d));)
        if (e->d_name[0] != '.') ++count;
    if (count >= limits_.max_sources) {
        const long long now = now_();
        ::rewinddir(d);
        for (dirent* e; (e = ::readdir(d));) {
            if (e->d_name[0] == '.') continue;
            Fd f(::openat(dir.get(), e->d_name, O_RDWR | O_NOFOLLOW | O_CLOEXEC));
            // Only an entry nobody is updating, judged under its lock.
            if (f.get() < 0 || ::flock(f.get(), LOCK_EX | LOCK_NB) != 0) continue;
            Record r = read_record(f.get());
            if ((r.locked_until == 0 || r.locked_until <= now) && now - r.window_start >= limits_.window &&
                ::unlinkat(dir.get(), e->d_name, 0) == 0)
                --count;
        }
    }
    ::closedir(d);
    if (count >= limits_.max_sources) {
        errno = ENOSPC;
        return -1;
    }
    return ::openat(dir.get(), name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
}

long SourceThrottle::locked_for(const std::string& key) const {
    bool absent;
    Fd fd(open_entry(key, false, &absent));
    if (fd.get() < 0) return absent ? 0 : -1;
    if (::flock(fd.get(), LOCK_SH) != 0) return -1;
    Record r = read_record(fd.get());
    const long long now = now_();
    return r.locked_until > now ? static_cast<long>(r.locked_until - now) : 0;
}

long SourceThrottle::charge(const std::string& key) const {
    bool absent;
    Fd fd(open_entry(key, true, &absent));
    if (fd.get() < 0 || ::flock(fd.get(), LOCK_EX) != 0) return -1;
    Record r = read_record(fd.get());
    const long long now = now_();
    age(r, now, limits_.window);
    if (r.locked_until > now) return static_cast<long>(r.locked_until - now);
    // The limit-th attempt is still checked; it locks the source for
    // the next ones unless it succeeds (refund).
    if (++r.failures >= limits_.fail_limit) r.locked_until = now + limits_.lockout;
    return write_record(fd.get(), r) ? 0 : -1;
}

void SourceThrottle::refund(const std::string& key) const {
    bool absent;
    Fd fd(open_entry(key, false, &absent));
    if (fd.get() < 0 || ::flock(fd.get(), LOCK_EX) != 0) return;
    Record r = read_record(fd.get());
    if (r.failures > 0) --r.failures;
    if (r.failures < limits_.fail_limit) r.locked_until = 0;
    write_record(fd.get(), r);
}

}  // namespace p9logind
