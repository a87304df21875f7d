// Unit tests for factotum's policy parser, its decisions, the request table
// the throttle and the audit quota. No privilege, no daemon.
#include <gtest/gtest.h>

#include "audit_quota.hpp"
#include "charge.hpp"
#include "guard.hpp"
#include "grant_quota.hpp"
#include "policy.hpp"
#include "requests.hpp"
#include "throttle.hpp"

using namespace p9auth;
using namespace p9auth::factotum;

namespace {

Policy parse(const char* text) {
    auto p = Policy::parse(text, "test.conf");
    EXPECT_TRUE(p.has_value()) << (p ? "" : p.error().message);
    return p ? *p : Policy{};
}

TargetIds target(const char* name, uid_t uid, std::vector<gid_t> groups) { return {name, uid, std::move(groups)}; }

// A client whose peer credentials and login groups (NSS) agree.
ClientIds client(uid_t uid, gid_t gid, std::vector<gid_t> groups) {
    std::vector<gid_t> login = groups;
    login.push_back(gid);
    return {uid, gid, std::move(groups), std::move(login)};
}

Decision decide(const Policy& p, const ClientIds& c, const TargetIds& t) {
    auto d = p.decide(c, t);
    EXPECT_TRUE(d.has_value()) << (d ? "" : d.error().message);
    return d ? *d : Decision{};
}

}  // namespace

TEST(FactotumPolicy, LastMatchWinsAndNoMatchDenies) {
    Policy p = parse("# comment\npermit * as *\n\ndeny 2003 as 2002   # carol may not be bob\n");
    EXPECT_TRUE(decide(p, client(2001, 2001, {}), target("bob", 2002, {2002})).permit);
    Decision d = decide(p, client(2003, 2003, {}), target("bob", 2002, {2002}));
    EXPECT_FALSE(d.permit);
    EXPECT_EQ(d.line, 4);
    EXPECT_FALSE(decide(parse(""), client(2001, 2001, {}), target("bob", 2002, {})).permit);
}

TEST(FactotumPolicy, RootOnlyWhenNamed) {
    Policy p = parse("permit * as *\npermit :0 as :0\n");
    EXPECT_FALSE(decide(p, client(2001, 2001, {}), target("root", 0, {0})).permit);
    EXPECT_FALSE(decide(p, client(2001, 0, {0}), target("root", 0, {0})).permit);
    Policy q = parse("permit 2001 as 0\n");
    EXPECT_TRUE(decide(q, client(2001, 2001, {}), target("root", 0, {0})).permit);
}

TEST(FactotumPolicy, GroupsOfClientAndTarget) {
    Policy p = parse("permit :2100 as :2101\n");
    EXPECT_TRUE(decide(p, client(2001, 2001, {2100}), target("bob", 2002, {2002, 2101})).permit);
    EXPECT_TRUE(decide(p, client(2001, 2100, {}), target("bob", 2002, {2002, 2101})).permit);  // primary gid
    EXPECT_FALSE(decide(p, client(2001, 2001, {}), target("bob", 2002, {2002, 2101})).permit);
    EXPECT_FALSE(decide(p, client(2001, 2001, {2100}), target("carol", 2003, {2003})).permit);
}

// Issue 10, item 4: the groups a client holds now are not the whole story.
TEST(FactotumPolicy, ClientGroupDenyHoldsOnNssGroupsAPeerDropped) {
    Policy p = parse("permit * as *\ndeny :2100 as 2002\n");
    EXPECT_TRUE(p.judges_client_groups());
    EXPECT_FALSE(parse("permit * as :2100\n").judges_client_groups());
    // alice dropped staff (2100) in a user namespace; NSS still lists her in it.
    ClientIds dropped{2001, 2001, {}, std::vector<gid_t>{2001, 2100}};
    Decision d = decide(p, dropped, target("bob", 2002, {2002}));
    EXPECT_FALSE(d.permit);
    EXPECT_EQ(d.line, 2);
    // Holding the group now without NSS's word (newgrp, a set-gid program): denied too.
    EXPECT_FALSE(
        decide(p, ClientIds{2003, 2003, {2100}, std::vector<gid_t>{2003}}, target("bob", 2002, {2002})).permit);
    EXPECT_FALSE(decide(p, ClientIds{2003, 2100, {}, std::vector<gid_t>{2003}}, target("bob", 2002, {2002})).permit);
    // A uid NSS does not know (a subordinate uid): its groups cannot be
    // proven, so a deny on a group holds.
    EXPECT_FALSE(decide(p, ClientIds{100000, 100000, {}, std::nullopt}, target("bob", 2002, {2002})).permit);
    // Not in the group either way: granted.
    EXPECT_TRUE(decide(p, ClientIds{2003, 2003, {}, std::vector<gid_t>{2003}}, target("bob", 2002, {2002})).permit);
}

