#include "support.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <linux/securebits.h>
#include <sys/mount.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace conformance {

namespace {

Config g_config;

using Clock = std::chrono::steady_clock;

// Exit codes a child uses for its own trouble (not the code under test).
constexpr int kChildDropFailed = 250;
constexpr int kChildThrew = 251;

void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
}

std::string read_all(int fd) {
    std::string out;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

// Waits for a child; returns its exit code, or 1000 + signal.
int wait_child(pid_t pid) {
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 1000 + WTERMSIG(st);
    return -1;
}

// Waits up to deadline_ms for a child to exit. nullopt when it did not.
std::optional<int> wait_child_for(pid_t pid, int deadline_ms) {
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd >= 0) {
        pollfd p{pidfd, POLLIN, 0};
        int r;
        do r = ::poll(&p, 1, deadline_ms);
        while (r < 0 && errno == EINTR);
        ::close(pidfd);
        if (r == 0) return std::nullopt;
        return wait_child(pid);
    }
    const auto end = Clock::now() + std::chrono::milliseconds(deadline_ms);
    for (;;) {
        int st = 0;
        const pid_t r = ::waitpid(pid, &st, WNOHANG);
        if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
        if (Clock::now() > end) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

void drop_to(const Ids& ids) {
    if (::setgroups(ids.groups.size(), ids.groups.data()) != 0 || ::setresgid(ids.gid, ids.gid, ids.gid) != 0 ||
        ::setresuid(ids.uid, ids.uid, ids.uid) != 0) {
        std::fprintf(stderr, "conformance: cannot drop to uid %u: %s\n", ids.uid, std::strerror(errno));
        ::_exit(kChildDropFailed);
    }
}

std::vector<gid_t> sorted(std::vector<gid_t> v) {
    std::sort(v.begin(), v.end());
    return v;
}

std::string log_text(int fd) {
    if (fd < 0) return "";
    ::lseek(fd, 0, SEEK_SET);
    std::string s = read_all(fd);
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
}

}  // namespace

const Config& config() { return g_config; }
Config& mutable_config() { return g_config; }

std::vector<std::string>& deferred_failures() {
    static std::vector<std::string> v;
    return v;
}

void fail(std::string why) { throw Failure{std::move(why)}; }

void check(bool ok, const std::string& what) {
    if (!ok) fail(what);
}

std::string errno_name(int e) {
    if (e == 0) return "success";
    if (e < 0) return "short write";
    if (e >= 200) return "child failure " + std::to_string(e);
    const char* n = ::strerrorname_np(e);
    return n ? n : "errno " + std::to_string(e);
}

void check_errno(int got, int want, const std::string& what) {
    if (got != want) fail(what + ": got " + errno_name(got) + ", want " + errno_name(want));
}

Ids alice() { return Ids{kAlice, kAlice, {kStaff}}; }
Ids bob() { return Ids{kBob, kBob, {kStaff, kDev, kAudio}}; }
Ids carol() { return Ids{kCarol, kCarol, {kAudio}}; }

int run_as(const Ids& ids, const std::function<int()>& fn) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) fail(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        drop_to(ids);
        int code = kChildThrew;
        try {
            code = fn();
        } catch (const Failure& f) {
            std::fprintf(stderr, "conformance child: %s\n", f.why.c_str());
        } catch (...) {
        }
        std::fflush(nullptr);
        ::_exit(code);
    }
    return wait_child(pid);
}

// ---- credentials ------------------------------------------------------

Creds read_creds() {
    Creds c;
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string key;
        ls >> key;
        if (key == "Uid:") {
            for (auto& u : c.uid) ls >> u;
        } else if (key == "Gid:") {
            for (auto& g : c.gid) ls >> g;
        } else if (key == "Groups:") {
            gid_t g;
            while (ls >> g) c.groups.push_back(g);
        } else if (key == "CapEff:") {
            ls >> std::hex >> c.cap_eff;
        } else if (key == "CapPrm:") {
            ls >> std::hex >> c.cap_prm;
        } else if (key == "NoNewPrivs:") {
            ls >> c.no_new_privs;
        }
    }
    c.groups = sorted(std::move(c.groups));
    c.securebits = ::prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
    return c;
}

