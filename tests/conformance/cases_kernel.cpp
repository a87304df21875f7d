// Kernel module only: refusals that depend on the writer's user namespace
// (spec section 4, "Kernel module only, also refused before the table is
// touched").
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <linux/io_uring.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "registry.hpp"
#include "support.hpp"

namespace conformance {
namespace {

bool write_proc(const char* path, std::string_view text) {
    const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    return ok;
}

// As alice, in a user namespace of her own that maps only her (ns 0 = 2001)
// and denies setgroups: the errno of writing capability to capuse.
int use_from_own_userns(const std::string& mount, const std::string& capability) {
    return run_as(alice(), [&] {
        // Changing uids made this process non-dumpable, which would leave
        // its /proc/self files owned by root.
        if (::prctl(PR_SET_DUMPABLE, 1) != 0 || ::unshare(CLONE_NEWUSER) != 0) return 230;
        if (!write_proc("/proc/self/setgroups", "deny") || !write_proc("/proc/self/uid_map", "0 2001 1\n") ||
            !write_proc("/proc/self/gid_map", "0 2001 1\n"))
            return 231;
        return write_file(mount + "/capuse", capability);
    });
}

CONFORMANCE_CASE(kernel_userns_refusals, "use/kernel-writer-userns-refusals", kKernelOnly) {
    Mount m;
    const auto unmapped_to = target(kBob);
    const auto full_to = target(kAlice, kAlice, {kStaff});
    const Grant unmapped = make(kAlice, unmapped_to);
    const Grant full = make(kAlice, full_to);
    check_errno(m.grant(unmapped.hash), 0, "grant 2001@2002");
    check_errno(m.grant(full.hash), 0, "grant 2001@2001:2001:2100");
    const int e1 = use_from_own_userns(m.path(), unmapped.capability);
    check(e1 != 230 && e1 != 231, "cannot set up a user namespace as uid 2001 (" + std::to_string(e1) + ")");
    check_errno(e1, EINVAL, "TO uid 2002 not mapped in the writer's user namespace");
    check_errno(use_from_own_userns(m.path(), full.capability), EPERM, "full form with setgroups denied");
    const Status s = m.status();
    check(s.outstanding == 2 && s.used == 0 && s.refused == 2, "counters: " + describe(s));
    check_became(use_direct(alice(), unmapped.capability, m.path()), expected_after(alice(), unmapped_to), false,
                 "2001@2002 from the initial namespace");
    check_became(use_direct(alice(), full.capability, m.path()), expected_after(alice(), full_to), false,
                 "2001@2001:2001:2100 from the initial namespace");
}

// A switch made by the module must leave the per-user accounting as
// setresuid(2) would: a later setresuid() with the same ids, a fork and the
// exits must not underflow the target's process count (the VM runner fails
// on the kernel's WARN in dec_rlimit_ucounts).
CONFORMANCE_CASE(kernel_accounting, "use/kernel-accounting-follows-the-uid", kKernelOnly) {
    Mount m;
    const auto to = target(kBob, kBob, {kStaff});
    const Grant g = make(kAlice, to);
    check_errno(m.grant(g.hash), 0, "grant 2001@2002:2002:2100");
    const int rc = run_as(alice(), [&] {
        if (write_file(m.path() + "/capuse", g.capability) != 0) return 240;
        if (::getuid() != kBob) return 241;
        if (::setresuid(kBob, kBob, kBob) != 0) return 242;  // same ids: the ucounts are looked at again
        for (int i = 0; i < 3; ++i) {
            const pid_t child = ::fork();
            if (child < 0) return 243;
            if (child == 0) ::_exit(0);
            int st = 0;
            if (::waitpid(child, &st, 0) != child || !WIFEXITED(st)) return 244;
        }
        return 0;
    });
    check(rc == 0, "switch, setresuid, fork and exit as the target: step " + std::to_string(rc) + " failed");
}

// Issue 12 item 4: RLIMIT_NPROC as setresuid(2) treats it.  A switch to a
// user already at the limit is not refused, but the next execve() is
// (EAGAIN); a refused use leaves the flag as it was, so execve() works.
// bob holds one process (the holder) and the limit is 0 in the writers.
CONFORMANCE_CASE(kernel_nproc_flag, "use/kernel-rlimit-nproc-fails-next-execve", kKernelOnly) {
    Mount m;
    int hold[2];
    check(::pipe2(hold, O_CLOEXEC) == 0, "pipe");
    const pid_t holder = ::fork();
    check(holder >= 0, "fork");
    if (holder == 0) {
        char c;
        if (::setresgid(kBob, kBob, kBob) != 0 || ::setresuid(kBob, kBob, kBob) != 0) ::_exit(1);
        ::close(hold[1]);
        ::_exit(::read(hold[0], &c, 1) == 0 ? 0 : 1);  // until the parent closes its end
    }
    ::close(hold[0]);
    const Grant g = make(kAlice, target(kBob, kBob, {}));
    const Grant never = make(kAlice, target(kBob, kBob, {}));
    check_errno(m.grant(g.hash), 0, "grant 2001@2002:2002");
    const int rc = run_as(alice(), [&] {
        // In a grandchild: the limit, the use, then exec; 0 = exec worked.
        auto use_then_exec = [&](const std::string& capability, int want_write) {
            const pid_t c = ::fork();
            if (c < 0) return 250;
            if (c == 0) {
                const rlimit zero{0, 0};
                if (::setrlimit(RLIMIT_NPROC, &zero) != 0) ::_exit(230);
                if (write_file(m.capuse(), capability) != want_write) ::_exit(231);
                const int null = ::open("/dev/null", O_WRONLY);
                if (null < 0 || ::dup2(null, 1) != 1) ::_exit(232);
                ::execl("/proc/self/exe", "p9auth-conformance", "--report-creds", static_cast<char*>(nullptr));
                ::_exit(errno == EAGAIN ? 233 : 234);
            }
            int st = 0;
            if (::waitpid(c, &st, 0) != c || !WIFEXITED(st)) return 251;
            return WEXITSTATUS(st);
        };
        const int refused = use_then_exec(never.capability, EPERM);
        if (refused != 0) return refused == 233 ? 240 : refused;
        const int used = use_then_exec(g.capability, 0);
        return used == 233 ? 0 : (used == 0 ? 241 : used);
    });
    ::close(hold[1]);
    int st = 0;
    ::waitpid(holder, &st, 0);
    check_errno(rc, 0,
                "RLIMIT_NPROC 0, bob holding a process (240: a refused use left the flag, 241: execve after the "
                "switch worked, 230-234: step failed)");
}

// Spec section 4: a write is one whole message, also a writev(2) of several
// segments (p9auth.ko implements write_iter; with .write alone the VFS
// would deliver each segment as a message of its own).
CONFORMANCE_CASE(kernel_writev_one_message, "write/kernel-writev-is-one-message", kKernelOnly) {
    Mount m;
    const auto to = target(kBob, kBob, {kStaff});
    const Grant g = make(kAlice, to);
    const auto b = g.hash.bytes();
    const int hfd = ::open(m.caphash().c_str(), O_WRONLY | O_CLOEXEC);
    check(hfd >= 0, "open caphash: " + errno_name(errno));
    iovec hv[2] = {{const_cast<std::uint8_t*>(b.data()), 16},
                   {const_cast<std::uint8_t*>(b.data()) + 16, b.size() - 16}};
    const ssize_t hn = ::writev(hfd, hv, 2);
    const int herr = hn < 0 ? errno : 0;
    ::close(hfd);
    check(hn == static_cast<ssize_t>(b.size()),
          "grant by writev of 16+16 bytes returned " + std::to_string(hn) + " (" + errno_name(herr) + ")");
    const std::size_t split = g.capability.rfind('@');
    const int rc = run_as(alice(), [&] {
        const int fd = ::open(m.capuse().c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0) return 250;
        iovec v[2] = {{const_cast<char*>(g.capability.data()), split},
                      {const_cast<char*>(g.capability.data()) + split, g.capability.size() - split}};
        const ssize_t n = ::writev(fd, v, 2);
        if (n < 0) return errno;
        if (n != static_cast<ssize_t>(g.capability.size())) return 251;
        return ::getuid() == kBob && ::getgid() == kBob ? 0 : 252;
    });
    check(rc == 0, "use by writev of FROM@TO and @KEY: " + (rc < 200 ? errno_name(rc) : "step " + std::to_string(rc)));
    const Status s = m.status();
    check(s.granted == 1 && s.used == 1 && s.refused == 0 && s.outstanding == 0, "counters: " + describe(s));
}

// ---- review fixes (issue 12) -----------------------------------------

// fsopen/fsconfig/fsmount: the errno of creating a p9auth superblock with
// one option, and the fs_context log's first message in *msg.
int fs_create(const std::string& key, const std::string& value, std::string* msg) {
    const int fs = static_cast<int>(::syscall(SYS_fsopen, "p9auth", 1 /* FSOPEN_CLOEXEC */));
    if (fs < 0) return 232;
    int err = 0;
    if (::syscall(SYS_fsconfig, fs, 1 /* FSCONFIG_SET_STRING */, key.c_str(), value.c_str(), 0) != 0 ||
        ::syscall(SYS_fsconfig, fs, 6 /* FSCONFIG_CMD_CREATE */, nullptr, nullptr, 0) != 0)
        err = errno;
    char buf[512];
    const ssize_t n = ::read(fs, buf, sizeof(buf) - 1);
    if (msg && n > 0) *msg = std::string(buf, static_cast<std::size_t>(n));
    ::close(fs);
    return err;
}

// Issue 12 item 1: grant_uid=/grant_gid= give the grant right away, so
// the mounter must hold CAP_SETUID and CAP_SETGID itself, not only
// CAP_SYS_ADMIN (which mounts).  Refused with EPERM and a message in the
// fs_context log; the same mounter may mount without them, and one that
// also holds CAP_SETUID and CAP_SETGID may name them.
CONFORMANCE_CASE(kernel_grant_option_needs_setid, "mount/kernel-grant-uid-needs-setuid-setgid", kKernelOnly) {
    const std::string path = ensure_dir(config().mount);
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    check(pid >= 0, "fork");
    if (pid == 0) {
        int code = 0;
        std::string msg;
        if (!drop_keeping({CAP_SYS_ADMIN}))
            code = 233;
        else if (::mount("p9auth", path.c_str(), "p9auth", 0, "grant_uid=2001") == 0)
            code = 234;  // must not mount
        else if (errno != EPERM)
            code = 235;
        else if (::mount("p9auth", path.c_str(), "p9auth", 0, "grant_gid=2001") == 0 || errno != EPERM)
            code = 236;
        else if (fs_create("grant_uid", "2001", &msg) != EPERM)
            code = 237;
        else if (msg.find("CAP_SETUID and CAP_SETGID") == std::string::npos)
            code = 238;
        else if (::mount("p9auth", path.c_str(), "p9auth", 0, "timeout=5") != 0)
            code = 239;  // CAP_SYS_ADMIN alone still mounts without the options
        else if (::mount("p9auth", path.c_str(), "p9auth", MS_REMOUNT, "timeout=5,grant_uid=2001") == 0 ||
                 errno != EPERM)
            code = 240;  // nor names them on remount
        ::umount2(path.c_str(), 0);
        ::_exit(code);
    }
    int st = 0;
    check(::waitpid(pid, &st, 0) == pid && WIFEXITED(st), "child did not exit");
    const int code = WEXITSTATUS(st);
    check(code == 0, "CAP_SYS_ADMIN-only mounter (uid 2001): step " + std::to_string(code) + " failed");
    check(!mounted_at(path), "the refused mounter left a mount");

    // The same with CAP_SETUID and CAP_SETGID too: allowed.
    const int rc = [&] {
        std::fflush(nullptr);
        const pid_t p = ::fork();
        if (p == 0) {
            if (!drop_keeping({CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID})) ::_exit(241);
            if (::mount("p9auth", path.c_str(), "p9auth", 0, "grant_uid=2001,grant_gid=2001") != 0) ::_exit(errno);
            ::_exit(::umount2(path.c_str(), 0) == 0 ? 0 : 242);
        }
        int s2 = 0;
        return ::waitpid(p, &s2, 0) == p && WIFEXITED(s2) ? WEXITSTATUS(s2) : 243;
    }();
    check(rc == 0, "mounter with CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID: " + errno_name(rc));
}

// Issue 12 item 3: as exec with LSM_UNSAFE_PTRACE, a traced writer whose
// tracer is not capable over the new credentials is refused (EPERM) and the
// hash stays; a tracer with CAP_SYS_PTRACE (root) does not stop the use.
// The tracee waits on a pipe until PTRACE_SEIZE has happened.
int traced_use(const std::string& mount, const std::string& capability) {
    int go[2];
    if (::pipe(go) != 0) return 244;
    std::fflush(nullptr);
    const pid_t child = ::fork();
    if (child < 0) return 245;
    if (child == 0) {
        char c;
        ::close(go[1]);
        if (::read(go[0], &c, 1) != 1) ::_exit(246);
        const int e = write_file(mount + "/capuse", capability);
        ::_exit(e != 0 ? e : (::getuid() == 0 ? 0 : 247));
    }
    ::close(go[0]);
    int rc = 0;
    if (::ptrace(PTRACE_SEIZE, child, nullptr, nullptr) != 0) rc = 248;
    if (::write(go[1], "x", 1) != 1 && rc == 0) rc = 249;
    ::close(go[1]);
    int st = 0;
    while (::waitpid(child, &st, 0) == child) {
        if (WIFEXITED(st)) return rc ? rc : WEXITSTATUS(st);
        if (WIFSIGNALED(st)) return 250;
        if (WIFSTOPPED(st)) ::ptrace(PTRACE_CONT, child, nullptr, reinterpret_cast<void*>(0L));
    }
    return 251;
}

CONFORMANCE_CASE(kernel_tracer_refused, "use/kernel-traced-writer-refused", kKernelOnly) {
    Mount m;
    const Grant g = make(kAlice, target(0, 0, {}));
    check_errno(m.grant(g.hash), 0, "grant 2001@0:0");
    // Tracer and tracee are uid 2001; the tracee is made dumpable again so
    // that its own uid may attach, as a normal user's processes are.
    const int e = run_as(alice(), [&] {
        if (::prctl(PR_SET_DUMPABLE, 1) != 0) return 252;
        return traced_use(m.path(), g.capability);
    });
    check(e != 248, "uid 2001 could not PTRACE_SEIZE its own child");
    check_errno(e, EPERM, "use 2001@0:0 traced by uid 2001");
    Status s = m.status();
    check(s.outstanding == 1 && s.used == 0 && s.refused == 1, "the hash must stay; counters: " + describe(s));
    // Root traces (CAP_SYS_PTRACE): the use goes through.
    const int ok = [&] {
        int go[2];
        if (::pipe(go) != 0) return 253;
        std::fflush(nullptr);
        const pid_t child = ::fork();
        if (child == 0) {
            char c;
            ::close(go[1]);
            if (::read(go[0], &c, 1) != 1) ::_exit(246);
            if (::setgroups(0, nullptr) != 0 || ::setresgid(kAlice, kAlice, kAlice) != 0 ||
                ::setresuid(kAlice, kAlice, kAlice) != 0)
                ::_exit(254);
            const int w = write_file(m.capuse(), g.capability);
            ::_exit(w != 0 ? w : (::getuid() == 0 ? 0 : 247));
        }
        ::close(go[0]);
        if (::ptrace(PTRACE_SEIZE, child, nullptr, nullptr) != 0) return 248;
        if (::write(go[1], "x", 1) != 1) return 249;
        ::close(go[1]);
        int st = 0;
        while (::waitpid(child, &st, 0) == child) {
            if (WIFEXITED(st)) return WEXITSTATUS(st);
            if (WIFSIGNALED(st)) return 250;
            if (WIFSTOPPED(st)) ::ptrace(PTRACE_CONT, child, nullptr, reinterpret_cast<void*>(0L));
        }
        return 251;
    }();
    check_errno(ok, 0, "use 2001@0:0 traced by root");
    s = m.status();
    check(s.outstanding == 0 && s.used == 1 && s.refused == 1, "counters: " + describe(s));
}

// Issue 12 item 6: a watch would show when grants and uses happen.  Those
// who may not grant may place none (inotify or fanotify, on any inode of
// the mount: EACCES); root (who may grant) may, and even it sees no event
// from caphash or capuse, while the status file it reads does show up.
CONFORMANCE_CASE(kernel_unwatchable, "files/kernel-caphash-capuse-unwatchable", kKernelOnly) {
    Mount m;
    const int e = run_as(alice(), [&] {
        const int in = ::inotify_init1(IN_CLOEXEC);
        if (in < 0) return 255;
        for (const std::string f : {"/caphash", "/capuse", "/status", ""}) {
            if (::inotify_add_watch(in, (m.path() + f).c_str(), IN_ALL_EVENTS) >= 0) return 240;
            if (errno != EACCES) return errno;
        }
        const int fan = ::fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_FID, O_RDONLY);
        if (fan >= 0) {
            if (::fanotify_mark(fan, FAN_MARK_ADD, FAN_MODIFY | FAN_OPEN | FAN_CLOSE, AT_FDCWD, m.capuse().c_str()) ==
                0)
                return 241;
            if (errno != EACCES) return errno;
        }
        return 0;
    });
    check_errno(e, 0, "uid 2001 watching the mount (240: inotify allowed, 241: fanotify allowed)");