TEST(FactotumPolicy, ClientGroupPermitNeedsNssGroups) {
    Policy p = parse("permit :2100 as 2002\n");
    // In the group per NSS, whatever the peer holds now.
    EXPECT_TRUE(
        decide(p, ClientIds{2001, 2001, {}, std::vector<gid_t>{2001, 2100}}, target("bob", 2002, {2002})).permit);
    // Holding it without NSS's word, or a uid NSS does not know: no permit.
    EXPECT_FALSE(
        decide(p, ClientIds{2003, 2003, {2100}, std::vector<gid_t>{2003}}, target("bob", 2002, {2002})).permit);
    EXPECT_FALSE(decide(p, ClientIds{100000, 2100, {2100}, std::nullopt}, target("bob", 2002, {2002})).permit);
}

TEST(FactotumPolicy, UnknownTargetMatchesOnlyByNameOrStar) {
    Policy p = parse("permit * as ghost\n");
    TargetIds ghost{"ghost", std::nullopt, {}};
    EXPECT_TRUE(decide(p, client(2001, 2001, {}), ghost).permit);
    EXPECT_FALSE(decide(parse("permit * as :2100\n"), client(2001, 2001, {}), ghost).permit);
}

TEST(FactotumPolicy, SyntaxErrorsNameTheLine) {
    for (const char* bad : {"permit alice bob\n", "allow alice as bob\n", "permit alice as bob extra\n",
                            "permit -x as bob\n", "permit alice as a/b\n", "permit : as bob\n"}) {
        auto p = Policy::parse(std::string("\n") + bad, "f");
        ASSERT_FALSE(p.has_value()) << bad;
        EXPECT_NE(p.error().message.find("f:2:"), std::string::npos) << p.error().message;
    }
}

TEST(FactotumRequests, TableAdmitsOnlyListedMessagesInTheirPhase) {
    std::string why;
    EXPECT_NE(admit({wire::Msg::request, 3}, Phase::first, &why), nullptr);
    EXPECT_EQ(admit({wire::Msg::request, 3}, Phase::prompted, &why), nullptr);
    EXPECT_EQ(admit({wire::Msg::answer, 3}, Phase::first, &why), nullptr);
    EXPECT_NE(admit({wire::Msg::answer, 0}, Phase::prompted, &why), nullptr);
    EXPECT_EQ(admit({wire::Msg::answer, wire::kMaxAnswer + 1}, Phase::prompted, &why), nullptr);
    EXPECT_EQ(admit({wire::Msg::request, 0}, Phase::first, &why), nullptr);
    EXPECT_EQ(admit({wire::Msg::request, wire::kMaxUserName + 1}, Phase::first, &why), nullptr);
    EXPECT_EQ(admit({wire::Msg::granted, 1}, Phase::first, &why), nullptr);
    // The origin: once, first, bounded; then only the request.
    EXPECT_NE(admit({wire::Msg::origin, 9}, Phase::first, &why), nullptr);
    EXPECT_EQ(admit({wire::Msg::origin, 9}, Phase::origin, &why), nullptr);
    EXPECT_EQ(admit({wire::Msg::origin, 9}, Phase::prompted, &why), nullptr);
    EXPECT_EQ(admit({wire::Msg::origin, 0}, Phase::first, &why), nullptr);
    EXPECT_EQ(admit({wire::Msg::origin, wire::kMaxOrigin + 1}, Phase::first, &why), nullptr);
    EXPECT_NE(admit({wire::Msg::request, 3}, Phase::origin, &why), nullptr);
    EXPECT_EQ(admit({wire::Msg::answer, 3}, Phase::origin, &why), nullptr);
    EXPECT_EQ(admit({static_cast<wire::Msg>(0x7f), 1}, Phase::prompted, &why), nullptr);
    EXPECT_NE(why.find("unknown"), std::string::npos);
}