std::string format_creds(const Creds& c) {
    std::ostringstream o;
    o << "uid " << c.uid[0] << ' ' << c.uid[1] << ' ' << c.uid[2] << ' ' << c.uid[3] << '\n';
    o << "gid " << c.gid[0] << ' ' << c.gid[1] << ' ' << c.gid[2] << ' ' << c.gid[3] << '\n';
    o << "groups";
    for (gid_t g : c.groups) o << ' ' << g;
    o << '\n' << "capeff " << std::hex << c.cap_eff << '\n' << "capprm " << c.cap_prm << std::dec << '\n';
    o << "nnp " << c.no_new_privs << '\n';
    o << "secbits " << c.securebits << '\n';
    return o.str();
}

std::optional<Creds> parse_creds(std::string_view text) {
    Creds c;
    std::istringstream in{std::string(text)};
    std::string line;
    int seen = 0;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string key;
        ls >> key;
        if (key == "uid") {
            for (auto& u : c.uid) ls >> u;
            seen |= 1;
        } else if (key == "gid") {
            for (auto& g : c.gid) ls >> g;
            seen |= 2;
        } else if (key == "groups") {
            gid_t g;
            while (ls >> g) c.groups.push_back(g);
            seen |= 4;
        } else if (key == "capeff") {
            ls >> std::hex >> c.cap_eff;
        } else if (key == "capprm") {
            ls >> std::hex >> c.cap_prm;
        } else if (key == "nnp") {
            ls >> c.no_new_privs;
        } else if (key == "secbits") {
            ls >> c.securebits;
        }
    }
    if (seen != 7) return std::nullopt;
    return c;
}

std::string describe(const Creds& c) {
    std::string s = format_creds(c);
    std::replace(s.begin(), s.end(), '\n', ';');
    return "{" + s + "}";
}

UseResult use_via_p9use(const Ids& as, std::string_view capability, const std::vector<std::string>& options) {
    if (config().p9use.empty()) fail("this case needs --p9use");
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) fail("pipe");
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) fail("fork");
    if (pid == 0) {
        ::dup2(in[0], 0);
        ::dup2(out[1], 1);
        ::dup2(out[1], 2);  // p9use's messages, for the failure report
        drop_to(as);
        std::vector<const char*> argv{config().p9use.c_str()};
        for (const auto& o : options) argv.push_back(o.c_str());
        argv.insert(argv.end(), {config().self.c_str(), "--report-creds", nullptr});
        ::execv(argv[0], const_cast<char**>(argv.data()));
        ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    std::string text(capability);
    text.push_back('\n');
    write_all(in[1], text);  // p9use may refuse before reading: a failure here is fine
    ::close(in[1]);
    UseResult r;
    r.raw = read_all(out[0]);
    ::close(out[0]);
    r.code = wait_child(pid);
    r.creds = parse_creds(r.raw);
    return r;
}

UseResult use_direct(const Ids& as, std::string_view capability, const std::string& mount) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) fail("pipe");
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) fail("fork");
    if (pid == 0) {
        ::close(out[0]);
        drop_to(as);
        int e = 0;
        const int fd = ::open((mount + "/capuse").c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
            e = errno;
        } else {
            const ssize_t n = ::write(fd, capability.data(), capability.size());
            if (n < 0)
                e = errno;
            else if (static_cast<std::size_t>(n) != capability.size())
                e = -1;
            ::close(fd);
        }
        const std::string report = "errno " + std::to_string(e) + "\n" + format_creds(read_creds());
        write_all(out[1], report);
        ::_exit(0);
    }
    ::close(out[1]);
    UseResult r;
    r.raw = read_all(out[0]);
    ::close(out[0]);
    const int code = wait_child(pid);
    if (code != 0 || r.raw.rfind("errno ", 0) != 0) fail("direct writer child failed (" + std::to_string(code) + ")");
    r.code = std::stoi(r.raw.substr(6));
    r.creds = parse_creds(r.raw);
    return r;
}

UseResult use_native(const Ids& as, std::string_view capability, const std::string& mount) {
    if (fuse()) return use_via_p9use(as, capability);
    return use_direct(as, capability, mount);
}

Creds expected_after(const Ids& from, const p9auth::Target& to) {
    Creds c;
    for (auto& u : c.uid) u = to.uid;
    if (to.bare()) {
        for (auto& g : c.gid) g = from.gid;
        c.groups = sorted(from.groups);
    } else {
        for (auto& g : c.gid) g = *to.gid;
        c.groups = sorted(to.groups);
    }
    return c;
}

