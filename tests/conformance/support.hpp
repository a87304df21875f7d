// What every conformance case uses: the run's configuration, failures,
// processes that run as a fixture user, mounts, grants, uses and status.
// Numeric ids only (no NSS), so the suite runs in a busybox initramfs.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "capability.hpp"
#include "grant.hpp"
#include "hmac.hpp"

namespace conformance {

enum class Impl { fuse, kernel };

struct Config {
    Impl impl = Impl::fuse;
    std::string mount;     // the configured mount point, where p9use looks
    std::string p9use;     // the helper; required for fuse, optional for kernel
    std::string p9authfs;  // the daemon; fuse only
    std::string self;      // this program, exec'd by p9use in --report-creds mode
};
const Config& config();
Config& mutable_config();
inline bool fuse() { return config().impl == Impl::fuse; }
inline bool kernel() { return config().impl == Impl::kernel; }

// A case fails by throwing; the runner prints the reason.
struct Failure {
    std::string why;
};
[[noreturn]] void fail(std::string why);
void check(bool ok, const std::string& what);
// got is an errno (0 = success); want likewise.
void check_errno(int got, int want, const std::string& what);
std::string errno_name(int e);

// Fixture identities (tests/fixtures/passwd and group).
inline constexpr uid_t kAlice = 2001, kBob = 2002, kCarol = 2003, kDave = 2004;
inline constexpr uid_t kGranter = 3001, kOther = 3002;
inline constexpr gid_t kStaff = 2100, kDev = 2101, kAudio = 2102, kGrantGroup = 3100;

struct Ids {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
};
inline Ids user(uid_t uid) { return Ids{uid, uid, {}}; }
Ids alice();  // 2001, gid 2001, groups staff
Ids bob();
Ids carol();

// Runs fn in a child that has dropped to ids (setgroups, setresgid,
// setresuid: no capabilities left) and returns fn's result (its exit code).
// Codes above 200 are the child's own failures.
int run_as(const Ids& ids, const std::function<int()>& fn);

// In this process: becomes uid/gid 2001 (alice, no groups) keeping exactly
// the capabilities in keep (bit numbers) permitted and effective; false on
// error. For a forked child that then plays a partly privileged mounter.
bool drop_keeping(std::initializer_list<int> keep);

// Mounts with opts where that must be refused, from this process (which
// may have dropped privilege), and returns what happened: kernel, the errno
// of mount(2); FUSE, p9authfs's exit code, its messages in *log. -1: it
// mounted (and was taken down again).
int mount_refusal(const std::string& opts, const std::string& path, std::string* log);

// Credentials as /proc/self/status shows them.
struct Creds {
    uid_t uid[4]{};  // real, effective, saved, fs
    gid_t gid[4]{};
    std::vector<gid_t> groups;  // sorted
    std::uint64_t cap_eff = 0, cap_prm = 0;
    int no_new_privs = -1;
    int securebits = -1;  // prctl(PR_GET_SECUREBITS)
};
Creds read_creds();
std::string format_creds(const Creds& c);
std::optional<Creds> parse_creds(std::string_view text);
std::string describe(const Creds& c);

// What a use did.
struct UseResult {
    int code = -1;               // p9use's exit code, or the errno of the direct write
    std::optional<Creds> creds;  // what the program (or the writer) ran as afterwards
    std::string raw;             // the child's output, for messages
};
// Runs p9use as `as`, capability on stdin, PROGRAM = this suite in --report-creds mode.
UseResult use_via_p9use(const Ids& as, std::string_view capability, const std::vector<std::string>& options = {});
// Writes the capability to MOUNT/capuse from a child running as `as`, then
// reports the child's own credentials.
UseResult use_direct(const Ids& as, std::string_view capability, const std::string& mount);
// The native way for the implementation: p9use for FUSE, a direct write for the kernel.
UseResult use_native(const Ids& as, std::string_view capability, const std::string& mount);

// The credentials a successful use must produce from `from`.
Creds expected_after(const Ids& from, const p9auth::Target& to);
// Fails unless got equals want exactly (and, after p9use, no capabilities, no
// no_new_privs, and for uid 0 in FUSE mode SECBIT_NOROOT locked).
void check_became(const UseResult& r, const Creds& want, bool via_p9use, const std::string& what);
void check_not_became(const UseResult& r, uid_t target, const std::string& what);

// A fresh grant made with the core.
struct Grant {
    std::string capability;
    p9auth::Hash hash;
};
Grant make(uid_t from, const p9auth::Target& to, p9auth::HashKind kind = p9auth::HashKind::sha256);
p9auth::Target target(uid_t uid, std::optional<gid_t> gid = std::nullopt, std::vector<gid_t> groups = {});
// The hash of a capability text the test wrote itself.
p9auth::Hash hash_text(std::string_view capability, p9auth::HashKind kind = p9auth::HashKind::sha256);

// File I/O returning an errno (0 = success). write_file checks a
// successful write returned its full length.
int write_file(const std::string& path, std::string_view data, int flags = 0);
int open_errno(const std::string& path, int flags);
std::string read_file(const std::string& path, std::size_t chunk = 4096);

// Counters from the status file; the format is checked strictly (spec 7).
struct Status {
    std::uint64_t outstanding = 0, granted = 0, used = 0, expired = 0, refused = 0, maxcaps = 0, timeout = 0;
    bool operator==(const Status&) const = default;
};
std::string describe(const Status& s);

// A mounted p9auth filesystem, unmounted (and for FUSE its daemon reaped)
// when it goes out of scope. Problems while unmounting are reported by the
// runner after the case.
class Mount {
public:
    explicit Mount(const std::string& opts = "", const std::string& path = "");
    Mount(const Mount&) = delete;
    Mount& operator=(const Mount&) = delete;
    ~Mount();

    const std::string& path() const { return path_; }
    std::string caphash() const { return path_ + "/caphash"; }
    std::string capuse() const { return path_ + "/capuse"; }
    std::string status_file() const { return path_ + "/status"; }

    int grant(const p9auth::Hash& h) const;  // as root, in this process; errno
    Status status() const;
    void unmount();  // idempotent; records a problem if the daemon does not go away

private:
    std::string path_;
    pid_t daemon_ = -1;
    int log_fd_ = -1;
    bool mounted_ = false;
};

// Tries to mount with opts and expects it to fail; returns a description of
// what happened ("" when it failed as it should: EINVAL / daemon exit 2
// with a message naming the option `name`).
std::string mount_must_fail(const std::string& opts, const std::string& name, const std::string& path);

// Problems found outside a case's control flow (e.g. a daemon that did not
// exit on unmount); the runner fails the case when any are left.
std::vector<std::string>& deferred_failures();

std::string ensure_dir(const std::string& path);
bool mounted_at(const std::string& path, std::string* fstype = nullptr);

// Polls pred until it is true or deadline_ms passed; returns pred's last value.
bool poll_until(const std::function<bool()>& pred, int deadline_ms);

}  // namespace conformance
