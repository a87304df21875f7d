// Unit tests for factotum's policy parser, its decisions, the request table
// and the throttle. No privilege, no daemon.
#include <gtest/gtest.h>

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

}  // namespace

TEST(FactotumPolicy, LastMatchWinsAndNoMatchDenies) {
    Policy p = parse("# comment\npermit * as *\n\ndeny 2003 as 2002   # carol may not be bob\n");
    EXPECT_TRUE(p.decide({2001, 2001, {}}, target("bob", 2002, {2002})).permit);
    Decision d = p.decide({2003, 2003, {}}, target("bob", 2002, {2002}));
    EXPECT_FALSE(d.permit);
    EXPECT_EQ(d.line, 4);
    EXPECT_FALSE(parse("").decide({2001, 2001, {}}, target("bob", 2002, {})).permit);
}

TEST(FactotumPolicy, RootOnlyWhenNamed) {
    Policy p = parse("permit * as *\npermit :0 as :0\n");
    EXPECT_FALSE(p.decide({2001, 2001, {}}, target("root", 0, {0})).permit);
    EXPECT_FALSE(p.decide({2001, 0, {0}}, target("root", 0, {0})).permit);
    Policy q = parse("permit 2001 as 0\n");
    EXPECT_TRUE(q.decide({2001, 2001, {}}, target("root", 0, {0})).permit);
}

TEST(FactotumPolicy, GroupsOfClientAndTarget) {
    Policy p = parse("permit :2100 as :2101\n");
    EXPECT_TRUE(p.decide({2001, 2001, {2100}}, target("bob", 2002, {2002, 2101})).permit);
    EXPECT_TRUE(p.decide({2001, 2100, {}}, target("bob", 2002, {2002, 2101})).permit);  // primary gid
    EXPECT_FALSE(p.decide({2001, 2001, {}}, target("bob", 2002, {2002, 2101})).permit);
    EXPECT_FALSE(p.decide({2001, 2001, {2100}}, target("carol", 2003, {2003})).permit);
}

TEST(FactotumPolicy, UnknownTargetMatchesOnlyByNameOrStar) {
    Policy p = parse("permit * as ghost\n");
    TargetIds ghost{"ghost", std::nullopt, {}};
    EXPECT_TRUE(p.decide({2001, 2001, {}}, ghost).permit);
    EXPECT_FALSE(parse("permit * as :2100\n").decide({2001, 2001, {}}, ghost).permit);
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
    EXPECT_EQ(admit({static_cast<wire::Msg>(0x7f), 1}, Phase::working, &why), nullptr);
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

TEST(FactotumWire, UserNames) {
    EXPECT_TRUE(wire::valid_user_name("bob"));
    EXPECT_TRUE(wire::valid_user_name("a.b-c_d$"));
    EXPECT_FALSE(wire::valid_user_name(""));
    EXPECT_FALSE(wire::valid_user_name("-bob"));
    EXPECT_FALSE(wire::valid_user_name("bo b"));
    EXPECT_FALSE(wire::valid_user_name("2001@2002:2002"));  // ':' refused
    EXPECT_FALSE(wire::valid_user_name(std::string(257, 'a')));
    EXPECT_FALSE(wire::valid_user_name(std::string("a\0b", 3)));
}