void check_became(const UseResult& r, const Creds& want, bool via_p9use, const std::string& what) {
    if (r.code != 0)
        fail(what + ": use failed (" + (via_p9use ? "p9use exit " + std::to_string(r.code) : errno_name(r.code)) + ")");
    if (!r.creds) fail(what + ": no credentials reported: " + r.raw);
    const Creds& got = *r.creds;
    bool same = std::equal(std::begin(got.uid), std::end(got.uid), std::begin(want.uid)) &&
                std::equal(std::begin(got.gid), std::end(got.gid), std::begin(want.gid)) && got.groups == want.groups;
    if (!same) fail(what + ": ran as " + describe(got) + ", want " + describe(want));
    // decisions.md 29: no no_new_privs (set-uid programs work in a session);
    // a uid-0 target is held by SECBIT_NOROOT, locked, instead.
    if (via_p9use && (got.cap_eff != 0 || got.cap_prm != 0 || got.no_new_privs != 0))
        fail(what + ": after p9use capabilities remain or no_new_privs is set: " + describe(got));
    const int noroot = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED;
    if (via_p9use && want.uid[0] == 0 && (got.securebits < 0 || (got.securebits & noroot) != noroot))
        fail(what + ": a uid-0 target after p9use without SECBIT_NOROOT locked: " + describe(got));
    if (via_p9use && want.uid[0] != 0 && got.securebits != 0)
        fail(what + ": securebits set for a target other than uid 0: " + describe(got));
}

void check_not_became(const UseResult& r, uid_t target, const std::string& what) {
    if (r.code == 0) fail(what + ": the use succeeded");
    if (r.creds)
        for (uid_t u : r.creds->uid)
            if (u == target) fail(what + ": ran as the target anyway: " + describe(*r.creds));
}

// ---- grants -----------------------------------------------------------

p9auth::Target target(uid_t uid, std::optional<gid_t> gid, std::vector<gid_t> groups) {
    p9auth::Target t;
    t.uid = uid;
    t.gid = gid;
    t.groups = std::move(groups);
    return t;
}

Grant make(uid_t from, const p9auth::Target& to, p9auth::HashKind kind) {
    auto g = p9auth::make_grant(from, to, kind);
    return Grant{std::string(g.capability.view()), g.hash};
}

p9auth::Hash hash_text(std::string_view capability, p9auth::HashKind kind) {
    const auto at = capability.rfind('@');
    if (at == std::string_view::npos) fail("hash_text: no @");
    return p9auth::hmac(kind, capability.substr(at + 1), capability.substr(0, at));
}

// ---- files ------------------------------------------------------------

int write_file(const std::string& path, std::string_view data, int flags) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | flags);
    if (fd < 0) return errno;
    const ssize_t n = ::write(fd, data.data(), data.size());
    const int e = n < 0 ? errno : 0;
    ::close(fd);
    if (n >= 0 && static_cast<std::size_t>(n) != data.size())
        fail("write of " + std::to_string(data.size()) + " bytes to " + path + " returned " + std::to_string(n));
    return e;
}

int open_errno(const std::string& path, int flags) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
    if (fd < 0) return errno;
    ::close(fd);
    return 0;
}

std::string read_file(const std::string& path, std::size_t chunk) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("open " + path + ": " + errno_name(errno));
    std::string out;
    std::vector<char> buf(chunk);
    for (;;) {
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0) {
            const int e = errno;
            ::close(fd);
            fail("read " + path + ": " + errno_name(e));
        }
        if (n == 0) break;
        out.append(buf.data(), static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
}

// ---- status -----------------------------------------------------------

std::string describe(const Status& s) {
    std::ostringstream o;
    o << "{outstanding " << s.outstanding << " granted " << s.granted << " used " << s.used << " expired " << s.expired
      << " refused " << s.refused << " maxcaps " << s.maxcaps << " timeout " << s.timeout << "}";
    return o.str();
}

