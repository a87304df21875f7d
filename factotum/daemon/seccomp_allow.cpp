// factotum's seccomp allow-list: every system call it may make once it
// serves clients, in one place, a comment per group. Anything else traps,
// and the trap refuses the call: the SIGSYS handler makes it return
// -EPERM and notes its number for the thread that made it. The worker then
// refuses the request it was serving (an internal error) and logs the
// call's name; a trap outside any request is logged and the daemon goes
// on (the call failed like any refused call; nothing ran). A module that
// misbehaves costs one request, never the server.
// Installed after start-up (caphash open, socket bound, workers started),
// for every thread at once (TSYNC), in each half: the monitor's filter
// admits what PAM and NSS modules need; the front's, which never runs a
// module, only its loop, its channels, memory and the log. No new processes, no new threads, no
// writes to files other than the descriptors held and pam_faillock's
// tallies; see factotum(8).
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <linux/netlink.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "privilege.hpp"

namespace p9auth::factotum {
namespace {

// The first refused call of this thread since seccomp_take_trap last
// looked, and how many more followed. Static TLS in the executable: no
// allocation on first touch, so the handler may write it.
thread_local int t_first_trap = -1;
thread_local unsigned t_more_traps = 0;

#if defined(__x86_64__)
#define FACTOTUM_TRAP_RETURNS 1
void set_return(void* ctx, long value) { static_cast<ucontext_t*>(ctx)->uc_mcontext.gregs[REG_RAX] = value; }
#elif defined(__aarch64__)
#define FACTOTUM_TRAP_RETURNS 1
void set_return(void* ctx, long value) {
    static_cast<ucontext_t*>(ctx)->uc_mcontext.regs[0] = static_cast<unsigned long long>(value);
}
#endif

// Async-signal-safe: registers and thread-local integers only.
void on_sigsys(int, siginfo_t* si, void* ctx) {
#ifdef FACTOTUM_TRAP_RETURNS
    set_return(ctx, -EPERM);
    if (t_first_trap < 0)
        t_first_trap = si->si_syscall;
    else
        ++t_more_traps;
#else
    // No known way to set the return register here: the old behaviour.
    (void)ctx;
    static const char msg[] = "factotum: seccomp: forbidden system call; exiting\n";
    (void)si;
    (void)!::write(2, msg, sizeof msg - 1);
    ::_exit(70);
#endif
}

}  // namespace

Trap seccomp_take_trap() {
    Trap t{t_first_trap, t_more_traps};
    t_first_trap = -1;
    t_more_traps = 0;
    return t;
}

std::string syscall_name(int nr) {
    // A table lookup in libseccomp (no system call of its own).
    char* name = ::seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    std::string s = name ? std::string(name) : "syscall " + std::to_string(nr);
    std::free(name);
    return s + " (" + std::to_string(nr) + ")";
}

Error install_seccomp(Half half, bool writes_confined, bool network) {
    const bool monitor = half == Half::monitor;
    struct sigaction sa {};
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (::sigaction(SIGSYS, &sa, nullptr) != 0) return fail(errno, "sigaction(SIGSYS)");

    scmp_filter_ctx ctx = ::seccomp_init(SCMP_ACT_TRAP);
    if (!ctx) return fail(ENOMEM, "seccomp_init");
    struct Releaser {
        scmp_filter_ctx c;
        ~Releaser() { ::seccomp_release(c); }
    } releaser{ctx};
    if (int rc = ::seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1); rc != 0) return fail(-rc, "seccomp TSYNC");