TEST(FactotumThrottle, PairLocksAfterLimitOthersUnaffected) {
    Throttle t({3, 100, std::chrono::seconds(60), std::chrono::seconds(30)});
    for (int i = 0; i < 2; ++i) t.failed(2001, "bob");
    EXPECT_EQ(t.blocked_for(2001, "bob"), 0);
    t.failed(2001, "bob");
    EXPECT_GT(t.blocked_for(2001, "bob"), 0);
    EXPECT_EQ(t.blocked_for(2003, "bob"), 0);    // another client, same target
    EXPECT_EQ(t.blocked_for(2001, "carol"), 0);  // same client, another target
}

TEST(FactotumThrottle, ClientLimitCoversAllTargets) {
    Throttle t({100, 3, std::chrono::seconds(60), std::chrono::seconds(30)});
    t.failed(2001, "a");
    t.failed(2001, "b");
    t.failed(2001, "c");
    EXPECT_GT(t.blocked_for(2001, "d"), 0);
    EXPECT_EQ(t.blocked_for(2002, "a"), 0);
}

namespace {
// A clock the test moves by hand.
struct FakeClock {
    Throttle::Clock::time_point t = Throttle::Clock::time_point{} + std::chrono::hours(1);
    Throttle::Now fn() {
        return [this] { return t; };
    }
};
ThrottleLimits limits(unsigned pair, unsigned client, unsigned target) {
    ThrottleLimits l;
    l.per_pair = pair;
    l.per_client = client;
    l.per_target = target;
    l.window = std::chrono::seconds(900);
    l.lockout = std::chrono::seconds(300);
    return l;
}
}  // namespace

TEST(FactotumThrottle, LockoutEndsWithTheInjectedClock) {
    FakeClock c;
    Throttle t(limits(2, 100, 100), c.fn());
    t.failed(2001, "bob");
    EXPECT_TRUE(t.failed(2001, "bob").pair_locked);
    EXPECT_EQ(t.blocked_for(2001, "bob"), 300);
    c.t += std::chrono::seconds(299);
    EXPECT_EQ(t.blocked_for(2001, "bob"), 1);
    c.t += std::chrono::seconds(1);
    EXPECT_EQ(t.blocked_for(2001, "bob"), 0);
}

TEST(FactotumThrottle, OneClientAloneNeverPutsATargetUnderAttack) {
    FakeClock c;
    Throttle t(limits(3, 1000, 5), c.fn());
    // 3 failures, locked; after the lockout 3 more: still only 3 counted for bob.
    for (int round = 0; round < 2; ++round) {
        for (int i = 0; i < 3; ++i) EXPECT_FALSE(t.failed(2001, "bob").target_attacked);
        EXPECT_GT(t.blocked_for(2001, "bob"), 0);
        c.t += std::chrono::seconds(300);
    }
    EXPECT_FALSE(t.under_attack("bob"));
    // A success does not give the pair a fresh allowance towards the target's limit.
    t.succeeded(2001, "bob");
    for (int i = 0; i < 2; ++i) t.failed(2001, "bob");
    EXPECT_FALSE(t.under_attack("bob"));
}