namespace {

Status parse_status(const std::string& text) {
    static const char* const names[] = {"outstanding", "granted", "used", "expired", "refused", "maxcaps", "timeout"};
    Status s;
    std::uint64_t* fields[] = {&s.outstanding, &s.granted, &s.used, &s.expired, &s.refused, &s.maxcaps, &s.timeout};
    std::string_view rest = text;
    for (std::size_t i = 0; i < 7; ++i) {
        const auto nl = rest.find('\n');
        if (nl == std::string_view::npos)
            fail("status: line " + std::to_string(i + 1) + " missing or unterminated in: " + text);
        const std::string_view line = rest.substr(0, nl);
        rest.remove_prefix(nl + 1);
        const std::string prefix = std::string(names[i]) + " ";
        if (line.substr(0, prefix.size()) != prefix)
            fail("status: line " + std::to_string(i + 1) + " is not '" + names[i] + " N': " + std::string(line));
        const std::string_view num = line.substr(prefix.size());
        if (num.empty() || num.size() > 20 || (num.size() > 1 && num[0] == '0') ||
            !std::all_of(num.begin(), num.end(), [](char c) { return c >= '0' && c <= '9'; }))
            fail("status: bad number in line '" + std::string(line) + "'");
        *fields[i] = std::stoull(std::string(num));
    }
    if (!rest.empty()) fail("status: extra text after 'timeout': " + std::string(rest));
    return s;
}

}  // namespace

// ---- mounts -----------------------------------------------------------

std::string ensure_dir(const std::string& path) {
    std::string cur;
    std::size_t pos = 0;
    while (pos != std::string::npos) {
        pos = path.find('/', pos + 1);
        cur = path.substr(0, pos);
        if (!cur.empty()) ::mkdir(cur.c_str(), 0755);
    }
    return path;
}

bool mounted_at(const std::string& path, std::string* fstype) {
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    bool found = false;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string id, parent, dev, root, mnt, opts, f;
        ls >> id >> parent >> dev >> root >> mnt >> opts;
        while (ls >> f && f != "-") {
        }
        std::string type;
        ls >> type;
        if (mnt == path) {
            found = true;  // the last one listed is on top
            if (fstype) *fstype = type;
        }
    }
    return found;
}

