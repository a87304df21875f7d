// The table's rules (docs/spec.md section 4) with an injected clock.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <thread>
#include <vector>

#include "cap_table.hpp"
#include "grant.hpp"
#include "status.hpp"

namespace p9auth {
namespace {

struct FakeClock {
    BootClock::time_point now{std::chrono::hours(1)};
    CapTable::Clock fn() {
        return [this] { return now; };
    }
};

Target bob() { return Target{2002, 2002, {3001, 3002}}; }

Error grant(CapTable& t, const NewGrant& g) { return t.grant(g.hash.bytes()); }

class CapTableTest : public ::testing::Test {
protected:
    void SetUp() override { core_init(); }
    FakeClock clock;
};

TEST_F(CapTableTest, GrantThenUseOnce) {
    CapTable t({}, clock.fn());
    NewGrant g = make_grant(2001, bob());
    ASSERT_FALSE(grant(t, g));
    Capability used;
    ASSERT_FALSE(t.use(g.capability.view(), 2001, &used));
    EXPECT_EQ(used.to, bob());
    Error replay = t.use(g.capability.view(), 2001);
    EXPECT_EQ(replay.errnum, EPERM);
    auto c = t.counters();
    EXPECT_EQ(c.granted, 1u);
    EXPECT_EQ(c.used, 1u);
    EXPECT_EQ(c.refused, 1u);
    EXPECT_EQ(c.outstanding, 0u);
}

TEST_F(CapTableTest, WrongWriterIsRefusedAndDoesNotUseItUp) {
    CapTable t({}, clock.fn());
    NewGrant g = make_grant(2001, bob());
    ASSERT_FALSE(grant(t, g));
    Error e = t.use(g.capability.view(), 2003);
    EXPECT_EQ(e.errnum, EPERM);
    EXPECT_EQ(t.counters().outstanding, 1u);
    EXPECT_FALSE(t.use(g.capability.view(), 2001));
}

TEST_F(CapTableTest, ForgedOrAlteredCapabilitiesAreRefused) {
    CapTable t({}, clock.fn());
    NewGrant g = make_grant(2001, bob());
    ASSERT_FALSE(grant(t, g));
    std::string text(g.capability.view());
    // Change the target: the HMAC covers TO, so the groups cannot be edited.
    std::string more_groups = text;
    more_groups.replace(more_groups.find("3001,3002"), 9, "3001,0");
    EXPECT_EQ(t.use(more_groups, 2001).errnum, EPERM);
    std::string other_key = text;
    other_key.back() = other_key.back() == 'A' ? 'B' : 'A';
    EXPECT_EQ(t.use(other_key, 2001).errnum, EPERM);
    EXPECT_EQ(t.counters().outstanding, 1u);
    EXPECT_FALSE(t.use(text, 2001));
}

TEST_F(CapTableTest, MalformedUseIsEinvalAndChangesNothing) {
    CapTable t({}, clock.fn());
    NewGrant g = make_grant(2001, bob());
    ASSERT_FALSE(grant(t, g));
    EXPECT_EQ(t.use("nonsense", 2001).errnum, EINVAL);
    auto c = t.counters();
    EXPECT_EQ(c.outstanding, 1u);
    EXPECT_EQ(c.used, 0u);
}

TEST_F(CapTableTest, ExpiresAfterTheTimeout) {
    CapTable t({.timeout = std::chrono::seconds(120)}, clock.fn());
    NewGrant early = make_grant(2001, bob());
    ASSERT_FALSE(grant(t, early));
    clock.now += std::chrono::seconds(60);
    NewGrant late = make_grant(2001, bob());
    ASSERT_FALSE(grant(t, late));
    clock.now += std::chrono::seconds(59);
    EXPECT_EQ(t.counters().outstanding, 2u);
    clock.now += std::chrono::seconds(1);  // early is 120 s old now
    EXPECT_EQ(t.use(early.capability.view(), 2001).errnum, EPERM);
    auto c = t.counters();
    EXPECT_EQ(c.expired, 1u);
    EXPECT_EQ(c.outstanding, 1u);
    EXPECT_FALSE(t.use(late.capability.view(), 2001));
}

TEST_F(CapTableTest, ExpiryOrderSurvivesUsesInTheMiddle) {
    CapTable t({.timeout = std::chrono::seconds(10)}, clock.fn());
    std::vector<NewGrant> g;
    for (int i = 0; i < 5; ++i) {
        g.push_back(make_grant(2001, bob()));
        ASSERT_FALSE(grant(t, g.back()));
        clock.now += std::chrono::seconds(1);
    }
    ASSERT_FALSE(t.use(g[2].capability.view(), 2001));  // unlink from the middle
    ASSERT_FALSE(t.use(g[0].capability.view(), 2001));  // and the head
    ASSERT_FALSE(t.use(g[4].capability.view(), 2001));  // and the tail
    clock.now += std::chrono::seconds(6);               // g[1] is 10 s old
    auto c = t.counters();
    EXPECT_EQ(c.expired, 1u);
    EXPECT_EQ(c.outstanding, 1u);
    EXPECT_FALSE(t.use(g[3].capability.view(), 2001));
}

TEST_F(CapTableTest, FullTableRefusesWithEnospcAndKeepsTheOthers) {
    CapTable t({.maxcaps = 2}, clock.fn());
    NewGrant a = make_grant(1, bob()), b = make_grant(1, bob()), c = make_grant(1, bob());
    ASSERT_FALSE(grant(t, a));
    ASSERT_FALSE(grant(t, b));
    Error e = grant(t, c);
    EXPECT_EQ(e.errnum, ENOSPC);
    EXPECT_NE(e.message.find("full"), std::string::npos);
    EXPECT_FALSE(t.use(a.capability.view(), 1));
    EXPECT_FALSE(t.use(b.capability.view(), 1));
    EXPECT_EQ(t.use(c.capability.view(), 1).errnum, EPERM);
    // Expiry makes room.
    ASSERT_FALSE(grant(t, c));
    ASSERT_FALSE(grant(t, a));
    clock.now += std::chrono::seconds(120);
    EXPECT_FALSE(grant(t, b));
}

TEST_F(CapTableTest, BadHashLengthsAndDuplicates) {
    CapTable t({}, clock.fn());
    std::uint8_t h[33] = {7};
    EXPECT_EQ(t.grant({h, 31}).errnum, EINVAL);
    EXPECT_EQ(t.grant({h, 33}).errnum, EINVAL);
    EXPECT_EQ(t.grant({h, 0}).errnum, EINVAL);
    EXPECT_EQ(t.grant({h, 20}).errnum, EINVAL);  // SHA-1 only with legacy_sha1
    ASSERT_FALSE(t.grant({h, 32}));
    EXPECT_EQ(t.grant({h, 32}).errnum, EEXIST);
    auto c = t.counters();
    EXPECT_EQ(c.outstanding, 1u);
    EXPECT_EQ(c.refused, 5u);
}

TEST_F(CapTableTest, LegacySha1) {
    CapTable t({.legacy_sha1 = true}, clock.fn());
    NewGrant g = make_grant(2001, bob(), HashKind::sha1);
    ASSERT_FALSE(grant(t, g));
    EXPECT_FALSE(t.use(g.capability.view(), 2001));
    NewGrant g256 = make_grant(2001, bob());
    ASSERT_FALSE(grant(t, g256));
    EXPECT_FALSE(t.use(g256.capability.view(), 2001));
}

TEST_F(CapTableTest, ExactlyOneWinnerUnderManyThreads) {
    CapTable t({.maxcaps = 1000});
    std::vector<NewGrant> g;
    for (int i = 0; i < 200; ++i) {
        g.push_back(make_grant(2001, bob()));
        ASSERT_FALSE(grant(t, g.back()));
    }
    std::vector<std::atomic<int>> wins(g.size());
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int th = 0; th < 8; ++th)
        threads.emplace_back([&] {
            while (!go.load()) std::this_thread::yield();
            for (std::size_t i = 0; i < g.size(); ++i)
                if (!t.use(g[i].capability.view(), 2001)) wins[i].fetch_add(1);
        });
    go = true;
    for (auto& th : threads) th.join();
    for (std::size_t i = 0; i < g.size(); ++i) EXPECT_EQ(wins[i].load(), 1) << i;
    auto c = t.counters();
    EXPECT_EQ(c.used, g.size());
    EXPECT_EQ(c.refused, g.size() * 7);
    EXPECT_EQ(c.outstanding, 0u);
}

TEST_F(CapTableTest, StatusText) {
    CapTable t({.timeout = std::chrono::seconds(5), .maxcaps = 9}, clock.fn());
    ASSERT_FALSE(grant(t, make_grant(1, bob())));
    EXPECT_EQ(format_status(t.counters(), t.limits()),
              "outstanding 1\ngranted 1\nused 0\nexpired 0\nrefused 0\nmaxcaps 9\ntimeout 5\n");
}

}  // namespace
}  // namespace p9auth
