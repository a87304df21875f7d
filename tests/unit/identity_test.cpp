// The identity module against the real NSS (glibc, nss_files) reading
// fixture files, in a private mount namespace: /etc/passwd, /etc/group and
// /etc/nsswitch.conf are bind-mounted over in this process's namespace only.
// Needs root (for the namespace); skipped otherwise.
#include <fcntl.h>
#include <sched.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "capability.hpp"
#include "identity.hpp"

using namespace p9auth;
using namespace p9auth::identity;

namespace {

std::string g_dir;     // the fixtures' directory, once made
bool g_ready = false;  // the fixtures are mounted over /etc in this process's namespace

constexpr int kManyGroups = 1500;  // more than a capability carries (1024)
constexpr int kCrowd = 30000;      // members of one group: ~270 KB, past the first buffer
constexpr std::size_t kBigGecos = 200000;

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    if (!out) std::abort();
}

bool bind_over(const std::string& from, const char* to) {
    return ::mount(from.c_str(), to, nullptr, MS_BIND, nullptr) == 0;
}

// The fixture world. zed's primary gid (2300) sorts after his supplementary
// staff (2100), so "sorted" and "primary first" are different texts for him.
bool make_world() {
    if (::geteuid() != 0 || ::unshare(CLONE_NEWNS) != 0) return false;
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
    char tmpl[] = "/tmp/p9auth-identity.XXXXXX";
    if (!::mkdtemp(tmpl)) return false;
    g_dir = tmpl;
    std::string passwd =
        "root:x:0:0:root:/root:/bin/sh\n"
        "alice:x:2001:2001:Alice:/nonexistent:/bin/sh\n"
        "bob:x:2002:2002:Bob:/home/bob:/bin/bash\n"
        "nohome:x:2003:2003:No home, no shell::\n"
        "zed:x:2300:2300:Zed:/nonexistent:/bin/sh\n"
        "many:x:2500:2500:In very many groups:/nonexistent:/bin/sh\n";
    passwd += "big:x:2400:2400:" + std::string(kBigGecos, 'g') + ":/nonexistent:/bin/sh\n";
    write_file(g_dir + "/passwd", passwd);
    // An entry past the bound, in a passwd of its own: nss_files scans the
    // whole file, so every later lookup would (rightly) fail on it.
    write_file(g_dir + "/passwd-huge",
               "huge:x:2401:2401:" + std::string(kMaxEntryBytes + 1, 'h') + ":/nonexistent:/bin/sh\n");
    std::string group =
        "root:x:0:\nalice:x:2001:\nbob:x:2002:\nzed:x:2300:\nmany:x:2500:\nbig:x:2400:\n"
        "staff:x:2100:alice,bob,zed\n"
        "dev:x:2101:bob\n";
    group += "crowd:x:2200:";
    for (int i = 0; i < kCrowd; ++i) group += (i ? "," : "") + std::string("member") + std::to_string(i);
    group += ",alice\n";
    for (int i = 0; i < kManyGroups; ++i)
        group += "g" + std::to_string(i) + ":x:" + std::to_string(10000 + i) + ":many\n";
    write_file(g_dir + "/group", group);
    write_file(g_dir + "/nsswitch.conf", "passwd: files\ngroup: files\n");
    write_file(g_dir + "/unreadable", "");
    ::chmod((g_dir + "/unreadable").c_str(), 0);
    return bind_over(g_dir + "/passwd", "/etc/passwd") && bind_over(g_dir + "/group", "/etc/group") &&
           bind_over(g_dir + "/nsswitch.conf", "/etc/nsswitch.conf");
}

class Identity : public ::testing::Test {
protected:
    void SetUp() override {
        if (!g_ready) GTEST_SKIP() << "needs root for a private mount namespace with fixture users";
    }
};

// /etc/passwd replaced by another file for one test.
struct PasswdOverride {
    bool ok;
    explicit PasswdOverride(const std::string& file) : ok(bind_over(file, "/etc/passwd")) {}
    ~PasswdOverride() {
        if (ok) ::umount2("/etc/passwd", 0);
    }
};

}  // namespace

TEST_F(Identity, UsersByNameAndUid) {
    auto alice = user_by_name("alice");
    ASSERT_TRUE(alice) << alice.error().message;
    ASSERT_TRUE(*alice);
    EXPECT_EQ((*alice)->name, "alice");
    EXPECT_EQ((*alice)->uid, 2001u);
    EXPECT_EQ((*alice)->gid, 2001u);
    auto bob = user_by_uid(2002);
    ASSERT_TRUE(bob && *bob);
    EXPECT_EQ((*bob)->name, "bob");
    EXPECT_EQ((*bob)->home, "/home/bob");
    EXPECT_EQ((*bob)->shell, "/bin/bash");
    // An empty home is "/" (as login(1) would enter), an empty shell stays
    // empty: the caller knows its own default.
    auto bare = user_by_name("nohome");
    ASSERT_TRUE(bare && *bare);
    EXPECT_EQ((*bare)->home, "/");
    EXPECT_EQ((*bare)->shell, "");
}

