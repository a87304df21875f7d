// fs_bench: p9authfs against nullfs (the same three files doing nothing),
// mounted side by side in one run. Prints figures; never passes or fails on
// them. Run it through run-fs-bench.sh (root, a private mount namespace).
//
//   fs_bench --p9authfs BIN --nullfs BIN --dir DIR
//            [--rounds 7] [--cycles 3000] [--uses 20000] [--outstanding 1000000]
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sodium.h>

#include "grant.hpp"

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }
[[noreturn]] void fail_errno(const std::string& what) { fail(what + ": " + std::strerror(errno)); }

class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const { return fd_; }

private:
    int fd_;
};

Fd open_or_fail(const std::string& path, int flags) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0) fail_errno("open " + path);
    return Fd(fd);
}

void write_whole(int fd, const void* data, std::size_t len, const char* what) {
    const ssize_t n = ::write(fd, data, len);
    if (n != static_cast<ssize_t>(len)) fail_errno(std::string("write to ") + what);
}

bool mounted(const std::string& path) {
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream f(line);
        std::string id, parent, dev, root, mnt;
        f >> id >> parent >> dev >> root >> mnt;
        if (mnt == path) return true;
    }
    return false;
}

// A filesystem daemon in the foreground, mounted at mnt; unmounted and
// reaped when this goes.
class Daemon {
public:
    Daemon(std::vector<std::string> argv, std::string mnt, const std::string& log) : mnt_(std::move(mnt)) {
        std::vector<char*> av;
        for (auto& a : argv) av.push_back(a.data());
        av.push_back(nullptr);
        pid_ = ::fork();
        if (pid_ < 0) fail_errno("fork");
        if (pid_ == 0) {
            const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            const int null = ::open("/dev/null", O_RDONLY);
            if (out < 0 || null < 0) ::_exit(127);
            ::dup2(null, 0);
            ::dup2(out, 1);
            ::dup2(out, 2);
            ::execv(av[0], av.data());
            ::_exit(127);
        }
        const auto deadline = Clock::now() + std::chrono::seconds(15);
        while (!mounted(mnt_)) {
            int st = 0;
            if (::waitpid(pid_, &st, WNOHANG) == pid_) {
                pid_ = -1;
                fail(argv[0] + " exited before mounting " + mnt_ + "; see " + log);
            }
            if (Clock::now() > deadline) fail(argv[0] + " did not mount " + mnt_ + " within 15 s");
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;
    ~Daemon() {
        if (pid_ <= 0) return;
        if (::umount2(mnt_.c_str(), 0) != 0) ::umount2(mnt_.c_str(), MNT_DETACH);
        for (int i = 0; i < 1500; ++i) {
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    pid_t pid() const { return pid_; }
    const std::string& mnt() const { return mnt_; }

private:
    std::string mnt_;
    pid_t pid_ = -1;
};

long rss_kib(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    fail("no VmRSS for pid " + std::to_string(pid));
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    if (v.empty()) return 0;
    return v[std::min(v.size() - 1, static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size())))];
}

const p9auth::Target kTo{1000, 1000, {}};

// (1) One grant+use cycle as factotum and a user do it: the granter holds
// caphash open and writes a fresh hash; the user opens capuse, writes the
// capability, closes.
double cycles_per_second(const std::string& mnt, int caphash, int cycles) {
    const std::string capuse = mnt + "/capuse";
    const auto t0 = Clock::now();
    for (int i = 0; i < cycles; ++i) {
        const p9auth::NewGrant g = p9auth::make_grant(::getuid(), kTo);
        write_whole(caphash, g.hash.bytes().data(), g.hash.size(), "caphash");
        Fd use = open_or_fail(capuse, O_WRONLY);
        write_whole(use.get(), g.capability.data(), g.capability.size(), "capuse");
    }
    return cycles / std::chrono::duration<double>(Clock::now() - t0).count();
}

// (2) The latency of the use itself: the write to capuse, in microseconds.
void use_latencies(int caphash, int capuse, int uses, std::vector<double>* out) {
    for (int i = 0; i < uses; ++i) {
        const p9auth::NewGrant g = p9auth::make_grant(::getuid(), kTo);
        write_whole(caphash, g.hash.bytes().data(), g.hash.size(), "caphash");
        const auto t0 = Clock::now();
        write_whole(capuse, g.capability.data(), g.capability.size(), "capuse");
        out->push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
}

// Outstanding hashes nobody will use: random bytes, as good as real ones to the table.
void fill(int caphash, long n) {
    std::uint8_t h[32];
    for (long i = 0; i < n; ++i) {
        randombytes_buf(h, sizeof h);
        write_whole(caphash, h, sizeof h, "caphash (fill)");
    }
}

struct UseMount {
    int caphash, capuse;
};

struct Latencies {
    std::vector<double> a, b;  // microseconds
};

// Alternates short runs on a and b, so that load on the machine and the
// scheduler's moods hit both alike.
Latencies compare(const UseMount& a, const UseMount& b, int uses) {
    constexpr int kRun = 100;
    Latencies l;
    use_latencies(a.caphash, a.capuse, 500, &l.a);  // warm up, then forget
    use_latencies(b.caphash, b.capuse, 500, &l.b);
    l.a.clear();
    l.b.clear();
    for (int done = 0; done < uses; done += kRun) {
        use_latencies(a.caphash, a.capuse, std::min(kRun, uses - done), &l.a);
        use_latencies(b.caphash, b.capuse, std::min(kRun, uses - done), &l.b);
    }
    return l;
}

void print_latencies(const char* name_a, const char* name_b, const Latencies& l) {
    const double a50 = percentile(l.a, 50), a99 = percentile(l.a, 99);
    const double b50 = percentile(l.b, 50), b99 = percentile(l.b, 99);
    std::printf("      %-13s p50 %7.1f us   p99 %7.1f us\n", name_a, a50, a99);
    std::printf("      %-13s p50 %7.1f us   p99 %7.1f us\n", name_b, b50, b99);
    std::printf("      ratio second/first  p50 %.2f   p99 %.2f   (aim <= 1.2)\n", b50 / a50, b99 / a99);
}

void print_machine() {
    std::ifstream in("/proc/cpuinfo");
    std::string line, model = "unknown";
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) {
            model = line.substr(line.find(':') + 2);
            break;
        }
    utsname u{};
    ::uname(&u);
    std::printf("machine: %s, %u cores online, Linux %s (%s)\n", model.c_str(), std::thread::hardware_concurrency(),
                u.release, u.machine);
}

struct Options {
    std::string p9authfs, nullfs, dir;
    int rounds = 7, cycles = 3000, uses = 20000;
    long outstanding = 1000000;
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 == argc) fail("usage: " + a + " needs a value");
        const std::string v = argv[++i];
        if (a == "--p9authfs")
            o.p9authfs = v;
        else if (a == "--nullfs")
            o.nullfs = v;
        else if (a == "--dir")
            o.dir = v;
        else if (a == "--rounds")
            o.rounds = std::stoi(v);
        else if (a == "--cycles")
            o.cycles = std::stoi(v);
        else if (a == "--uses")
            o.uses = std::stoi(v);
        else if (a == "--outstanding")
            o.outstanding = std::stol(v);
        else
            fail("usage: unknown argument " + a);
    }
    if (o.p9authfs.empty() || o.nullfs.empty() || o.dir.empty())
        fail(
            "usage: fs_bench --p9authfs BIN --nullfs BIN --dir DIR [--rounds N] [--cycles N] [--uses N] "
            "[--outstanding N]");
    if (o.rounds < 1 || o.cycles < 1 || o.uses < o.rounds || o.outstanding < 1) fail("usage: counts must be positive");
    return o;
}

