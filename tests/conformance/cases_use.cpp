// Use: a granted capability makes its FROM user exactly its TO, once
// (spec sections 1 and 4).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "p9auth_spec.h"
#include "registry.hpp"
#include "support.hpp"

namespace conformance {
namespace {

// Grants from -> to, uses it natively (and via p9use on the kernel too,
// when one is given), checks the exact credentials and the counters.
void grant_and_use(const Ids& from, const p9auth::Target& to, const std::string& what) {
    auto run = [&](bool via_p9use) {
        Mount m;
        const Grant g = make(from.uid, to);
        check_errno(m.grant(g.hash), 0, what + ": grant");
        const UseResult r = via_p9use ? use_via_p9use(from, g.capability) : use_direct(from, g.capability, m.path());
        check_became(r, expected_after(from, to), via_p9use, what + (via_p9use ? " (p9use)" : " (direct write)"));
        const Status s = m.status();
        check(s.outstanding == 0 && s.granted == 1 && s.used == 1 && s.refused == 0,
              what + ": counters after one use: " + describe(s));
    };
    run(fuse());
    if (kernel() && !config().p9use.empty()) run(true);
}

CONFORMANCE_CASE(use_full_form, "use/full-form-sets-exact-ids", kBoth) {
    grant_and_use(alice(), target(kBob, kBob, {kStaff, kDev, kAudio}), "2001@2002:2002:2100,2101,2102");
}

CONFORMANCE_CASE(use_full_form_order, "use/full-form-groups-any-order", kBoth) {
    grant_and_use(alice(), target(kBob, kDev, {kAudio, kStaff}), "2001@2002:2101:2102,2100");
}

CONFORMANCE_CASE(use_uid_gid, "use/uid-gid-form-clears-groups", kBoth) {
    grant_and_use(alice(), target(kBob, kBob), "2001@2002:2002");
}

CONFORMANCE_CASE(use_bare, "use/bare-form-changes-uids-only", kBoth) {
    grant_and_use(alice(), target(kBob), "2001@2002");
}

CONFORMANCE_CASE(use_max_groups, "use/1024-groups", kBoth) {
    std::vector<gid_t> groups;
    for (gid_t g = 0; g < P9AUTH_MAX_GROUPS; ++g) groups.push_back(100000 + g);
    grant_and_use(alice(), target(kCarol, kCarol, groups), "1024 supplementary groups");
}

// A capability split over two write(2)s is two malformed writes: each
// refused with EINVAL, neither uses the grant, which still works whole.
CONFORMANCE_CASE(use_split, "use/split-over-two-writes-refused", kBoth) {
    Mount m;
    const p9auth::Target to = target(kBob, kBob);
    const Grant g = make(kAlice, to);
    check_errno(m.grant(g.hash), 0, "grant");
    const std::string capuse = m.path() + "/capuse";
    const std::string& c = g.capability;
    const std::size_t cut = c.find('@', c.find('@') + 1);  // "2001@2002:2002" | "@KEY"
    const int r = run_as(alice(), [&] {
        const int fd = ::open(capuse.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0) return 100 + errno;
        const int first = ::write(fd, c.data(), cut) < 0 ? errno : 0;
        const int second = ::write(fd, c.data() + cut, c.size() - cut) < 0 ? errno : 0;
        ::close(fd);
        return first == EINVAL && second == EINVAL ? 0 : 1;
    });
    check(r == 0, "a capability written as two writes: not two EINVALs (child status " + std::to_string(r) + ")");
    Status s = m.status();
    check(s.outstanding == 1 && s.used == 0 && s.refused == 2, "counters after the split use: " + describe(s));
    check_became(use_native(alice(), c, m.path()), expected_after(alice(), to), fuse(), "the whole capability after");
    s = m.status();
    check(s.outstanding == 0 && s.used == 1, "counters after the whole use: " + describe(s));
}

// writev(2) of text to capuse as alice: `segments` non-empty segments, the
// last holding the rest, each at the start of a page of its own (or all
// packed on one page); 0 when the whole length was written (and, kernel,
// alice became `became`), the errno otherwise.
int writev_as_alice(const std::string& capuse, const std::string& text, std::size_t segments, bool one_page,
                    uid_t became) {
    return run_as(alice(), [&]() -> int {
        const long page = ::sysconf(_SC_PAGESIZE);
        if (segments == 0 || text.size() < segments || (one_page && text.size() > static_cast<std::size_t>(page)))
            return 210;
        const std::size_t pages = one_page ? 1 : segments;
        void* mem = ::mmap(nullptr, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED) return 211;
        auto* base = static_cast<char*>(mem);
        std::vector<iovec> iov(segments);
        for (std::size_t i = 0; i < segments; ++i) {
            const std::size_t len = i + 1 < segments ? 1 : text.size() - i;
            char* at = one_page ? base + i : base + i * page;
            std::memcpy(at, text.data() + i, len);
            iov[i] = {at, len};
        }
        const int fd = ::open(capuse.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0) return 212;
        const ssize_t n = ::writev(fd, iov.data(), static_cast<int>(segments));
        const int e = n < 0 ? errno : static_cast<std::size_t>(n) == text.size() ? 0 : 213;
        ::close(fd);
        if (e == 0 && kernel() && ::getuid() != became) return 214;
        return e;
    });
}

// Spec section 4: a write whose buffers span at most 256 pages (each
// segment counted on its own) is one message in both modes; one that
// spans more is refused with EINVAL and uses nothing. FUSE mode carries
// at most 256 pages in one message and splits a larger write, so its
// daemon sees only a prefix; the kernel module refuses the same write.
CONFORMANCE_CASE(use_writev_256, "use/writev-256-pages-one-message", kBoth) {
    Mount m;
    std::vector<gid_t> groups;
    for (gid_t g = 0; g < 60; ++g) groups.push_back(100000 + g);
    const Grant g = make(kAlice, target(kBob, kBob, groups));
    check(g.capability.size() > 300, "the capability is too short for 256 segments");
    check_errno(m.grant(g.hash), 0, "grant");
    check_errno(writev_as_alice(m.capuse(), g.capability, P9AUTH_MAX_WRITE_PAGES, false, kBob), 0,
                "writev of 256 segments on 256 pages");
    const Status s = m.status();
    check(s.outstanding == 0 && s.used == 1 && s.refused == 0, "counters after the use: " + describe(s));
}

CONFORMANCE_CASE(use_writev_257, "use/writev-over-256-pages-refused", kBoth) {
    Mount m;
    std::vector<gid_t> groups;
    for (gid_t g = 0; g < 60; ++g) groups.push_back(100000 + g);
    const auto to = target(kBob, kBob, groups);
    const Grant g = make(kAlice, to);
    check(g.capability.size() > 300, "the capability is too short for 300 segments");
    check_errno(m.grant(g.hash), 0, "grant");
    check_errno(writev_as_alice(m.capuse(), g.capability, P9AUTH_MAX_WRITE_PAGES + 1, false, kBob), EINVAL,
                "writev of 257 segments on 257 pages");
    check_errno(writev_as_alice(m.capuse(), g.capability, 300, true, kBob), EINVAL,
                "writev of 300 segments on one page");
    Status s = m.status();
    check(s.outstanding == 1 && s.used == 0 && s.refused == 2, "counters after the refused writes: " + describe(s));
    check_became(use_native(alice(), g.capability, m.path()), expected_after(alice(), to), fuse(),
                 "the same capability in one write after");
    s = m.status();
    check(s.outstanding == 0 && s.used == 1, "counters after the whole use: " + describe(s));
}

// What a login asks of p9use (p9su -, p9logind): enter the target's home
// as the target (a 0700 home only the target can enter) and start the
// shell as a login shell (argv[0] "-sh"). A home it cannot enter is a
// warning, and the program starts in /.
CONFORMANCE_CASE(use_login, "use/p9use-login-home-and-argv0", kBoth) {
    ensure_dir("/tmp");
    char base_tmpl[] = "/tmp/p9auth-home.XXXXXX";
    const char* base = ::mkdtemp(base_tmpl);
    check(base != nullptr, "mkdtemp");
    if (!base) return;
    ::chmod(base, 0755);
    const std::string home = std::string(base) + "/bob", locked = std::string(base) + "/locked";
    const bool made = ::mkdir(home.c_str(), 0700) == 0 && ::chown(home.c_str(), kBob, kBob) == 0 &&
                      ::mkdir(locked.c_str(), 0700) == 0;
    check(made, "fixture homes");
    Mount m;
    const p9auth::Target to = target(kBob, kBob);
    const Grant g1 = make(kAlice, to), g2 = make(kAlice, to);
    check_errno(m.grant(g1.hash), 0, "grant 1");
    check_errno(m.grant(g2.hash), 0, "grant 2");
    UseResult r = use_via_p9use(alice(), g1.capability, {"--chdir", home, "--argv0", "-sh"});
    check_became(r, expected_after(alice(), to), true, "p9use --chdir HOME --argv0 -sh");
    check(r.raw.find("\nargv0 -sh\n") != std::string::npos && r.raw.find("\ncwd " + home + "\n") != std::string::npos,
          "login shell in bob's 0700 home: " + r.raw);
    r = use_via_p9use(alice(), g2.capability, {"--chdir", locked});
    check_became(r, expected_after(alice(), to), true, "p9use --chdir into a home bob cannot enter");
    check(r.raw.find("warning: cannot change directory to " + locked) != std::string::npos &&
              r.raw.find("\ncwd /\n") != std::string::npos,
          "a home bob cannot enter: a warning and /: " + r.raw);
    ::rmdir(home.c_str());
    ::rmdir(locked.c_str());
    ::rmdir(base);
}

CONFORMANCE_CASE(use_replay, "use/replay-refused", kBoth) {
    Mount m;
    const Grant g = make(kAlice, target(kBob, kBob));
    check_errno(m.grant(g.hash), 0, "grant");
    check_became(use_native(alice(), g.capability, m.path()), expected_after(alice(), target(kBob, kBob)), fuse(),
                 "first use");
    check_not_became(use_native(alice(), g.capability, m.path()), kBob, "second use");
    check_errno(use_direct(alice(), g.capability, m.path()).code, EPERM, "third use, direct write");
    const Status s = m.status();
    check(s.outstanding == 0 && s.used == 1 && s.refused == 2, "counters: " + describe(s));
}

CONFORMANCE_CASE(use_wrong_user, "use/wrong-user-refused-and-not-used-up", kBoth) {
    Mount m;
    const auto to = target(kBob, kBob, {kStaff});
    const Grant g = make(kAlice, to);
    check_errno(m.grant(g.hash), 0, "grant");
    // p9use may refuse before it writes (FROM is not its uid): no count to expect.
    check_not_became(use_native(carol(), g.capability, m.path()), kBob, "use by carol");
    const std::uint64_t refused = m.status().refused;
    check_errno(use_direct(carol(), g.capability, m.path()).code, EPERM, "direct write by carol");
    check_errno(use_direct(user(0), g.capability, m.path()).code, EPERM, "direct write by root");
    Status s = m.status();
    check(s.outstanding == 1 && s.used == 0 && s.refused == refused + 2, "counters after wrong users: " + describe(s));
    check_became(use_native(alice(), g.capability, m.path()), expected_after(alice(), to), fuse(),
                 "alice after the wrong users");
}

CONFORMANCE_CASE(use_only_uid_counts, "use/only-the-writer-uid-counts", kBoth) {
    // Only FROM's uid decides: the writer's gid and groups do not matter,
    // and a writer whose uid is FROM's gid is still refused.
    Mount m;
    const auto to = target(kBob, kBob);
    const Grant g = make(kAlice, to);
    check_errno(m.grant(g.hash), 0, "grant");
    check_errno(use_direct(Ids{kCarol, kAlice, {kAlice}}, g.capability, m.path()).code, EPERM,
                "writer uid 2003 with gid and groups 2001");
    const Ids odd{kAlice, kCarol, {kDev}};
    check_became(use_native(odd, g.capability, m.path()), expected_after(odd, to), fuse(), "uid 2001 with another gid");
}

CONFORMANCE_CASE(use_forged, "use/forged-or-altered-refused", kBoth) {
    Mount m;
    const Grant g = make(kAlice, target(kBob, kBob, {kStaff}));
    check_errno(m.grant(g.hash), 0, "grant");
    const std::string key = g.capability.substr(g.capability.rfind('@') + 1);
    const std::string forged = "2001@2002:2002:2100@" + std::string(43, 'A');
    const std::string more_groups = "2001@2002:2002:2100,0@" + key;
    const std::string other_gid = "2001@2002:0:2100@" + key;
    const std::string bare = "2001@2002@" + key;
    const std::string uid_gid = "2001@2002:2002@" + key;
    const std::string to_root = "2001@0:0:2100@" + key;
    for (const auto* c : {&forged, &more_groups, &other_gid, &bare, &uid_gid, &to_root})
        check_errno(use_direct(alice(), *c, m.path()).code, EPERM, "use of an altered capability");
    check_not_became(use_native(alice(), more_groups, m.path()), kBob, "altered capability, native use");
    check_errno(use_direct(alice(), "2001@2002:2002:2100@" + std::string(43, 'B'), m.path()).code, EPERM,
                "never granted");
    const Status s = m.status();
    check(s.outstanding == 1 && s.used == 0 && s.refused == 8, "counters: " + describe(s));
    check_errno(use_direct(alice(), g.capability, m.path()).code, 0, "the genuine capability afterwards");
}

CONFORMANCE_CASE(use_newline, "use/one-trailing-newline-accepted", kBoth) {
    Mount m;
    const Grant g = make(kAlice, target(kBob, kBob));
    check_errno(m.grant(g.hash), 0, "grant");
    check_errno(use_direct(alice(), g.capability + "\n", m.path()).code, 0, "use with one trailing newline");
    check(m.status().used == 1, "used counter");
}

CONFORMANCE_CASE(use_limits, "use/boundary-values-accepted", kBoth) {
    Mount m;
    const std::string key22(P9AUTH_MIN_KEY, 'k'), key256(P9AUTH_MAX_KEY, '~');
    const std::string caps[] = {
        "2001@2002:2002@" + key22,
        "2001@2002:2002@" + key256,
        "2001@4294967294:4294967294:4294967294@" + std::string(43, '!'),
        "2001@0:0:0@" + std::string(43, 'z'),
    };
    for (const auto& c : caps) check_errno(m.grant(hash_text(c)), 0, "grant " + c.substr(0, 40));
    for (const auto& c : caps) check_errno(use_direct(alice(), c, m.path()).code, 0, "use " + c.substr(0, 40));
    const Status s = m.status();
    check(s.outstanding == 0 && s.used == 4 && s.refused == 0, "counters: " + describe(s));
}

CONFORMANCE_CASE(use_direct_kernel, "use/direct-write-changes-writer", kKernelOnly) {
    Mount m;
    const auto to = target(kBob, kDev, {kAudio});
    const Grant g = make(kAlice, to);
    check_errno(m.grant(g.hash), 0, "grant");
    check_became(use_direct(alice(), g.capability, m.path()), expected_after(alice(), to), false,
                 "direct write to capuse");
}

CONFORMANCE_CASE(use_direct_fuse, "use/direct-write-only-consumes", kFuseOnly) {
    Mount m;
    const auto to = target(kBob, kBob);
    const Grant g = make(kAlice, to);
    check_errno(m.grant(g.hash), 0, "grant");
    const UseResult r = use_direct(alice(), g.capability, m.path());
    check_errno(r.code, 0, "direct write to capuse");
    check(r.creds && r.creds->uid[0] == kAlice && r.creds->uid[1] == kAlice && r.creds->uid[3] == kAlice &&
              r.creds->gid[0] == kAlice,
          "the writer's credentials changed: " + r.raw);
    check(m.status().used == 1, "the direct write did not use the capability");
    check_not_became(use_via_p9use(alice(), g.capability), kBob, "p9use after the direct write");
}

CONFORMANCE_CASE(use_root_target, "use/root-target-gets-no-capabilities", kFuseOnly) {
    // decisions.md 10: p9use drops every capability, even for uid 0.
    Mount m;
    const auto to = target(0, 0);
    const Grant g = make(kAlice, to);
    check_errno(m.grant(g.hash), 0, "grant");
    check_became(use_via_p9use(alice(), g.capability), expected_after(alice(), to), true, "2001@0:0");
}

CONFORMANCE_CASE(use_race, "use/100-racers-exactly-one-wins", kBoth) {
    Mount m;
    const auto to = target(kBob, kBob, {kDev});
    const Grant g = make(kAlice, to);
    check_errno(m.grant(g.hash), 0, "grant");
    constexpr int kRacers = 100;
    int gate[2];
    if (::pipe2(gate, O_CLOEXEC) != 0) fail("pipe");
    std::vector<pid_t> pids;
    std::vector<int> outs;
    for (int i = 0; i < kRacers; ++i) {
        int out[2];
        if (::pipe2(out, O_CLOEXEC) != 0) fail("pipe");
        std::fflush(nullptr);
        const pid_t pid = ::fork();
        if (pid < 0) fail("fork");
        if (pid == 0) {
            // Every racer waits at the gate, then uses the same capability.
            ::close(gate[1]);
            char c;
            while (::read(gate[0], &c, 1) < 0 && errno == EINTR) {
            }
            UseResult r;
            try {
                r = use_native(alice(), g.capability, m.path());
            } catch (...) {
                ::_exit(251);
            }
            const std::string rep = std::to_string(r.code) + "\n" + r.raw;
            if (::write(out[1], rep.data(), rep.size()) < 0) ::_exit(252);
            ::_exit(0);
        }
        ::close(out[1]);
        pids.push_back(pid);
        outs.push_back(out[0]);
    }
    ::close(gate[0]);
    ::close(gate[1]);  // open the gate
    int winners = 0, losers = 0;
    std::string odd;
    for (int i = 0; i < kRacers; ++i) {
        std::string rep;
        char buf[4096];
        ssize_t n;
        while ((n = ::read(outs[i], buf, sizeof buf)) > 0) rep.append(buf, static_cast<std::size_t>(n));
        ::close(outs[i]);
        int st = 0;
        ::waitpid(pids[i], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || rep.empty()) {
            odd = "racer " + std::to_string(i) + " failed: " + rep;
            continue;
        }
        UseResult r;
        r.code = std::stoi(rep);
        r.raw = rep.substr(rep.find('\n') + 1);
        r.creds = parse_creds(r.raw);
        const bool became = r.creds && r.creds->uid[0] == kBob;
        if (r.code == 0 && became)
            ++winners;
        else if (r.code != 0 && !became)
            ++losers;
        else
            odd = "racer " + std::to_string(i) + " code " + std::to_string(r.code) + " creds " + r.raw;
    }
    check(odd.empty(), odd);
    check(winners == 1 && losers == kRacers - 1,
          std::to_string(winners) + " racers became the target, " + std::to_string(losers) + " refused");
    const Status s = m.status();
    check(s.outstanding == 0 && s.used == 1 && s.refused == kRacers - 1, "counters: " + describe(s));
}

CONFORMANCE_CASE(use_other_mount, "use/other-mount-refuses", kBoth) {
    Mount a;
    Mount b("", config().mount + "-second");
    const auto to = target(kBob, kBob);
    const Grant g = make(kAlice, to);
    check_errno(b.grant(g.hash), 0, "grant in the second mount");
    if (fuse()) check_not_became(use_via_p9use(alice(), g.capability), kBob, "p9use on the first mount");
    check_errno(use_direct(alice(), g.capability, a.path()).code, EPERM, "direct write to the first mount");
    check(a.status().refused >= 1 && a.status().used == 0, "first mount's counters: " + describe(a.status()));
    check(b.status().outstanding == 1, "the second mount still holds the grant: " + describe(b.status()));
    check_errno(use_direct(alice(), g.capability, b.path()).code, 0, "use in the second mount");
}

}  // namespace
}  // namespace conformance