TEST(FactotumThrottle, TargetUnderAttackLocksEachClientAfterOneFailureButRefusesNobodyBeforeIt) {
    FakeClock c;
    Throttle t(limits(3, 1000, 5), c.fn());
    for (int i = 0; i < 3; ++i) t.failed(2001, "bob");  // 3 counted
    t.failed(2003, "bob");                              // 4
    FailureEffect e = t.failed(2003, "bob");            // 5: under attack now
    EXPECT_TRUE(e.target_attacked);
    EXPECT_FALSE(e.pair_locked);  // carol's second failure: her usual allowance still applied to it
    EXPECT_TRUE(t.under_attack("bob"));
    EXPECT_FALSE(t.failed(2004, "bob").target_attacked);  // reported once
    // dave failed once, while bob is under attack: locked for bob at once.
    EXPECT_GT(t.blocked_for(2004, "bob"), 0);
    // carol's next failure locks her too.
    EXPECT_EQ(t.blocked_for(2003, "bob"), 0);
    EXPECT_TRUE(t.failed(2003, "bob").pair_locked);
    // A client that has not failed for bob is never refused: no lockout for everybody.
    EXPECT_EQ(t.blocked_for(2005, "bob"), 0);
    EXPECT_EQ(t.blocked_for(0, "bob"), 0);
    // Other targets are not affected; the attack ends with the window.
    EXPECT_FALSE(t.under_attack("carol"));
    EXPECT_FALSE(t.failed(2005, "carol").pair_locked);
    c.t += std::chrono::seconds(901);
    EXPECT_FALSE(t.under_attack("bob"));
    EXPECT_FALSE(t.failed(2006, "bob").pair_locked);
    EXPECT_EQ(t.blocked_for(2006, "bob"), 0);
}

TEST(FactotumThrottle, ClientLockIsReportedAndWindowForgetsOldFailures) {
    FakeClock c;
    Throttle t(limits(100, 3, 1000), c.fn());
    t.failed(2001, "a");
    t.failed(2001, "b");
    c.t += std::chrono::seconds(901);  // those two are forgotten
    EXPECT_FALSE(t.failed(2001, "c").client_locked);
    EXPECT_EQ(t.blocked_for(2001, "d"), 0);
    t.failed(2001, "d");
    EXPECT_TRUE(t.failed(2001, "e").client_locked);
    EXPECT_GT(t.blocked_for(2001, "z"), 0);
}

TEST(FactotumWire, UserNames) {
    EXPECT_TRUE(wire::valid_user_name("bob"));
    EXPECT_TRUE(wire::valid_user_name("a.b-c_d$"));
    EXPECT_FALSE(wire::valid_user_name(""));
    EXPECT_FALSE(wire::valid_user_name("-bob"));
    EXPECT_FALSE(wire::valid_user_name("+bob"));  // NSS compat, pam_unix
    EXPECT_FALSE(wire::valid_user_name("+"));
    EXPECT_FALSE(wire::valid_user_name("bo b"));
    EXPECT_FALSE(wire::valid_user_name("2001@2002:2002"));  // ':' refused
    EXPECT_FALSE(wire::valid_user_name(std::string(257, 'a')));
    EXPECT_FALSE(wire::valid_user_name(std::string("a\0b", 3)));
}

TEST(FactotumWire, OriginRoundTripsAndRefusesAnythingElse) {
    std::string why;
    for (const wire::Origin& o :
         {wire::Origin{"pts/3", ""}, wire::Origin{"", "192.0.2.1"}, wire::Origin{"/dev/pts/12", "fe80::1%eth0"},
          wire::Origin{std::string(32, 't'), std::string(253, 'h')}}) {
        auto d = wire::decode_origin(wire::encode_origin(o), &why);
        ASSERT_TRUE(d.has_value()) << why;
        EXPECT_EQ(d->tty, o.tty);
        EXPECT_EQ(d->rhost, o.rhost);
    }
    EXPECT_LE(wire::encode_origin({std::string(32, 't'), std::string(253, 'h')}).size(), wire::kMaxOrigin);
    for (std::string_view bad : {"", "tty=", "rhost=", "tty=a\ntty=b", "rhost=a\nrhost=b", "user=x", "tty=a\n",
                                 "tty=pts/1 x", "rhost=a;b", "rhost=a\tb", "tty=a\nrhost=b\nx=y", "TTY=a"}) {
        why.clear();
        EXPECT_FALSE(wire::decode_origin(bad, &why).has_value()) << bad;
        EXPECT_FALSE(why.empty()) << bad;
    }
    EXPECT_FALSE(wire::decode_origin(std::string("tty=a\0b", 7), &why).has_value());
    EXPECT_FALSE(wire::decode_origin("tty=" + std::string(33, 't'), &why).has_value());
    EXPECT_FALSE(wire::decode_origin("rhost=" + std::string(254, 'h'), &why).has_value());
    EXPECT_NE(wire::check_origin_host("evil host"), "");
    EXPECT_EQ(wire::check_origin_host("host.example.org"), "");
}