    int rc = 0;
    auto allow = [&](int nr) {
        if (rc == 0) rc = ::seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
    };
    // Descriptors factotum already holds: client sockets, caphash (the
    // grant), files PAM and NSS opened.
    for (int nr :
         {SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(pread64), SCMP_SYS(write), SCMP_SYS(writev), SCMP_SYS(close),
          SCMP_SYS(lseek), SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(fcntl)})
        allow(nr);
    // The event loop and the workers' deadlines; clients and the log socket.
    for (int nr : {SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl), SCMP_SYS(poll), SCMP_SYS(ppoll),
                   SCMP_SYS(select), SCMP_SYS(pselect6), SCMP_SYS(recvfrom), SCMP_SYS(recvmsg), SCMP_SYS(sendto),
                   SCMP_SYS(sendmsg), SCMP_SYS(getsockopt), SCMP_SYS(shutdown), SCMP_SYS(connect),
                   SCMP_SYS(getsockname), SCMP_SYS(getpeername)})
        allow(nr);
    // Only the front accepts clients; only the monitor waits for the front
    // to end (its main thread).
    allow(monitor ? SCMP_SYS(wait4) : SCMP_SYS(accept4));
    // syslog(3) reconnects to /dev/log when the log daemon restarts; NSS
    // modules may talk to nscd or sssd: Unix sockets only.
    if (rc == 0) rc = ::seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
    // --network (the monitor only): pam_krb5 asks a KDC over UDP, or TCP
    // when the answer is too large or the site prefers it (strace of both).
    // IPv4 and IPv6, datagram and stream, the default protocol: no raw
    // sockets, no other family. The rest of such a conversation (connect,
    // sendto, recvfrom, poll) is already allowed for Unix sockets.
    if (monitor && network) {
        constexpr scmp_datum_t kTypeMask = 0xffffffffu & ~scmp_datum_t(SOCK_CLOEXEC | SOCK_NONBLOCK);
        for (scmp_datum_t family : {scmp_datum_t{AF_INET}, scmp_datum_t{AF_INET6}})
            for (scmp_datum_t type : {scmp_datum_t{SOCK_DGRAM}, scmp_datum_t{SOCK_STREAM}})
                if (rc == 0)
                    rc = ::seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 3, SCMP_A0(SCMP_CMP_EQ, family),
                                            SCMP_A1(SCMP_CMP_MASKED_EQ, kTypeMask, type), SCMP_A2(SCMP_CMP_EQ, 0));
        // libkrb5 makes its socket non-blocking with ioctl(FIONBIO), not
        // fcntl (strace of a pam_krb5 login).
        if (rc == 0) rc = ::seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, FIONBIO));
        // Over TCP it turns lingering off before connecting: SO_LINGER only.
        if (rc == 0)
            rc = ::seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(setsockopt), 2, SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET),
                                    SCMP_A2(SCMP_CMP_EQ, SO_LINGER));
        // getaddrinfo(AI_ADDRCONFIG), for the KDC's address, first asks the
        // kernel which address families the host's interfaces have, over
        // NETLINK_ROUTE. "No such protocol" makes glibc assume both
        // (check_pf.c), which costs nothing with numeric or resolvable KDC
        // addresses: no netlink socket, however read-only, for modules.
        if (rc == 0)
            rc = ::seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPROTONOSUPPORT), SCMP_SYS(socket), 2,
                                    SCMP_A0(SCMP_CMP_EQ, AF_NETLINK), SCMP_A2(SCMP_CMP_EQ, NETLINK_ROUTE));
    }
    // libpam sends its own audit records (USER_AUTH, USER_ACCT) over
    // netlink at every pam_authenticate and pam_acct_mgmt (found under
    // test). factotum holds no CAP_AUDIT_WRITE, so the kernel refused them
    // all; and with PAM_RHOST set, libaudit first resolves it
    // (getaddrinfo: NETLINK_ROUTE, bind, DNS). The answer "no audit in this
    // kernel" makes libpam skip the records, and the resolution with them.
    if (rc == 0 && monitor)
        rc = ::seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPROTONOSUPPORT), SCMP_SYS(socket), 2,
                                SCMP_A0(SCMP_CMP_EQ, AF_NETLINK), SCMP_A2(SCMP_CMP_EQ, NETLINK_AUDIT));
    // PAM reads /etc/pam.d and loads its modules at every pam_start; NSS and
    // pam_unix read /etc/passwd, /etc/group, /etc/shadow, /etc/login.defs;
    // pam_access globs /etc/security/access.d (opendir: O_DIRECTORY).
    // Opens are read-only, or, only when Landlock confines where
    // (confine_writes: beneath /run/faillock), O_RDWR with or without
    // O_CREAT (pam_faillock's tally: strace of preauth, authfail and
    // authsucc); never O_WRONLY, O_TRUNC or O_TMPFILE. glibc's O_TMPFILE includes O_DIRECTORY, so the mask takes only
    // its own bit (__O_TMPFILE), or every opendir() would trap.
    constexpr scmp_datum_t kTmpfileBit = O_TMPFILE & ~O_DIRECTORY;
    static_assert(kTmpfileBit != 0 && (kTmpfileBit & O_DIRECTORY) == 0);
    constexpr scmp_datum_t kOpenMask = O_ACCMODE | O_CREAT | O_TRUNC | kTmpfileBit;
    for (scmp_datum_t flags : {scmp_datum_t{O_RDONLY}, scmp_datum_t{O_RDWR}, scmp_datum_t{O_RDWR | O_CREAT}})
        if (rc == 0 && (flags == O_RDONLY || (monitor && writes_confined)))
            rc = ::seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
                                    SCMP_A2(SCMP_CMP_MASKED_EQ, kOpenMask, flags));
    // The rest of a tally's update: lock, rewrite, hand the new file to its user.
    if (monitor)
        for (int nr : {SCMP_SYS(flock), SCMP_SYS(ftruncate), SCMP_SYS(fchown), SCMP_SYS(fchmod)}) allow(nr);
    // The same for open(2), which glibc no longer calls but the ASan and
    // TSan runtimes do (reading /proc/self/maps when PAM loads a module).
    if (rc == 0)
        rc = ::seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(open), 1,
                                SCMP_A1(SCMP_CMP_MASKED_EQ, kOpenMask, O_RDONLY));
    // From here to the memory rules: the monitor's modules only.
    if (monitor) {
        for (int nr : {SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(readlink),
                       SCMP_SYS(getdents64), SCMP_SYS(uname)})
            allow(nr);
        // libnss-systemd (Debian 12's default "passwd: files systemd"): it
        // resolves paths itself (readlinkat, under chase()) and talks varlink
        // to each socket in /run/systemd/userdb over a Unix socket it waits on
        // with an epoll set and a timerfd of its own (strace of a getpwnam and a
        // getgrouplist; factotum/tests/nss_pam.sh).
        for (int nr : {SCMP_SYS(readlinkat), SCMP_SYS(epoll_create1), SCMP_SYS(timerfd_create),
                       SCMP_SYS(timerfd_settime), SCMP_SYS(timerfd_gettime)})
            allow(nr);
        // isatty(3) (libaudit asks whether a descriptor is a terminal; found under
        // test): TCGETS only.
        if (rc == 0) rc = ::seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, TCGETS));
        // libselinux, which pam_unix links, probes for selinuxfs with statfs
        // each time the module is loaded (found under test).
        for (int nr : {SCMP_SYS(statfs), SCMP_SYS(fstatfs)}) allow(nr);
        // pam_unix logs a failure with getlogin(), which reads utmp; glibc
        // bounds its utmp lock wait with alarm(2) (found with a real /run/utmp,
        // as every booted system has, in the p9logind test).
        allow(SCMP_SYS(alarm));
        // libcap-ng, under libpam's libaudit, reads our capabilities (found
        // under test): capget; and the bounding set from /proc/self/status,
        // and when it cannot open it (out of descriptors: found under test)
        // asks prctl instead. Only the questions: PR_CAPBSET_READ,
        // PR_CAP_AMBIENT_IS_SET.
        allow(SCMP_SYS(capget));
        if (rc == 0)
            rc = ::seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, SCMP_A0(SCMP_CMP_EQ, PR_CAPBSET_READ));
        if (rc == 0)
            rc = ::seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 2, SCMP_A0(SCMP_CMP_EQ, PR_CAP_AMBIENT),
                                    SCMP_A1(SCMP_CMP_EQ, PR_CAP_AMBIENT_IS_SET));
    }
    // Memory: the allocator, dlopen of PAM modules (mmap/mprotect with
    // PROT_EXEC), libsodium's guarded memory (mlock, madvise, mprotect).
    for (int nr : {SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(mprotect),
                   SCMP_SYS(madvise), SCMP_SYS(mlock), SCMP_SYS(munlock), SCMP_SYS(getrandom)})
        allow(nr);
    // Threads that already exist, time, PAM's failure delay, signals.
    for (int nr :
         {SCMP_SYS(futex), SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),
          SCMP_SYS(gettimeofday), SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity), SCMP_SYS(rseq),
          SCMP_SYS(set_robust_list), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigreturn),
          SCMP_SYS(sigaltstack), SCMP_SYS(restart_syscall), SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(getrlimit)})
        allow(nr);
    // getrlimit(3)/setrlimit(3) are prlimit64 on our own process (pid 0).
    // Any other pid traps: as uid 0, factotum could otherwise lower the hard
    // limits of every other root process, pid 1 included.
    if (rc == 0) rc = ::seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1, SCMP_A0(SCMP_CMP_EQ, 0));
    // Who we are (PAM modules ask; pam_unix checks it is uid 0).
    for (int nr : {SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid),
                   SCMP_SYS(getegid), SCMP_SYS(getresuid), SCMP_SYS(getresgid), SCMP_SYS(getgroups)})
        allow(nr);
    // No new processes or threads, and no exec: refused with EPERM rather
    // than trapped, so a module that tries (pam_unix's unix_chkpwd helper
    // when factotum is not uid 0, pam_exec) fails its own authentication
    // instead of taking the server down.
    for (int nr :
         {SCMP_SYS(clone), SCMP_SYS(clone3), SCMP_SYS(fork), SCMP_SYS(vfork), SCMP_SYS(execve), SCMP_SYS(execveat)})
        if (rc == 0) rc = ::seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
#ifdef FACTOTUM_SANITIZER
    // Sanitizer builds only: UBSan's vptr check and ASan probe whether
    // memory is readable by writing it into a pipe (found under test).
    for (int nr : {SCMP_SYS(pipe), SCMP_SYS(pipe2)}) allow(nr);
#else
    // The pipes such a helper would talk over go the way of fork.
    for (int nr : {SCMP_SYS(pipe), SCMP_SYS(pipe2)})
        if (rc == 0) rc = ::seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
#endif
    // abort() signals its own thread. No kill, tkill, rt_sigqueueinfo or
    // pidfd_send_signal: factotum signals no other process (they trap).
    if (rc == 0)
        rc = ::seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                                SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(::getpid())));
    if (rc != 0) return fail(-rc, std::string("seccomp_rule_add: ") + std::strerror(-rc));
    if (int e = ::seccomp_load(ctx); e != 0) return fail(-e, std::string("seccomp_load: ") + std::strerror(-e));
    return Error::ok();
}

}  // namespace p9auth::factotum
