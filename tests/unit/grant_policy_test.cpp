#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <thread>
#include <vector>

#include "grant_policy.hpp"
#include "mount_options.hpp"

namespace p9auth {
namespace {

OpenerCreds user(uid_t u, gid_t g, std::vector<gid_t> groups = {}, bool caps = false) {
    return OpenerCreds{u, g, std::move(groups), caps};
}

TEST(GrantPolicy, DefaultNeedsSetuidAndSetgid) {
    GrantPolicy p;
    EXPECT_FALSE(may_grant(p, user(0, 0, {}, true)));
    EXPECT_FALSE(may_grant(p, user(1000, 1000, {}, true)));  // caps, not uid 0, decide
    Error e = may_grant(p, user(0, 0, {}, false));
    EXPECT_EQ(e.errnum, EPERM);
    EXPECT_NE(e.message.find("CAP_SETUID"), std::string::npos);
}

TEST(GrantPolicy, DedicatedIdentity) {
    GrantPolicy uid_only{.grant_uid = 999};
    EXPECT_FALSE(may_grant(uid_only, user(999, 5)));
    EXPECT_EQ(may_grant(uid_only, user(0, 0, {}, true)).errnum, EPERM);  // the identity replaces the default
    GrantPolicy gid_only{.grant_gid = 50};
    EXPECT_FALSE(may_grant(gid_only, user(1, 50)));
    EXPECT_FALSE(may_grant(gid_only, user(1, 2, {7, 50})));
    EXPECT_EQ(may_grant(gid_only, user(1, 2, {7})).errnum, EPERM);
    GrantPolicy both{.grant_uid = 999, .grant_gid = 50};
    EXPECT_FALSE(may_grant(both, user(999, 50)));
    EXPECT_EQ(may_grant(both, user(999, 51)).errnum, EPERM);
    EXPECT_EQ(may_grant(both, user(998, 50)).errnum, EPERM);
}

TEST(GrantGate, OnceMeansOnceEvenUnderRacingOpens) {
    GrantGate gate(GrantPolicy{.grant_once = true});
    EXPECT_EQ(gate.open(user(5, 5)).errnum, EPERM);  // an unprivileged try does not spend it
    std::atomic<int> ok{0};
    std::vector<std::thread> th;
    for (int i = 0; i < 8; ++i)
        th.emplace_back([&] {
            if (!gate.open(user(0, 0, {}, true))) ok.fetch_add(1);
        });
    for (auto& t : th) t.join();
    EXPECT_EQ(ok.load(), 1);
    EXPECT_EQ(gate.open(user(0, 0, {}, true)).errnum, EPERM);
}

TEST(GrantGate, WithoutOnceOpensRepeatedly) {
    GrantGate gate(GrantPolicy{});
    EXPECT_FALSE(gate.open(user(0, 0, {}, true)));
    EXPECT_FALSE(gate.open(user(0, 0, {}, true)));
}

TEST(MountOptions, ParsesAndChecksBounds) {
    MountOptions o;
    ASSERT_FALSE(o.parse("timeout=5,maxcaps=10,grant_uid=999,grant_gid=50,grant_once,legacy_sha1"));
    EXPECT_EQ(o.table.timeout.count(), 5);
    EXPECT_EQ(o.table.maxcaps, 10u);
    EXPECT_EQ(*o.grant.grant_uid, 999u);
    EXPECT_EQ(*o.grant.grant_gid, 50u);
    EXPECT_TRUE(o.grant.grant_once);
    EXPECT_TRUE(o.table.legacy_sha1);
    EXPECT_EQ(o.describe(), "timeout=5,maxcaps=10,grant_uid=999,grant_gid=50,grant_once,legacy_sha1");
    MountOptions d;
    EXPECT_EQ(d.describe(), "timeout=120,maxcaps=16384");
    for (const char* bad :
         {"timeout=0", "timeout=86401", "timeout=x", "timeout=", "timeout=-1", "maxcaps=0", "maxcaps=16777217",
          "grant_uid=4294967295", "grant_uid=abc", "grant_once=1", "legacy_sha1=yes", "frobnicate", "timeout=5 "}) {
        MountOptions m;
        Error e = m.parse(bad);
        EXPECT_EQ(e.errnum, EINVAL) << bad;
        EXPECT_NE(e.message, "") << bad;
    }
    MountOptions m;
    bool known = true;
    EXPECT_FALSE(m.set("allow_other", "", &known));
    EXPECT_FALSE(known);
}

}  // namespace
}  // namespace p9auth