TEST(FactotumAuditQuota, BurstThenRateThenTheCountOfWhatWasHeldBack) {
    FakeClock c;
    AuditQuota q(c.fn());
    for (unsigned i = 0; i < AuditQuota::kBurst; ++i) ASSERT_TRUE(q.take(2001).log) << i;
    for (int i = 0; i < 1000; ++i) EXPECT_FALSE(q.take(2001).log);
    // Another uid has its own quota.
    EXPECT_TRUE(q.take(2003).log);
    // One token comes back every 1/kPerSecond s; the first record after
    // carries the count of the held-back ones.
    c.t += std::chrono::milliseconds(1000 / AuditQuota::kPerSecond);
    auto v = q.take(2001);
    EXPECT_TRUE(v.log);
    EXPECT_EQ(v.suppressed, 1000u);
    EXPECT_FALSE(q.take(2001).log);
    c.t += std::chrono::seconds(1);
    for (unsigned i = 0; i < AuditQuota::kPerSecond; ++i) EXPECT_TRUE(q.take(2001).log) << i;
    v = q.take(2001);
    EXPECT_FALSE(v.log);
    // A long pause refills to the burst, no further.
    c.t += std::chrono::hours(1);
    unsigned logged = 0;
    for (unsigned i = 0; i < 2 * AuditQuota::kBurst; ++i) logged += q.take(2001).log;
    EXPECT_EQ(logged, AuditQuota::kBurst);
}

TEST(FactotumAuditQuota, ManyUidsAreBoundedAndNeverSilenced) {
    FakeClock c;
    AuditQuota q(c.fn());
    // More uids than it tracks: past the bound, records are logged (not lost).
    for (uid_t u = 0; u < AuditQuota::kMaxTracked + 100; ++u) EXPECT_TRUE(q.take(10000 + u).log);
    // Once idle uids are forgotten there is room again, and quotas apply.
    c.t += std::chrono::hours(1);
    for (unsigned i = 0; i < AuditQuota::kBurst; ++i) EXPECT_TRUE(q.take(2001).log);
    EXPECT_FALSE(q.take(2001).log);
}

TEST(FactotumAuditQuota, TheCountOfAUidThatWentQuietIsDrained) {
    FakeClock c;
    AuditQuota q(c.fn());
    for (unsigned i = 0; i < AuditQuota::kBurst + 7; ++i) q.take(2001);
    EXPECT_TRUE(q.owes());
    EXPECT_TRUE(q.drain().empty());  // still flooding: no token back yet
    c.t += std::chrono::seconds(1);
    auto d = q.drain();
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].first, 2001u);
    EXPECT_EQ(d[0].second, 7u);
    EXPECT_FALSE(q.owes());
    EXPECT_EQ(q.take(2001).suppressed, 0u);  // not counted twice
}

// Successful grants per client uid (grant_quota.hpp).
TEST(FactotumGrantQuota, BurstThenRefillsAtItsRatePerClient) {
    FakeClock clock;
    GrantQuota q({4, std::chrono::seconds(100)}, clock.fn());
    for (int i = 0; i < 4; ++i) EXPECT_EQ(q.take(2001), 0) << i;
    EXPECT_EQ(q.take(2001), 25);  // one back every 100/4 s
    EXPECT_EQ(q.take(2002), 0);   // another client has her own
    clock.t += std::chrono::seconds(24);
    EXPECT_EQ(q.take(2001), 1);
    clock.t += std::chrono::seconds(1);
    EXPECT_EQ(q.take(2001), 0);
    EXPECT_GT(q.take(2001), 0);
}

TEST(FactotumGrantQuota, NoMoreThanTwiceTheBurstInAnyWindow) {
    FakeClock clock;
    GrantQuota q({8, std::chrono::seconds(120)}, clock.fn());
    unsigned granted = 0;
    for (int second = 0; second < 120; ++second, clock.t += std::chrono::seconds(1))
        while (q.take(2001) == 0) ++granted;
    EXPECT_LE(granted, 16u);
    EXPECT_GE(granted, 15u);
}

