// /etc/p9auth/p9auth.conf parsing and its ownership checks.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

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
                            "mountpoint /a//b", "mountpoint /a/./b", "mountpoint /", "mountpoint /a b",
                            "frobnicate /x", "mountpoint /a\\040b"}) {
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
    if (::geteuid() == 0) {  // the file and /tmp's parents are root's: /tmp itself is 1777
        auto c = load_config(path.c_str());
        ASSERT_FALSE(c);  // /tmp is writable by others
        EXPECT_NE(c.error().message.find("/tmp"), std::string::npos) << c.error().message;
    }
    ASSERT_EQ(::chmod(path.c_str(), 0666), 0);
    auto c = load_config(path.c_str());
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().message.find("writable"), std::string::npos) << c.error().message;
    ::unlink(path.c_str());
    ::rmdir(dir);
}

}  // namespace
}  // namespace p9auth
