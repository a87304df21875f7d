// The policy installed as /etc/p9auth/factotum.conf (examples/factotum.conf):
// read from the source tree and judged as factotum judges it, against the
// group "users" of the machine's NSS (gid 100 on Debian).
#include <grp.h>

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "policy.hpp"

using namespace p9auth::factotum;

namespace {

Policy installed_policy() {
    std::ifstream in(P9AUTH_DEFAULT_POLICY);
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_TRUE(in.good() || in.eof()) << "cannot read " << P9AUTH_DEFAULT_POLICY;
    auto p = Policy::parse(text.str(), P9AUTH_DEFAULT_POLICY);
    EXPECT_TRUE(p.has_value()) << (p ? "" : p.error().message);
    return p ? *p : Policy{};
}

Decision decide(const Policy& p, const ClientIds& c, const TargetIds& t) {
    auto d = p.decide(c, t);
    EXPECT_TRUE(d.has_value()) << (d ? "" : d.error().message);
    return d ? *d : Decision{};
}

}  // namespace

TEST(FactotumDefaultPolicy, OrdinaryUsersOnlyNeverRootOrSystemAccounts) {
    const group* users = ::getgrnam("users");
    if (!users) GTEST_SKIP() << "no group 'users' on this machine";
    const gid_t u = users->gr_gid;
    Policy p = installed_policy();
    ASSERT_FALSE(p.rules().empty());
    // alice (in users) for herself, for bob (in users); a client outside
    // users (a daemon, p9login) for bob too.
    EXPECT_TRUE(decide(p, {2001, 2001, {2001, u}, std::vector<gid_t>{2001, u}}, {"alice", 2001, {2001, u}}).permit);
    EXPECT_TRUE(decide(p, {2001, 2001, {2001, u}, std::vector<gid_t>{2001, u}}, {"bob", 2002, {2002, u}}).permit);
    EXPECT_TRUE(decide(p, {998, 998, {998}, std::vector<gid_t>{998}}, {"bob", 2002, {2002, u}}).permit);
    // Never root, even a root whose groups include users.
    EXPECT_FALSE(decide(p, {2001, 2001, {2001, u}, std::vector<gid_t>{2001, u}}, {"root", 0, {0, u}}).permit);
    // Never a system account (not in users), nor a name NSS does not know.
    EXPECT_FALSE(decide(p, {2001, 2001, {2001, u}, std::vector<gid_t>{2001, u}}, {"www-data", 33, {33}}).permit);
    EXPECT_FALSE(decide(p, {2001, 2001, {2001, u}, std::vector<gid_t>{2001, u}}, {"nobody", 65534, {65534}}).permit);
    EXPECT_FALSE(decide(p, {2001, 2001, {2001, u}, std::vector<gid_t>{2001, u}}, {"carol", std::nullopt, {}}).permit);
}