    const int in = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    check(in >= 0, "inotify_init1");
    const int wd_dir = ::inotify_add_watch(in, m.path().c_str(), IN_ALL_EVENTS);
    const int wd_use = ::inotify_add_watch(in, m.capuse().c_str(), IN_ALL_EVENTS);
    const int werr = errno;
    check(wd_dir >= 0 && wd_use >= 0, "root may watch the mount: " + errno_name(werr));
    const Grant g = make(kAlice, target(kBob, kBob, {}));
    check_errno(m.grant(g.hash), 0, "grant 2001@2002:2002");
    check_became(use_direct(alice(), g.capability, m.path()), expected_after(alice(), target(kBob, kBob, {})), false,
                 "use 2001@2002:2002");
    (void)m.status();  // opens and reads status: events that must show
    alignas(inotify_event) char buf[8192];
    bool saw_status = false;
    std::string leaked;
    for (;;) {
        const ssize_t n = ::read(in, buf, sizeof(buf));
        if (n <= 0) break;
        for (ssize_t off = 0; off < n;) {
            const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
            const std::string name = ev->len ? std::string(ev->name) : "";
            if (ev->wd == wd_use || name == "caphash" || name == "capuse")
                leaked +=
                    (ev->wd == wd_use ? std::string("capuse") : name) + " mask " + std::to_string(ev->mask) + "; ";
            if (name == "status") saw_status = true;
            off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
        }
    }
    ::close(in);
    check(leaked.empty(), "events from caphash/capuse: " + leaked);
    check(saw_status, "no event for reading status: the watch did not work");
}

// Issue 12 item 6, the dnotify channel: F_NOTIFY needs only an open
// descriptor of the directory and asks the filesystem nothing, so anyone may
// place one.  The opens and writes of capuse make no event for it; an
// accepted O_TRUNC (the shell's >) would, as the VFS reports every accepted
// truncate, so the kernel refuses the truncate (EPERM) and nothing is sent.
// The status file read at the end must still signal: the watch works.
CONFORMANCE_CASE(kernel_dnotify_sees_no_use, "files/kernel-dnotify-sees-no-truncate", kKernelOnly) {
    Mount m;
    const int e = run_as(alice(), [&] {
        const int sig = SIGRTMIN + 1;
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, sig);
        if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return 230;
        const int dir = ::open(m.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0) return 231;
        if (::fcntl(dir, F_SETSIG, sig) != 0 ||
            ::fcntl(dir, F_NOTIFY, DN_ACCESS | DN_MODIFY | DN_ATTRIB | DN_CREATE | DN_MULTISHOT) != 0)
            return 232;
        const timespec now{0, 0};
        const int trunc = open_errno(m.capuse(), O_WRONLY | O_TRUNC);
        const int fd = ::open(m.capuse().c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0) return 233;
        const int ftrunc = ::ftruncate(fd, 0) == 0 ? 0 : errno;
        const bool wrote = ::write(fd, "2001@2002@x", 11) < 0;  // refused (EPERM): no such hash
        ::close(fd);
        if (::sigtimedwait(&set, nullptr, &now) == sig) return 240;
        if (trunc != EPERM || ftrunc != EPERM) return 241;
        if (!wrote) return 242;
        (void)read_file(m.path() + "/status");
        if (::sigtimedwait(&set, nullptr, &now) != sig) return 243;
        return 0;
    });
    check_errno(e, 0,
                "uid 2001's dnotify on the mount (240: an event from capuse, 241: a truncate accepted, 242: a bad "
                "capability accepted, 243: no event for reading status: the watch did not work)");
}