TEST(FactotumGrantQuota, RefundGivesBackWhatGrantedNothing) {
    FakeClock clock;
    GrantQuota q({2, std::chrono::seconds(100)}, clock.fn());
    EXPECT_EQ(q.take(2001), 0);
    EXPECT_EQ(q.take(2001), 0);
    q.refund(2001);  // e.g. a wrong password
    EXPECT_EQ(q.take(2001), 0);
    EXPECT_GT(q.take(2001), 0);
    q.refund(2003);  // never took: nothing to give back, nothing made up
    EXPECT_EQ(q.take(2003), 0);
    EXPECT_EQ(q.take(2003), 0);
    EXPECT_GT(q.take(2003), 0);
}

TEST(FactotumThrottle, HostsOfATrustedClientAreLockedApartButBoundedTogether) {
    FakeClock c;
    ThrottleLimits l = limits(5, 20, 1000);
    l.per_origins = 12;
    Throttle t(l, c.fn());
    // 5 failures for bob from 10.0.0.1 lock that host, not 10.0.0.2, not the client's own logins.
    for (int i = 0; i < 5; ++i) t.failed({3001, "10.0.0.1"}, "bob");
    EXPECT_GT(t.blocked_for({3001, "10.0.0.1"}, "bob"), 0);
    EXPECT_EQ(t.blocked_for({3001, "10.0.0.2"}, "bob"), 0);
    EXPECT_EQ(t.blocked_for(3001, "bob"), 0);
    EXPECT_EQ(t.blocked_for({3001, "10.0.0.1"}, "carol"), 0);
    // Hosts together: the 12th failure for bob from any host locks bob for every host of this client ...
    for (int i = 0; i < 5; ++i) EXPECT_FALSE(t.failed({3001, "10.0.0.2"}, "bob").origins_locked);
    EXPECT_FALSE(t.failed({3001, "10.0.0.3"}, "bob").origins_locked);
    FailureEffect e = t.failed({3001, "10.0.0.4"}, "bob");
    EXPECT_TRUE(e.origins_locked);
    EXPECT_EQ(t.blocked_for({3001, "10.0.0.9"}, "bob"), 300);
    EXPECT_EQ(t.blocked_for(3001, "bob"), 300);
    // ... but neither another client nor another target.
    EXPECT_EQ(t.blocked_for({3002, "10.0.0.9"}, "bob"), 0);
    EXPECT_EQ(t.blocked_for({3001, "10.0.0.9"}, "carol"), 0);
    c.t += std::chrono::seconds(300);
    EXPECT_EQ(t.blocked_for({3001, "10.0.0.9"}, "bob"), 0);
}

TEST(FactotumThrottle, ClientLimitIsPerHost) {
    FakeClock c;
    Throttle t(limits(100, 3, 1000), c.fn());
    for (const char* target : {"a", "b", "c"}) t.failed({3001, "192.0.2.1"}, target);
    EXPECT_GT(t.blocked_for({3001, "192.0.2.1"}, "z"), 0);
    EXPECT_EQ(t.blocked_for({3001, "192.0.2.2"}, "z"), 0);
    EXPECT_EQ(t.blocked_for(3001, "z"), 0);
}

namespace {
// dora is a directory user whose directory is down.
p9auth::Expected<std::optional<uid_t>> fixture_names(const std::string& n) {
    if (n == "alice") return std::optional<uid_t>(2001);
    if (n == "bob") return std::optional<uid_t>(2002);
    if (n == "dora") return p9auth::fail(EAGAIN, "getpwnam_r: Resource temporarily unavailable");
    return std::optional<uid_t>();
}
}  // namespace

TEST(FactotumCharge, SubordinateUidsAreChargedToTheirOwner) {
    SubordinateCounts n;
    auto r = parse_subordinate_ranges(
        "# comment\nalice:100000:65536\n\nbob:165536:65536\n2005:300000:10\nghost:400000:10\nbad line\n"
        "carol:x:1\nalice:1:2:3\nbob:500000:0\n",
        fixture_names, &n);
    EXPECT_EQ(n.unknown, 1u);
    EXPECT_EQ(n.unresolved, 0u);
    EXPECT_EQ(n.malformed, 3u);
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(charged_uid(r, 99999), 99999u);
    EXPECT_EQ(charged_uid(r, 100000), 2001u);
    EXPECT_EQ(charged_uid(r, 165535), 2001u);
    EXPECT_EQ(charged_uid(r, 165536), 2002u);
    EXPECT_EQ(charged_uid(r, 231071), 2002u);
    EXPECT_EQ(charged_uid(r, 231072), 231072u);
    EXPECT_EQ(charged_uid(r, 300009), 2005u);
    EXPECT_EQ(charged_uid(r, 400000), 400000u);  // the unknown owner's line was skipped
    EXPECT_EQ(charged_uid(r, 2001), 2001u);
    EXPECT_EQ(charged_uid(r, 0xfffffffeu), 0xfffffffeu);
}