bool poll_until(const std::function<bool()>& pred, int deadline_ms) {
    const auto end = Clock::now() + std::chrono::milliseconds(deadline_ms);
    for (;;) {
        if (pred()) return true;
        if (Clock::now() > end) return pred();
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

namespace {

constexpr int kDaemonDeadlineMs = 15000;  // generous: sanitizer builds start slowly

std::vector<const char*> daemon_argv(const std::string& opts, const std::string& path) {
    std::vector<const char*> argv{config().p9authfs.c_str(), "-f"};
    if (!opts.empty()) {
        argv.push_back("-o");
        argv.push_back(opts.c_str());
    }
    argv.push_back(path.c_str());
    argv.push_back(nullptr);
    return argv;
}

pid_t spawn_daemon(const std::string& opts, const std::string& path, int log_fd) {
    auto argv = daemon_argv(opts, path);
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) fail("fork");
    if (pid == 0) {
        const int null = ::open("/dev/null", O_RDWR);
        ::dup2(null, 0);
        ::dup2(log_fd, 1);
        ::dup2(log_fd, 2);
        ::execv(argv[0], const_cast<char**>(argv.data()));
        ::_exit(127);
    }
    return pid;
}

}  // namespace

Mount::Mount(const std::string& opts, const std::string& path) : path_(path.empty() ? config().mount : path) {
    ensure_dir(path_);
    std::string type;
    if (mounted_at(path_, &type)) fail("something (" + type + ") is already mounted at " + path_);
    if (kernel()) {
        if (::mount("p9auth", path_.c_str(), "p9auth", 0, opts.c_str()) != 0)
            fail("mount -t p9auth -o '" + opts + "' " + path_ + ": " + errno_name(errno));
        mounted_ = true;
        return;
    }
    if (config().p9authfs.empty()) fail("--impl fuse needs --p9authfs");
    log_fd_ = ::memfd_create("p9authfs-log", MFD_CLOEXEC);
    if (log_fd_ < 0) fail("memfd_create");
    daemon_ = spawn_daemon(opts, path_, log_fd_);
    std::optional<int> exited;
    const bool up = poll_until(
        [&] {
            if (mounted_at(path_, &type) && type == "fuse.p9authfs") return true;
            int st = 0;
            if (::waitpid(daemon_, &st, WNOHANG) == daemon_) {
                exited = WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
                return true;
            }
            return false;
        },
        kDaemonDeadlineMs);
    if (exited || !up) {
        if (!exited) {
            ::kill(daemon_, SIGKILL);
            wait_child(daemon_);
        }
        daemon_ = -1;
        const std::string log = log_text(log_fd_);
        close_fd(log_fd_);
        fail("p9authfs -o '" + opts + "' " + path_ +
             (exited ? " exited " + std::to_string(*exited) : " did not mount in time") + ": " + log);
    }
    mounted_ = true;
}

Mount::~Mount() {
    try {
        unmount();
    } catch (const Failure& f) {
        deferred_failures().push_back(f.why);
    }
}

void Mount::unmount() {
    if (!mounted_) return;
    mounted_ = false;
    if (::umount2(path_.c_str(), 0) != 0) {
        const int e = errno;
        const bool ok = e == EBUSY && poll_until([&] { return ::umount2(path_.c_str(), 0) == 0; }, 2000);
        if (!ok) {
            ::umount2(path_.c_str(), MNT_DETACH);
            deferred_failures().push_back("umount " + path_ + ": " + errno_name(e));
        }
    }
    if (daemon_ > 0) {
        const auto code = wait_child_for(daemon_, kDaemonDeadlineMs);
        if (!code) {
            ::kill(daemon_, SIGKILL);
            wait_child(daemon_);
            deferred_failures().push_back("p9authfs did not exit within 15 s of the unmount of " + path_);
        } else if (*code != 0) {
            deferred_failures().push_back("p9authfs exited " + std::to_string(*code) +
                                          " after the unmount: " + log_text(log_fd_));
        }
        daemon_ = -1;
    }
    close_fd(log_fd_);
}

int Mount::grant(const p9auth::Hash& h) const {
    const auto b = h.bytes();
    return write_file(caphash(), std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
}

Status Mount::status() const { return parse_status(read_file(status_file())); }

bool drop_keeping(std::initializer_list<int> keep) {
    if (::prctl(PR_SET_KEEPCAPS, 1) != 0 || ::setgroups(0, nullptr) != 0 || ::setresgid(kAlice, kAlice, kAlice) != 0 ||
        ::setresuid(kAlice, kAlice, kAlice) != 0)
        return false;
    __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct d[2]{};
    for (const int c : keep) {
        d[c / 32].effective |= 1u << (c % 32);
        d[c / 32].permitted |= 1u << (c % 32);
    }
    return ::syscall(SYS_capset, &h, d) == 0;
}

int mount_refusal(const std::string& opts, const std::string& path, std::string* log) {
    if (kernel()) {
        if (::mount("p9auth", path.c_str(), "p9auth", 0, opts.c_str()) == 0) {
            ::umount2(path.c_str(), 0);
            return -1;
        }
        return errno;
    }
    const int log_fd = ::memfd_create("p9authfs-log", MFD_CLOEXEC);
    const pid_t pid = spawn_daemon(opts, path, log_fd);
    const auto code = wait_child_for(pid, kDaemonDeadlineMs);
    int result = -1;
    if (!code) {
        ::umount2(path.c_str(), MNT_DETACH);
        ::kill(pid, SIGKILL);
        wait_child(pid);
    } else if (mounted_at(path)) {
        ::umount2(path.c_str(), MNT_DETACH);
    } else {
        result = *code;
    }
    if (log) *log = log_text(log_fd);
    ::close(log_fd);
    return result;
}

std::string mount_must_fail(const std::string& opts, const std::string& name, const std::string& path) {
    ensure_dir(path);
    if (kernel()) {
        if (::mount("p9auth", path.c_str(), "p9auth", 0, opts.c_str()) == 0) {
            ::umount2(path.c_str(), 0);
            return "mounted with '" + opts + "'";
        }
        if (errno != EINVAL) return "mount with '" + opts + "' failed with " + errno_name(errno) + ", want EINVAL";
        return "";
    }
    int log_fd = ::memfd_create("p9authfs-log", MFD_CLOEXEC);
    const pid_t pid = spawn_daemon(opts, path, log_fd);
    const auto code = wait_child_for(pid, kDaemonDeadlineMs);
    std::string why;
    if (!code) {
        ::umount2(path.c_str(), MNT_DETACH);
        ::kill(pid, SIGKILL);
        wait_child(pid);
        why = "p9authfs kept running with '" + opts + "'";
    } else {
        const std::string log = log_text(log_fd);
        if (*code != 2)
            why = "p9authfs -o '" + opts + "' exited " + std::to_string(*code) + ", want 2: " + log;
        else if (log.find(name) == std::string::npos)
            why = "the message does not name '" + name + "': " + log;
        if (mounted_at(path)) {
            ::umount2(path.c_str(), MNT_DETACH);
            why += " (and left a mount behind)";
        }
    }
    ::close(log_fd);
    return why;
}

}  // namespace conformance