// Issue 12 item 2: kernel memory an unprivileged user can pin.

std::string read_sysctl(const std::string& name) {
    std::ifstream in("/proc/sys/fs/p9auth/" + name);
    std::string v;
    in >> v;
    return v;
}

bool write_sysctl(const std::string& name, const std::string& value) {
    return write_proc(("/proc/sys/fs/p9auth/" + name).c_str(), value + "\n");
}

// Restores fs.p9auth.max_user_hashes whatever the case does.
struct UserLimit {
    std::string old = read_sysctl("max_user_hashes");
    explicit UserLimit(const std::string& v) {
        check(!old.empty(), "no /proc/sys/fs/p9auth/max_user_hashes");
        check(write_sysctl("max_user_hashes", v), "cannot set max_user_hashes");
    }
    ~UserLimit() { write_sysctl("max_user_hashes", old); }
};

// Grants fresh random hashes through one descriptor until a write fails;
// *err is that errno.  Returns how many were granted.
long fill(const std::string& mount, long most, int* err) {
    const int fd = ::open((mount + "/caphash").c_str(), O_WRONLY | O_CLOEXEC);
    *err = fd < 0 ? errno : 0;
    if (fd < 0) return 0;
    long n = 0;
    for (; n < most; ++n) {
        unsigned char h[32];
        if (::getrandom(h, sizeof(h), 0) != sizeof(h)) {
            *err = 300;
            break;
        }
        if (::write(fd, h, sizeof(h)) != static_cast<ssize_t>(sizeof(h))) {
            *err = errno;
            break;
        }
    }
    ::close(fd);
    return n;
}

