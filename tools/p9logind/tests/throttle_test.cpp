// SourceThrottle on a real directory, with a clock the test moves: the
// limit, the lockout and the window, the advance and its refund, sources
// apart, IPv6 by /64, the bound on sources, a directory not fit to use.
#include "throttle.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace p9logind {
namespace {

long long g_now = 1000;
long long test_clock() { return g_now; }

class ThrottleTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/p9logind-throttle.XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        g_now = 1000;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    SourceThrottle make(unsigned limit = 3, unsigned max_sources = 16384) {
        ThrottleLimits l;
        l.fail_limit = limit;
        l.window = 900;
        l.lockout = 300;
        l.max_sources = max_sources;
        return SourceThrottle(dir_, l, &test_clock);
    }
    std::string dir_;
};

TEST_F(ThrottleTest, LocksAfterTheLimitForTheLockoutOnly) {
    auto t = make(3);
    EXPECT_EQ(t.check(), "");
    for (int i = 0; i < 3; ++i) EXPECT_EQ(t.charge("192.0.2.1"), 0) << i;  // three failed attempts
    EXPECT_EQ(t.locked_for("192.0.2.1"), 300);
    EXPECT_EQ(t.charge("192.0.2.1"), 300);  // refused, not charged
    g_now += 299;
    EXPECT_EQ(t.locked_for("192.0.2.1"), 1);
    g_now += 1;
    EXPECT_EQ(t.locked_for("192.0.2.1"), 0);
    EXPECT_EQ(t.charge("192.0.2.1"), 0);  // a fresh count after the lockout
    EXPECT_EQ(t.charge("192.0.2.1"), 0);
    EXPECT_EQ(t.locked_for("192.0.2.1"), 0);
}

TEST_F(ThrottleTest, OtherSourcesAreNotAffected) {
    auto t = make(2);
    EXPECT_EQ(t.charge("192.0.2.1"), 0);
    EXPECT_EQ(t.charge("192.0.2.1"), 0);
    EXPECT_GT(t.locked_for("192.0.2.1"), 0);
    EXPECT_EQ(t.locked_for("192.0.2.2"), 0);
    EXPECT_EQ(t.charge("192.0.2.2"), 0);
}

TEST_F(ThrottleTest, ASuccessGivesItsAdvanceBackButClearsNothingElse) {
    auto t = make(3);
    EXPECT_EQ(t.charge("192.0.2.1"), 0);  // a failure
    EXPECT_EQ(t.charge("192.0.2.1"), 0);  // a failure
    EXPECT_EQ(t.charge("192.0.2.1"), 0);  // the third: locks unless it succeeds ...
    EXPECT_GT(t.locked_for("192.0.2.1"), 0);
    t.refund("192.0.2.1");  // ... and it did
    EXPECT_EQ(t.locked_for("192.0.2.1"), 0);
    EXPECT_EQ(t.charge("192.0.2.1"), 0);  // the two failures still count
    EXPECT_GT(t.locked_for("192.0.2.1"), 0);
}

TEST_F(ThrottleTest, FailuresAgeOutWithTheWindow) {
    auto t = make(3);
    EXPECT_EQ(t.charge("192.0.2.1"), 0);
    EXPECT_EQ(t.charge("192.0.2.1"), 0);
    g_now += 900;
    EXPECT_EQ(t.charge("192.0.2.1"), 0);
    EXPECT_EQ(t.charge("192.0.2.1"), 0);
    EXPECT_EQ(t.locked_for("192.0.2.1"), 0);
}

TEST_F(ThrottleTest, SourceKeys) {
    EXPECT_EQ(source_key(""), "local");
    EXPECT_EQ(source_key("192.0.2.7"), "192.0.2.7");
    EXPECT_EQ(source_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
    EXPECT_EQ(source_key("2001:db8:1:2::1"), source_key("2001:db8:1:2:ffff::9"));
    EXPECT_NE(source_key("2001:db8:1:2::1"), source_key("2001:db8:1:3::1"));
    EXPECT_EQ(source_key("../../etc/passwd"), "unknown");
    auto t = make(1);
    EXPECT_EQ(t.charge(source_key("2001:db8:1:2::1")), 0);
    EXPECT_GT(t.locked_for(source_key("2001:db8:1:2::2")), 0);  // the same /64
    EXPECT_TRUE(std::filesystem::exists(dir_ + "/2001:db8:1:2::_64"));
}

TEST_F(ThrottleTest, NewSourcesBeyondTheBoundAreRefusedUntilOldOnesExpire) {
    auto t = make(5, 2);
    EXPECT_EQ(t.charge("192.0.2.1"), 0);
    EXPECT_EQ(t.charge("192.0.2.2"), 0);
    EXPECT_EQ(t.charge("192.0.2.3"), -1);     // full of live sources: fail closed
    EXPECT_EQ(t.charge("192.0.2.1"), 0);      // known sources go on
    EXPECT_EQ(t.locked_for("192.0.2.3"), 0);  // never counted, not locked
    g_now += 900;                             // their windows are over
    EXPECT_EQ(t.charge("192.0.2.3"), 0);
    EXPECT_FALSE(std::filesystem::exists(dir_ + "/192.0.2.1"));
}

TEST_F(ThrottleTest, ADirectoryOthersCanWriteIsRefused) {
    auto t = make();
    ASSERT_EQ(::chmod(dir_.c_str(), 0777), 0);
    EXPECT_NE(t.check().find("writable by group or others"), std::string::npos);
    SourceThrottle missing(dir_ + "/missing", ThrottleLimits{}, &test_clock);
    EXPECT_NE(missing.check().find("No such file or directory"), std::string::npos);
    EXPECT_EQ(missing.charge("192.0.2.1"), -1);
    EXPECT_EQ(missing.locked_for("192.0.2.1"), -1);
}

}  // namespace
}  // namespace p9logind
