// /etc/p9auth/p9auth.conf parsing and its ownership checks.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>
#include <vector>

#include "config.hpp"

namespace p9auth {
namespace {

TEST(Config, DefaultsAndSettings) {
    auto c = parse_config("");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->mountpoint, "/run/p9auth");
    c = parse_config("# comment\n\n  mountpoint   /srv/cap  # trailing\nfactotum_socket /run/f.sock\n");
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->mountpoint, "/srv/cap");
    EXPECT_EQ(c->factotum_socket, "/run/f.sock");
}

TEST(Config, BadLinesFailClosedWithTheLineNumber) {
    for (const char* bad : {"mountpoint", "mountpoint relative", "mountpoint /a/../b", "mountpoint /a/",
                            "mountpoint /a//b", "mountpoint /a/./b", "mountpoint /", "mountpoint /a b", "frobnicate /x",
                            "mountpoint /a\\040b", "mountpoint /a\r", "mountpoint /run/p9auth extra"}) {
        auto c = parse_config(std::string("\n") + bad + "\n");
        ASSERT_FALSE(c) << bad;
        EXPECT_EQ(c.error().errnum, EINVAL);
        EXPECT_NE(c.error().message.find(":2:"), std::string::npos) << c.error().message;
    }
}

TEST(Config, MissingFileMeansDefaults) {
    auto c = load_config("/nonexistent-p9auth-dir/p9auth.conf");
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->mountpoint, "/run/p9auth");
}

TEST(Config, RefusesAFileOthersCanWrite) {
    char dir[] = "/tmp/p9auth-conf.XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    ASSERT_EQ(::chmod(dir, 0755), 0);
    const std::string path = std::string(dir) + "/p9auth.conf";
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("mountpoint /srv/cap\n", f);
    std::fclose(f);
    ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
    if (::geteuid() == 0) {  // the file and its directories are root's; /tmp is root's and sticky (1777)
        auto c = load_config(path.c_str());
        ASSERT_TRUE(c) << c.error().message;
        EXPECT_EQ(c->mountpoint, "/srv/cap");
        // A parent directory that a group may write: whoever is in it could swap the file.
        ASSERT_EQ(::chmod(dir, 0775), 0);
        c = load_config(path.c_str());
        ASSERT_FALSE(c);
        EXPECT_EQ(c.error().errnum, EPERM);
        EXPECT_NE(c.error().message.find(std::string(dir) + " is writable by group or others"), std::string::npos)
            << c.error().message;
        // World-writable without the sticky bit is no better.
        ASSERT_EQ(::chmod(dir, 0777), 0);
        EXPECT_FALSE(load_config(path.c_str()));
        // Sticky, but not root's: its owner could rename entries.
        ASSERT_EQ(::chmod(dir, 01777), 0);
        ASSERT_EQ(::chown(dir, 2001, 0), 0);
        c = load_config(path.c_str());
        ASSERT_FALSE(c);
        EXPECT_NE(c.error().message.find("not owned by root"), std::string::npos) << c.error().message;
        ASSERT_EQ(::chown(dir, 0, 0), 0);
        ASSERT_EQ(::chmod(dir, 0755), 0);
    }
    ASSERT_EQ(::chmod(path.c_str(), 0666), 0);
    auto c = load_config(path.c_str());
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().message.find("writable"), std::string::npos) << c.error().message;
    ::unlink(path.c_str());
    ::rmdir(dir);
}

// factotum's policy goes through the same loader: the same refusal, named.
TEST(Config, TheSharedLoaderNamesWhatItRefused) {
    char dir[] = "/tmp/p9auth-conf.XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    const std::string path = std::string(dir) + "/factotum.conf";
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("permit * as *\n", f);
    std::fclose(f);
    ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
    ASSERT_EQ(::chmod(dir, 0770), 0);
    auto t = read_root_owned_file(path, 1024, "policy");
    if (::geteuid() == 0) {
        ASSERT_FALSE(t);
        EXPECT_EQ(t.error().message,
                  "policy: " + std::string(dir) + " is writable by group or others: refusing to trust it (chmod go-w)");
        ASSERT_EQ(::chmod(dir, 0700), 0);
        t = read_root_owned_file(path, 1024, "policy");
        ASSERT_TRUE(t) << t.error().message;
        EXPECT_EQ(*t, "permit * as *\n");
        t = read_root_owned_file(path, 8, "policy");  // the size bound
        ASSERT_FALSE(t);
        EXPECT_EQ(t.error().errnum, EFBIG);
    }
    t = read_root_owned_file("factotum.conf", 1024, "policy");
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().errnum, EINVAL);
    EXPECT_EQ(read_root_owned_file(std::string(dir) + "/absent", 1024, "policy").error().errnum, ENOENT);
    ::unlink(path.c_str());
    ::rmdir(dir);
}

TEST(Config, ASettingTwiceIsAnError) {
    auto c = parse_config("mountpoint /a\n# x\nmountpoint /b\n");
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().errnum, EINVAL);
    EXPECT_NE(c.error().message.find(":3: mountpoint is already set on line 1"), std::string::npos)
        << c.error().message;
}

TEST(Config, NulInAValueIsRefused) {
    auto c = parse_config(std::string("mountpoint /a\0b\n", 16));
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().errnum, EINVAL);
}

TEST(Config, CleanAbsolutePaths) {
    EXPECT_TRUE(is_clean_absolute_path("/run/p9auth"));
    EXPECT_TRUE(is_clean_absolute_path("/a"));
    for (const char* bad : {"", "/", "a", "/a/", "//a", "/a//b", "/./a", "/a/..", "/a b", "/a\tb", "/a\\b", "/a\x7f"})
        EXPECT_FALSE(is_clean_absolute_path(bad)) << bad;
    EXPECT_FALSE(is_clean_absolute_path("/" + std::string(1024, 'a')));
}

// A private directory for the file tests, removed when done.
struct TempDir {
    std::string path;
    TempDir() {
        char t[] = "/tmp/p9auth-conf.XXXXXX";
        path = ::mkdtemp(t) ? t : "";
    }
    ~TempDir() {
        for (const char* f : {"/p9auth.conf", "/real.conf"}) ::unlink((path + f).c_str());
        ::rmdir(path.c_str());
    }
};

TEST(Config, ASymlinkIsRefused) {
    TempDir d;
    ASSERT_FALSE(d.path.empty());
    FILE* f = std::fopen((d.path + "/real.conf").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
    ASSERT_EQ(::symlink("real.conf", (d.path + "/p9auth.conf").c_str()), 0);
    auto c = load_config((d.path + "/p9auth.conf").c_str());
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().errnum, ELOOP) << c.error().message;
}

TEST(Config, AFifoIsRefusedWithoutHanging) {
    TempDir d;
    ASSERT_FALSE(d.path.empty());
    ASSERT_EQ(::mkfifo((d.path + "/p9auth.conf").c_str(), 0644), 0);
    auto c = load_config((d.path + "/p9auth.conf").c_str());  // no writer: a blocking open would hang here
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().message.find("not a regular file"), std::string::npos) << c.error().message;
}

}  // namespace
}  // namespace p9auth
