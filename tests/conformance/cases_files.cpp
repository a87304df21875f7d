// The files themselves (spec section 3), everything else (section 8) and
// how the filesystem identifies itself (section 10).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "p9auth_spec.h"
#include "registry.hpp"
#include "support.hpp"

namespace conformance {
namespace {

std::string mode_str(mode_t m) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%06o", static_cast<unsigned>(m));
    return buf;
}

void check_file(const std::string& path, mode_t want_mode, uid_t uid, gid_t gid) {
    struct stat st {};
    check(::stat(path.c_str(), &st) == 0, "stat " + path + ": " + errno_name(errno));
    check(st.st_mode == want_mode && st.st_uid == uid && st.st_gid == gid,
          path + ": mode " + mode_str(st.st_mode) + " owner " + std::to_string(st.st_uid) + ":" +
              std::to_string(st.st_gid) + ", want " + mode_str(want_mode) + " " + std::to_string(uid) + ":" +
              std::to_string(gid));
}

std::vector<std::string> list_dir(const std::string& path) {
    std::vector<std::string> names;
    DIR* d = ::opendir(path.c_str());
    if (!d) fail("opendir " + path + ": " + errno_name(errno));
    while (const dirent* e = ::readdir(d)) names.emplace_back(e->d_name);
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}

CONFORMANCE_CASE(files_modes, "files/modes-owners-listing", kBoth) {
    Mount m;
    check_file(m.path(), S_IFDIR | 0555, 0, 0);
    check_file(m.caphash(), S_IFREG | 0200, 0, 0);
    check_file(m.capuse(), S_IFREG | 0222, 0, 0);
    check_file(m.status_file(), S_IFREG | 0444, 0, 0);
    const auto names = list_dir(m.path());
    const std::vector<std::string> want{".", "..", "caphash", "capuse", "status"};
    std::string got;
    for (const auto& n : names) got += n + " ";
    check(names == want, "directory lists: " + got);
}

CONFORMANCE_CASE(files_modes_grant_ids, "files/caphash-owned-by-grant-ids", kBoth) {
    Mount m("grant_uid=3001,grant_gid=3100");
    check_file(m.caphash(), S_IFREG | 0200, kGranter, kGrantGroup);
    check_file(m.capuse(), S_IFREG | 0222, 0, 0);
}

CONFORMANCE_CASE(files_open_direction, "files/wrong-open-direction-EACCES", kBoth) {
    // As root: the filesystem itself refuses, whatever CAP_DAC_OVERRIDE allows.
    Mount m;
    const Status before = m.status();
    check_errno(open_errno(m.caphash(), O_RDONLY), EACCES, "caphash O_RDONLY");
    check_errno(open_errno(m.caphash(), O_RDWR), EACCES, "caphash O_RDWR");
    check_errno(open_errno(m.capuse(), O_RDONLY), EACCES, "capuse O_RDONLY");
    check_errno(open_errno(m.capuse(), O_RDWR), EACCES, "capuse O_RDWR");
    check_errno(open_errno(m.status_file(), O_WRONLY), EACCES, "status O_WRONLY");
    check_errno(open_errno(m.status_file(), O_RDWR), EACCES, "status O_RDWR");
    check_errno(run_as(alice(), [&] { return open_errno(m.capuse(), O_RDONLY); }), EACCES,
                "capuse O_RDONLY by uid 2001");
    check_errno(run_as(alice(), [&] { return open_errno(m.status_file(), O_RDONLY); }), 0,
                "status O_RDONLY by uid 2001");
    check_errno(run_as(alice(), [&] { return open_errno(m.capuse(), O_WRONLY); }), 0, "capuse O_WRONLY by uid 2001");
    check(m.status() == before, "counters changed: " + describe(m.status()));
}

CONFORMANCE_CASE(files_other_ops, "files/section-8-operations", kBoth) {
    Mount m;
    const Grant g = make(kAlice, target(kBob, kBob));
    check_errno(m.grant(g.hash), 0, "grant");
    const Status before = m.status();
    const std::string& p = m.path();
    auto err = [](int r) { return r == 0 ? 0 : errno; };
    const struct timeval tv[2] = {{1, 0}, {1, 0}};
    char buf[256];

    check_errno(open_errno(p + "/new", O_WRONLY | O_CREAT), EPERM, "create");
    check_errno(open_errno(p + "/new", O_WRONLY | O_CREAT | O_EXCL), EPERM, "create O_EXCL");
    check_errno(err(::mknod((p + "/node").c_str(), S_IFREG | 0644, 0)), EPERM, "mknod");
    check_errno(err(::mknod((p + "/fifo").c_str(), S_IFIFO | 0644, 0)), EPERM, "mknod fifo");
    check_errno(err(::mkdir((p + "/dir").c_str(), 0755)), EPERM, "mkdir");
    check_errno(err(::unlink((p + "/capuse").c_str())), EPERM, "unlink capuse");
    check_errno(err(::unlink((p + "/caphash").c_str())), EPERM, "unlink caphash");
    check_errno(err(::rename((p + "/capuse").c_str(), (p + "/moved").c_str())), EPERM, "rename capuse");
    check_errno(err(::rename((p + "/status").c_str(), (p + "/capuse").c_str())), EPERM, "rename status over capuse");
    check_errno(err(::link((p + "/capuse").c_str(), (p + "/linked").c_str())), EPERM, "link");
    check_errno(err(::symlink("capuse", (p + "/sym").c_str())), EPERM, "symlink");
    check_errno(err(::chmod((p + "/capuse").c_str(), 0666)), EPERM, "chmod capuse");
    check_errno(err(::chmod((p + "/caphash").c_str(), 0222)), EPERM, "chmod caphash");
    check_errno(err(::chmod(p.c_str(), 0777)), EPERM, "chmod the root");
    check_errno(err(::chown((p + "/caphash").c_str(), kAlice, kAlice)), EPERM, "chown caphash");
    check_errno(err(::chown((p + "/status").c_str(), 0, kStaff)), EPERM, "chgrp status");
    check_errno(err(::utimes((p + "/status").c_str(), tv)), EPERM, "utimes");
    check_errno(err(::truncate((p + "/capuse").c_str(), 5)), EPERM, "truncate capuse to 5");
    check_errno(err(::truncate((p + "/status").c_str(), 0)), EPERM, "truncate status to 0");
    check_errno(err(::truncate((p + "/caphash").c_str(), 32)), EPERM, "truncate caphash to 32");
    // The kernel refuses these too: an accepted truncate is an event for
    // the directory's dnotify watchers (p9auth.ko(8), WATCHING).
    const int trunc0 = kernel() ? EPERM : 0;
    check_errno(err(::truncate((p + "/capuse").c_str(), 0)), trunc0, "truncate capuse to 0");
    check_errno(err(::truncate((p + "/caphash").c_str(), 0)), trunc0, "truncate caphash to 0");
    check_errno(open_errno(p + "/capuse", O_WRONLY | O_TRUNC), trunc0, "open capuse O_TRUNC");
    check_errno(open_errno(p + "/caphash", O_WRONLY | O_TRUNC), trunc0, "open caphash O_TRUNC");
    check_errno(err(static_cast<int>(::getxattr((p + "/status").c_str(), "user.test", buf, sizeof buf))), EOPNOTSUPP,
                "getxattr");
    check_errno(err(::setxattr((p + "/capuse").c_str(), "user.test", "x", 1, 0)), EOPNOTSUPP, "setxattr");
    check_errno(err(::setxattr((p + "/capuse").c_str(), "trusted.test", "x", 1, 0)), EOPNOTSUPP, "setxattr trusted");
    check_errno(err(static_cast<int>(::listxattr((p + "/caphash").c_str(), buf, sizeof buf))), EOPNOTSUPP, "listxattr");
    check_errno(err(::removexattr((p + "/capuse").c_str(), "user.test")), EOPNOTSUPP, "removexattr");
    struct stat st {};
    check_errno(err(::stat((p + "/nothing").c_str(), &st)), ENOENT, "lookup of another name");
    check_errno(err(::stat((p + "/CAPUSE").c_str(), &st)), ENOENT, "lookup of CAPUSE");
    check_errno(err(::rmdir((p + "/nothing").c_str())), ENOENT, "rmdir of another name");
    check_errno(err(::rmdir((p + "/capuse").c_str())), ENOTDIR, "rmdir of capuse");
    check_errno(err(::rmdir((p + "/status").c_str())), ENOTDIR, "rmdir of status");

    check(m.status() == before, "counters changed: " + describe(m.status()) + ", were " + describe(before));
    const auto names = list_dir(p);
    check(names.size() == 5, "the directory changed: " + std::to_string(names.size()) + " entries");
    check_file(m.capuse(), S_IFREG | 0222, 0, 0);
    check_file(m.caphash(), S_IFREG | 0200, 0, 0);
    check_errno(use_direct(alice(), g.capability, p).code, 0, "the grant survived");
}

CONFORMANCE_CASE(files_identity, "files/mountinfo-and-statfs-identity", kBoth) {
    Mount m;
    std::string type;
    check(mounted_at(m.path(), &type), "not in mountinfo");
    const std::string want_type = fuse() ? "fuse." P9AUTH_FUSE_SUBTYPE : P9AUTH_FS_TYPE;
    check(type == want_type, "fstype " + type + ", want " + want_type);
    struct statfs sf {};
    check(::statfs(m.path().c_str(), &sf) == 0, "statfs");
    const unsigned long want_magic = fuse() ? P9AUTH_FUSE_SUPER_MAGIC : P9AUTH_SUPER_MAGIC;
    check(static_cast<unsigned long>(sf.f_type) == want_magic, "f_type " + std::to_string(sf.f_type));
}

CONFORMANCE_CASE(files_status_format, "status/format-and-counters", kBoth) {
    Mount m("maxcaps=7,timeout=33");
    check(
        read_file(m.status_file()) == "outstanding 0\ngranted 0\nused 0\nexpired 0\nrefused 0\nmaxcaps 7\ntimeout 33\n",
        "fresh status: " + read_file(m.status_file()));
    const auto to = target(kBob, kBob);
    const Grant a = make(kAlice, to), b = make(kAlice, to);
    check_errno(m.grant(a.hash), 0, "grant a");
    check_errno(m.grant(b.hash), 0, "grant b");
    check_errno(m.grant(b.hash), EEXIST, "grant b again");
    check_errno(use_direct(alice(), a.capability, m.path()).code, 0, "use a");
    check_errno(use_direct(alice(), a.capability, m.path()).code, EPERM, "use a again");
    check_errno(use_direct(alice(), "bad", m.path()).code, EINVAL, "malformed use");
    const std::string want = "outstanding 1\ngranted 2\nused 1\nexpired 0\nrefused 3\nmaxcaps 7\ntimeout 33\n";
    check(read_file(m.status_file()) == want, "status: " + read_file(m.status_file()));
    check(read_file(m.status_file(), 1) == want, "status read a byte at a time: " + read_file(m.status_file(), 1));
    check(read_file(m.status_file(), 5) == want, "status read 5 bytes at a time");
    check_errno(run_as(carol(), [&] { return read_file(m.status_file()) == want ? 0 : 99; }), 0,
                "status read by uid 2003");
}

CONFORMANCE_CASE(files_status_defaults, "status/defaults", kBoth) {
    Mount m;
    const Status s = m.status();
    check(s.maxcaps == P9AUTH_DEFAULT_MAXCAPS && s.timeout == P9AUTH_DEFAULT_TIMEOUT, "defaults: " + describe(s));
}

CONFORMANCE_CASE(expiry, "expiry/unused-hash-expires", kBoth) {
    Mount m("timeout=1");
    const auto to = target(kBob, kBob);
    const Grant g = make(kAlice, to);
    check_errno(m.grant(g.hash), 0, "grant");
    Status s = m.status();
    check(s.timeout == 1 && s.granted == 1, "counters after the grant: " + describe(s));
    const bool expired = poll_until(
        [&] {
            s = m.status();
            return s.expired == 1;
        },
        10000);
    check(expired, "not expired 10 s after a 1 s timeout: " + describe(s));
    check(s.outstanding == 0 && s.used == 0, "counters after expiry: " + describe(s));
    check_not_became(use_native(alice(), g.capability, m.path()), kBob, "use after expiry");
    check_errno(m.grant(g.hash), 0, "the same hash can be granted again after expiry");
    check_became(use_native(alice(), g.capability, m.path()), expected_after(alice(), to), fuse(),
                 "use of the fresh grant");
}

CONFORMANCE_CASE(expiry_frees_room, "expiry/expired-hashes-free-the-table", kBoth) {
    Mount m("timeout=1,maxcaps=1");
    const auto to = target(kBob);
    check_errno(m.grant(make(kAlice, to).hash), 0, "grant 1");
    const Grant g2 = make(kAlice, to);
    check_errno(m.grant(g2.hash), ENOSPC, "grant 2 while full");
    // Room appears once grant 1 has expired, without reading status first.
    int e = ENOSPC;
    check(poll_until(
              [&] {
                  e = m.grant(g2.hash);
                  return e != ENOSPC;
              },
              10000),
          "the table never had room");
    check_errno(e, 0, "grant 2 after grant 1 expired");
    check_errno(use_direct(alice(), g2.capability, m.path()).code, 0, "use grant 2");
}

CONFORMANCE_CASE(mount_options_bad, "mount/bad-options-refused", kBoth) {
    std::string why;
    const std::string over_timeout = "timeout=" + std::to_string(P9AUTH_MAX_TIMEOUT + 1);
    const std::string over_maxcaps = "maxcaps=" + std::to_string(P9AUTH_MAX_MAXCAPS + 1);
    const std::string over_id = "grant_uid=" + std::to_string(P9AUTH_MAX_ID + 1ull);
    const std::pair<const char*, const char*> bad[] = {
        {"timeout=0", "timeout"},          {over_timeout.c_str(), "timeout"}, {"timeout=-1", "timeout"},
        {"timeout=abc", "timeout"},        {"timeout=", "timeout"},           {"maxcaps=0", "maxcaps"},
        {over_maxcaps.c_str(), "maxcaps"}, {over_id.c_str(), "grant_uid"},    {"grant_gid=x", "grant_gid"},
        {"legacy_sha1=1", "legacy_sha1"},  {"grant_once=yes", "grant_once"},  {"bogus", "bogus"},
        {"timeout=10,bogus=1", "bogus"},
    };
    for (const auto& [opts, name] : bad) {
        const std::string r = mount_must_fail(opts, name, config().mount);
        if (!r.empty()) why += "; " + r;
    }
    check(why.empty(), "bad options" + why);
}

CONFORMANCE_CASE(mount_options_good, "mount/options-accepted", kBoth) {
    Mount m("timeout=" + std::to_string(P9AUTH_MAX_TIMEOUT) + ",maxcaps=" + std::to_string(P9AUTH_MAX_MAXCAPS) +
            ",grant_uid=0,grant_gid=0,legacy_sha1");
    const Status s = m.status();
    check(s.timeout == P9AUTH_MAX_TIMEOUT && s.maxcaps == P9AUTH_MAX_MAXCAPS, "status: " + describe(s));
}

// A repeated option: the last one counts, as for the kernel's own
// filesystems (docs/decisions.md, 22).
CONFORMANCE_CASE(mount_options_repeated, "mount/repeated-option-last-wins", kBoth) {
    Mount m("timeout=10,maxcaps=5,timeout=20,maxcaps=7");
    const Status s = m.status();
    check(s.timeout == 20 && s.maxcaps == 7, "status: " + describe(s));
}

}  // namespace
}  // namespace conformance