TEST_F(Identity, AbsentIsNotAFailure) {
    auto ghost = user_by_name("ghost");
    ASSERT_TRUE(ghost) << ghost.error().message;
    EXPECT_FALSE(*ghost);
    auto nobody = user_by_uid(4242);
    ASSERT_TRUE(nobody);
    EXPECT_FALSE(*nobody);
    auto nogroup = group_by_name("ghosts");
    ASSERT_TRUE(nogroup);
    EXPECT_FALSE(*nogroup);
}

TEST_F(Identity, HugeGecosGrowsTheBuffer) {
    auto big = user_by_name("big");
    ASSERT_TRUE(big) << big.error().message;
    ASSERT_TRUE(*big);
    EXPECT_EQ((*big)->uid, 2400u);
    auto by_uid = user_by_uid(2400);
    ASSERT_TRUE(by_uid && *by_uid);
    EXPECT_EQ((*by_uid)->name, "big");
}

TEST_F(Identity, AnEntryPastTheBoundFailsRatherThanReadingAbsent) {
    PasswdOverride o(g_dir + "/passwd-huge");
    ASSERT_TRUE(o.ok);
    for (const auto& r : {user_by_name("huge"), user_by_name("ghost"), user_by_uid(2401)}) {
        ASSERT_FALSE(r) << "a lookup past the bound must fail, not answer";
        EXPECT_EQ(r.error().errnum, E2BIG);
        EXPECT_NE(r.error().message.find("larger than 4 MiB"), std::string::npos) << r.error().message;
    }
}

TEST_F(Identity, AnUnreadableDatabaseFailsRatherThanReadingAbsent) {
    // Root reads any file; as fs uid nobody, nss_files gets EACCES.
    PasswdOverride o(g_dir + "/unreadable");
    ASSERT_TRUE(o.ok);
    ::setfsuid(65534);
    auto r = user_by_name("alice");
    auto g = user_by_name("ghost");
    ::setfsuid(0);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().errnum, EACCES);
    EXPECT_EQ(r.error().message, "getpwnam_r: Permission denied");  // never the name: it may be a password
    ASSERT_FALSE(g) << "an unreadable database must not say 'no such user'";
}

TEST_F(Identity, GroupWithVeryManyMembers) {
    auto crowd = group_by_name("crowd");
    ASSERT_TRUE(crowd) << crowd.error().message;
    ASSERT_TRUE(*crowd);
    EXPECT_EQ((*crowd)->gid, 2200u);
    EXPECT_EQ((*crowd)->members.size(), static_cast<std::size_t>(kCrowd + 1));
    EXPECT_EQ((*crowd)->members.back(), "alice");
}

TEST_F(Identity, LoginGroupsSortedWithThePrimary) {
    auto zed = user_by_name("zed");
    ASSERT_TRUE(zed && *zed);
    auto groups = login_groups(**zed);
    ASSERT_TRUE(groups) << groups.error().message;
    EXPECT_EQ(*groups, (std::vector<gid_t>{2100, 2300}));
    auto alice = user_by_name("alice");
    ASSERT_TRUE(alice && *alice);
    EXPECT_EQ(*login_groups(**alice), (std::vector<gid_t>{2001, 2100, 2200}));
}

TEST_F(Identity, LoginTargetIsTheOneText) {
    auto zed = user_by_name("zed");
    ASSERT_TRUE(zed && *zed);
    auto to = login_target(**zed);
    ASSERT_TRUE(to) << to.error().message;
    EXPECT_EQ(format_target(*to), "2300:2300:2100,2300");
    // The same text whatever order the groups come in.
    auto again = login_target(**zed, {2300, 2100, 2300});
    ASSERT_TRUE(again);
    EXPECT_EQ(format_target(*again), "2300:2300:2100,2300");
}

TEST_F(Identity, VeryManyGroups) {
    auto many = user_by_name("many");
    ASSERT_TRUE(many && *many);
    auto groups = login_groups(**many);
    ASSERT_TRUE(groups) << groups.error().message;
    ASSERT_EQ(groups->size(), static_cast<std::size_t>(kManyGroups + 1));  // and the primary
    EXPECT_TRUE(std::is_sorted(groups->begin(), groups->end()));
    EXPECT_EQ(groups->front(), 2500u);
    EXPECT_EQ(groups->back(), static_cast<gid_t>(10000 + kManyGroups - 1));
    auto to = login_target(**many);
    ASSERT_FALSE(to);
    EXPECT_EQ(to.error().errnum, E2BIG);
    EXPECT_NE(to.error().message.find("more than a capability carries (1024)"), std::string::npos);
}

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    const bool listing = ::testing::GTEST_FLAG(list_tests);
    if (!listing) g_ready = make_world();
    const int rc = RUN_ALL_TESTS();
    if (!g_dir.empty()) {
        for (const char* f : {"passwd", "passwd-huge", "group", "nsswitch.conf", "unreadable"})
            ::unlink((g_dir + "/" + f).c_str());
        ::rmdir(g_dir.c_str());
    }
    return rc;
}