// As alice, root of a user namespace of her own with a mount namespace:
// mounts p9auth on a and b (options oa, ob) and fills a then b.  The exit
// code packs what happened: 0 when a took want_a (stopped by e_a) and b
// took want_b (stopped by e_b), else a step number.
int userns_fill(const std::string& a, const std::string& oa, long want_a, int e_a, const std::string& b,
                const std::string& ob, long want_b, int e_b) {
    return run_as(alice(), [&] {
        if (::prctl(PR_SET_DUMPABLE, 1) != 0 || ::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return 230;
        if (!write_proc("/proc/self/setgroups", "deny") || !write_proc("/proc/self/uid_map", "0 2001 1\n") ||
            !write_proc("/proc/self/gid_map", "0 2001 1\n"))
            return 231;
        if (::mount("p9auth", a.c_str(), "p9auth", 0, "maxcaps=65537") == 0 || errno != EINVAL) return 232;
        if (::mount("p9auth", a.c_str(), "p9auth", 0, oa.c_str()) != 0) return 233;
        if (::mount("p9auth", b.c_str(), "p9auth", 0, ob.c_str()) != 0) return 234;
        int ea = 0, eb = 0;
        const long na = fill(a, want_a + 10, &ea);
        const long nb = fill(b, want_b + 10, &eb);
        std::fprintf(stderr, "userns fill: %ld (%s) then %ld (%s)\n", na, errno_name(ea).c_str(), nb,
                     errno_name(eb).c_str());
        if (na != want_a || ea != e_a) return 235;
        if (nb != want_b || eb != e_b) return 236;
        return 0;  // the namespaces and their mounts go with this process
    });
}

CONFORMANCE_CASE(kernel_user_hash_limit, "grant/kernel-unprivileged-fill-bounded", kKernelOnly) {
    const std::string a = ensure_dir(config().mount + "-fill-a"), b = ensure_dir(config().mount + "-fill-b");
    const std::string base = read_sysctl("hashes");
    check(read_sysctl("max_user_hashes") == "65536", "default max_user_hashes: " + read_sysctl("max_user_hashes"));
    {
        // A small limit: 200 in a (its maxcaps), then 100 more in b.
        UserLimit lim("300");
        const int rc = userns_fill(a, "maxcaps=200", 200, ENOSPC, b, "", 100, EDQUOT);
        check(rc == 0, "uid 2001's fill with max_user_hashes=300: step " + std::to_string(rc));
    }
    // The default: a's table (65536, the most a user namespace may ask for)
    // takes the user's whole budget, b gets nothing; nobody else is hurt
    // (the runner fails on any OOM kill).
    const int rc = userns_fill(a, "maxcaps=65536", 65536, ENOSPC, b, "", 0, EDQUOT);
    check(rc == 0, "uid 2001's fill with the default limit: step " + std::to_string(rc));
    check(poll_until([&] { return read_sysctl("hashes") == base; }, 5000),
          "hashes left after the user's mounts went: " + read_sysctl("hashes") + ", before " + base);
    // The initial namespace's mounts are the administrator's: not charged.
    UserLimit lim("1");
    Mount m("maxcaps=5");
    int e = 0;
    check(fill(m.path(), 10, &e) == 5 && e == ENOSPC, "root's mount is bounded by maxcaps only: " + errno_name(e));
}

// Issue 12 item 2: expired hashes go when they are due, with nobody
// touching the mount (fs.p9auth.hashes is read, never the mount).
CONFORMANCE_CASE(kernel_reclaim_without_reader, "expiry/kernel-reclaimed-without-a-reader", kKernelOnly) {
    Mount m("timeout=1");
    const long base = std::stol(read_sysctl("hashes"));
    int e = 0;
    check(fill(m.path(), 50, &e) == 50, "50 grants: " + errno_name(e));
    check(std::stol(read_sysctl("hashes")) == base + 50, "fs.p9auth.hashes did not count 50: " + read_sysctl("hashes"));
    check(poll_until([&] { return std::stol(read_sysctl("hashes")) == base; }, 6000),
          "expired hashes still held 6 s after a 1 s timeout: " + read_sysctl("hashes"));
    const Status s = m.status();
    check(s.outstanding == 0 && s.expired == 50 && s.granted == 50, "counters: " + describe(s));
}

// Issue 12 item 8, said in p9auth.ko(8): Linux AIO runs the write in the
// submitting thread, so io_submit switches like write(2); io_uring runs it
// in a worker (capuse has no FMODE_NOWAIT), which is refused (EPERM in the
// completion) and leaves the hash.

// The result of one IOCB_CMD_PWRITE of text to fd through Linux AIO.
long aio_write_once(int fd, const std::string& text) {
    aio_context_t ctx = 0;
    if (::syscall(SYS_io_setup, 1, &ctx) != 0) return -1000 - errno;
    iocb cb{};
    cb.aio_fildes = static_cast<std::uint32_t>(fd);
    cb.aio_lio_opcode = IOCB_CMD_PWRITE;
    cb.aio_buf = reinterpret_cast<std::uintptr_t>(text.data());
    cb.aio_nbytes = text.size();
    iocb* list[1] = {&cb};
    long res = -2000;
    if (::syscall(SYS_io_submit, ctx, 1, list) == 1) {
        io_event ev{};
        if (::syscall(SYS_io_getevents, ctx, 1, 1, &ev, nullptr) == 1) res = static_cast<long>(ev.res);
    } else {
        res = -3000 - errno;
    }
    ::syscall(SYS_io_destroy, ctx);
    return res;
}

// The result of one IORING_OP_WRITE of text to fd through io_uring.
long uring_write_once(int fd, const std::string& text) {
    io_uring_params p{};
    const int ring = static_cast<int>(::syscall(SYS_io_uring_setup, 4, &p));
    if (ring < 0) return -1000 - errno;
    const std::size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    const std::size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
    auto* sq =
        static_cast<char*>(::mmap(nullptr, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_SQ_RING));
    auto* cq =
        static_cast<char*>(::mmap(nullptr, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_CQ_RING));
    auto* sqes = static_cast<io_uring_sqe*>(::mmap(nullptr, p.sq_entries * sizeof(io_uring_sqe), PROT_READ | PROT_WRITE,
                                                   MAP_SHARED, ring, IORING_OFF_SQES));
    long res = -2000;
    if (sq != MAP_FAILED && cq != MAP_FAILED && sqes != MAP_FAILED) {
        io_uring_sqe& e = sqes[0];
        std::memset(&e, 0, sizeof(e));
        e.opcode = IORING_OP_WRITE;
        e.fd = fd;
        e.addr = reinterpret_cast<std::uintptr_t>(text.data());
        e.len = static_cast<std::uint32_t>(text.size());
        e.off = 0;
        auto* tail = reinterpret_cast<unsigned*>(sq + p.sq_off.tail);
        auto* mask = reinterpret_cast<unsigned*>(sq + p.sq_off.ring_mask);
        auto* array = reinterpret_cast<unsigned*>(sq + p.sq_off.array);
        array[*tail & *mask] = 0;
        __atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
        if (::syscall(SYS_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, nullptr, 0) == 1) {
            auto* head = reinterpret_cast<unsigned*>(cq + p.cq_off.head);
            auto* cqes = reinterpret_cast<io_uring_cqe*>(cq + p.cq_off.cqes);
            const unsigned cmask = *reinterpret_cast<unsigned*>(cq + p.cq_off.ring_mask);
            res = cqes[*head & cmask].res;
            __atomic_store_n(head, *head + 1, __ATOMIC_RELEASE);
        } else {
            res = -3000 - errno;
        }
    }
    ::close(ring);
    return res;
}

CONFORMANCE_CASE(kernel_aio_and_io_uring, "use/kernel-aio-switches-io-uring-refused", kKernelOnly) {
    Mount m;
    const auto to = target(kBob, kBob, {});
    const Grant g = make(kAlice, to);
    check_errno(m.grant(g.hash), 0, "grant 2001@2002:2002");
    const int u = run_as(alice(), [&] {
        const int fd = ::open(m.capuse().c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0) return 250;
        const long r = uring_write_once(fd, g.capability);
        if (r <= -1000) return 251;  // io_uring not available: a failure here, Debian's 6.1 has it
        if (r != -EPERM) return 252;
        return ::getuid() == kAlice ? 0 : 253;
    });
    check(u == 0,
          "io_uring write of 2001@2002:2002 must complete with EPERM and change nothing: step " + std::to_string(u));
    Status s = m.status();
    check(s.outstanding == 1 && s.used == 0 && s.refused == 1, "after io_uring, counters: " + describe(s));
    const int a = run_as(alice(), [&] {
        const int fd = ::open(m.capuse().c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0) return 250;
        const long r = aio_write_once(fd, g.capability);
        if (r != static_cast<long>(g.capability.size())) return 254;
        return ::getuid() == kBob && ::getgid() == kBob ? 0 : 255;
    });
    check(a == 0, "Linux AIO write of 2001@2002:2002 must switch the submitter: step " + std::to_string(a));
    s = m.status();
    check(s.outstanding == 0 && s.used == 1, "after AIO, counters: " + describe(s));
}

// Issue 12 item 7: a remount that names some options keeps the others, and
// still cannot change any.
CONFORMANCE_CASE(kernel_remount_keeps_options, "mount/kernel-remount-keeps-unnamed-options", kKernelOnly) {
    Mount m("timeout=7,maxcaps=5,grant_once,legacy_sha1");
    const char* path = m.path().c_str();
    check(::mount("p9auth", path, "p9auth", MS_REMOUNT, "timeout=7") == 0,
          "remount naming timeout=7 only: " + errno_name(errno));
    check(::mount("p9auth", path, "p9auth", MS_REMOUNT, "") == 0, "remount naming nothing: " + errno_name(errno));
    Status s = m.status();
    check(s.timeout == 7 && s.maxcaps == 5, "after the remounts: " + describe(s));
    std::string fstype;
    std::ifstream info("/proc/self/mountinfo");
    std::string line, opts;
    while (std::getline(info, line))
        if (line.find(" " + m.path() + " ") != std::string::npos) opts = line;
    check(opts.find("grant_once") != std::string::npos && opts.find("legacy_sha1") != std::string::npos &&
              opts.find("maxcaps=5") != std::string::npos,
          "mountinfo lost options: " + opts);
    check(::mount("p9auth", path, "p9auth", MS_REMOUNT, "maxcaps=6") != 0 && errno == EINVAL,
          "remount changing maxcaps must fail with EINVAL");
    s = m.status();
    check(s.maxcaps == 5, "maxcaps changed: " + describe(s));
}

}  // namespace
}  // namespace conformance