void run(const Options& o) {
    p9auth::core_init();
    print_machine();
    const std::string maxcaps = "maxcaps=" + std::to_string(o.outstanding + o.uses + 1000) + ",timeout=86400";
    for (const char* d : {"/p9", "/null", "/full"}) ::mkdir((o.dir + d).c_str(), 0755);
    Daemon p9({o.p9authfs, "-f", o.dir + "/p9"}, o.dir + "/p9", o.dir + "/p9authfs.log");
    Daemon null({o.nullfs, o.dir + "/null"}, o.dir + "/null", o.dir + "/nullfs.log");
    Daemon full({o.p9authfs, "-f", "-o", maxcaps, o.dir + "/full"}, o.dir + "/full", o.dir + "/p9authfs-full.log");

    // (1) grant+use cycles per second, interleaved.
    {
        Fd p9_hash = open_or_fail(p9.mnt() + "/caphash", O_WRONLY);
        Fd null_hash = open_or_fail(null.mnt() + "/caphash", O_WRONLY);
        cycles_per_second(p9.mnt(), p9_hash.get(), o.cycles / 10 + 1);  // warm up both
        cycles_per_second(null.mnt(), null_hash.get(), o.cycles / 10 + 1);
        std::vector<double> p9_rate, null_rate;
        for (int r = 0; r < o.rounds; ++r) {
            p9_rate.push_back(cycles_per_second(p9.mnt(), p9_hash.get(), o.cycles));
            null_rate.push_back(cycles_per_second(null.mnt(), null_hash.get(), o.cycles));
        }
        const double a = median(p9_rate), b = median(null_rate);
        std::printf("\n(1) grant+use cycles per second (%d rounds of %d, interleaved; medians)\n", o.rounds, o.cycles);
        std::printf("    p9authfs %10.0f /s  (%.1f us per cycle)\n", a, 1e6 / a);
        std::printf("    nullfs   %10.0f /s  (%.1f us per cycle)\n", b, 1e6 / b);
        std::printf("    ratio p9authfs/nullfs = %.2f   (aim >= 0.8)\n", a / b);
        std::fflush(stdout);
    }

    // (2) and (3): the second p9authfs, before and after the fill.
    Fd p9_hash = open_or_fail(p9.mnt() + "/caphash", O_WRONLY);
    Fd p9_use = open_or_fail(p9.mnt() + "/capuse", O_WRONLY);
    Fd full_hash = open_or_fail(full.mnt() + "/caphash", O_WRONLY);
    Fd full_use = open_or_fail(full.mnt() + "/capuse", O_WRONLY);
    const UseMount empty_mount{p9_hash.get(), p9_use.get()}, full_mount{full_hash.get(), full_use.get()};
    std::printf("\n(2) use latency: the write to capuse (%d uses each, alternating every 100)\n", o.uses);
    std::printf("    control, both tables empty (two daemons, same code):\n");
    const Latencies control = compare(empty_mount, full_mount, o.uses);
    print_latencies("first mount", "second mount", control);

    const long rss_before = rss_kib(full.pid());
    const auto f0 = Clock::now();
    fill(full_hash.get(), o.outstanding);
    const double fill_s = std::chrono::duration<double>(Clock::now() - f0).count();
    const long rss_after = rss_kib(full.pid());

    std::printf("    with %ld hashes outstanding in the second mount:\n", o.outstanding);
    const Latencies loaded = compare(empty_mount, full_mount, o.uses);
    print_latencies("empty table", "full table", loaded);
    std::fflush(stdout);

    std::printf("\n(3) daemon memory per outstanding hash\n");
    std::printf("    VmRSS %ld KiB before, %ld KiB after %ld grants (filled in %.1f s, %.0f grants/s)\n", rss_before,
                rss_after, o.outstanding, fill_s, o.outstanding / fill_s);
    std::printf("    %.0f bytes per outstanding hash   (aim < 200)\n",
                static_cast<double>(rss_after - rss_before) * 1024.0 / static_cast<double>(o.outstanding));
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        run(parse(argc, argv));
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fs_bench: %s\n", e.what());
        return 1;
    }
}