// An owner NSS cannot look up: its range is one uid for every limit (its
// first), neither skipped (65536 sets of limits) nor fatal to the table.
TEST(FactotumCharge, ARangeWhoseOwnerCannotBeLookedUpIsChargedAsOneUid) {
    SubordinateCounts n;
    auto r = parse_subordinate_ranges("alice:100000:65536\ndora:600000:65536\n", fixture_names, &n);
    EXPECT_EQ(n.unresolved, 1u);
    EXPECT_EQ(n.unknown, 0u);
    EXPECT_NE(n.nss_error.find("temporarily unavailable"), std::string::npos);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(charged_uid(r, 100001), 2001u);
    EXPECT_EQ(charged_uid(r, 600000), 600000u);
    EXPECT_EQ(charged_uid(r, 600001), 600000u);
    EXPECT_EQ(charged_uid(r, 665535), 600000u);
    EXPECT_EQ(charged_uid(r, 665536), 665536u);
}

TEST(FactotumCharge, OverlapsGoToTheRangeThatStartsFirstAndTheTopIsBounded) {
    SubordinateCounts n;
    auto r =
        parse_subordinate_ranges("bob:150000:100000\nalice:100000:65536\nalice:4294967000:100000\n", fixture_names, &n);
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(charged_uid(r, 160000), 2001u);  // in both: alice's starts first
    EXPECT_EQ(charged_uid(r, 170000), 2002u);
    EXPECT_EQ(charged_uid(r, 4294967294u), 2001u);
    EXPECT_EQ(r.back().end, std::uint64_t{1} << 32);
}

TEST(FactotumCharge, AnUnreadableTableFailsClosedAndAnAbsentOneChargesEachUidToItself) {
    std::string note;
    ChargeTable absent("/nonexistent/subuid");
    EXPECT_EQ(absent.charge(100005, &note), std::optional<uid_t>(100005));
    EXPECT_NE(note.find("absent"), std::string::npos);
    ChargeTable dir("/");  // a directory: not a table
    EXPECT_EQ(dir.charge(100005, &note), std::nullopt);
    EXPECT_NE(note.find("not a regular file"), std::string::npos);
    EXPECT_EQ(dir.charge(100005, &note), std::nullopt);
    EXPECT_TRUE(note.empty());  // said once
}

TEST(FactotumGuard, EveryExceptionIsCaughtAndDescribedWithoutAllocating) {
    EXPECT_FALSE(catch_all([] {}).thrown);
    Caught a = catch_all([] { throw std::bad_alloc(); });
    EXPECT_TRUE(a.thrown);
    EXPECT_STREQ(a.what, "out of memory (std::bad_alloc)");
    Caught b = catch_all([] { throw std::system_error(EAGAIN, std::generic_category(), "pthread_create"); });
    EXPECT_TRUE(b.thrown);
    EXPECT_NE(std::string(b.what).find("generic: 11"), std::string::npos) << b.what;
    Caught c = catch_all([] { std::string().resize(std::string().max_size() + 1); });
    EXPECT_TRUE(c.thrown);
    EXPECT_NE(std::string(c.what).find("length_error"), std::string::npos) << c.what;
    Caught d = catch_all([] { throw 42; });
    EXPECT_TRUE(d.thrown);
    EXPECT_STREQ(d.what, "an exception of unknown type");
    // A long what() is cut to the buffer, not overrun.
    Caught e = catch_all([] { throw std::runtime_error(std::string(1000, 'x')); });
    EXPECT_EQ(std::string(e.what).size(), sizeof e.what - 1);
}
