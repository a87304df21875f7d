// The capability text: round trips and every malformed form (docs/spec.md section 1).
#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "capability.hpp"

namespace p9auth {
namespace {

const std::string kKey = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";  // 43 chars

TEST(Capability, RoundTripsEveryForm) {
    for (std::string to : {"2002", "2002:2002", "2002:2002:3001", "2002:2002:3001,3002,0", "0:0", "4294967294:1:2"}) {
        const std::string text = "2001@" + to + "@" + kKey;
        auto cap = parse_capability(text);
        ASSERT_TRUE(cap) << text << ": " << cap.error().message;
        EXPECT_EQ(format_capability(*cap).view(), text);
        EXPECT_EQ(signed_part(cap->from, cap->to), "2001@" + to);
    }
}

TEST(Capability, FormsMeanWhatTheSpecSays) {
    auto bare = parse_capability("1@2@" + kKey);
    ASSERT_TRUE(bare);
    EXPECT_TRUE(bare->to.bare());
    auto nogroups = parse_capability("1@2:3@" + kKey);
    ASSERT_TRUE(nogroups);
    EXPECT_FALSE(nogroups->to.bare());
    EXPECT_EQ(*nogroups->to.gid, 3u);
    EXPECT_TRUE(nogroups->to.groups.empty());
    auto full = parse_capability("1@2:3:4,5@" + kKey);
    ASSERT_TRUE(full);
    EXPECT_EQ(full->to.groups, (std::vector<gid_t>{4, 5}));
}

TEST(Capability, OneTrailingNewlineIsIgnored) {
    auto cap = parse_capability("1@2@" + kKey + "\n");
    ASSERT_TRUE(cap);
    EXPECT_EQ(cap->key.view(), kKey);
    EXPECT_FALSE(parse_capability("1@2@" + kKey + "\n\n"));
}

TEST(Capability, EveryMalformedFormIsEinvalAndNeverShowsTheKey) {
    const std::string groups1025 = [] {
        std::string s = "0";
        for (int i = 1; i < 1025; ++i) s += "," + std::to_string(i);
        return s;
    }();
    const std::string cases[] = {
        "",
        "\n",
        "1@2",
        "1@2" + kKey,
        "@2@" + kKey,
        "1@@" + kKey,
        "1@2@",
        "1@2@3@" + kKey,
        "01@2@" + kKey,
        "1@02@" + kKey,
        "+1@2@" + kKey,
        "-1@2@" + kKey,
        " 1@2@" + kKey,
        "1 @2@" + kKey,
        "1@2 @" + kKey,
        "4294967295@2@" + kKey,
        "1@4294967295@" + kKey,
        "99999999999@2@" + kKey,
        "1@2:4294967295@" + kKey,
        "1@2:@" + kKey,
        "1@2:3:@" + kKey,
        "1@2:3:4,@" + kKey,
        "1@2:3:,4@" + kKey,
        "1@2:3:4,,5@" + kKey,
        "1@2:3:4:5@" + kKey,
        "1@2:3:04@" + kKey,
        "1@:3@" + kKey,
        "1@2:3:" + groups1025 + "@" + kKey,
        "1@2@" + std::string(21, 'k'),
        "1@2@" + std::string(257, 'k'),
        "1@2@" + kKey + " ",
        "1@2@" + kKey.substr(0, 30) + "\t" + kKey.substr(30),
        "1@2@" + kKey.substr(0, 30) + std::string(1, '\0') + kKey.substr(30),
        "1@2@" + kKey.substr(0, 30) + "\x80" + kKey.substr(30),
        "1@2@" + kKey + "\r\n",
        std::string("1@2@") + std::string(1, '\0') + kKey,
        "x@2@" + kKey,
        "1@2:3:" + std::string(20000, '1') + "@" + kKey,
    };
    for (const auto& text : cases) {
        auto cap = parse_capability(text);
        ASSERT_FALSE(cap) << "accepted: " << text.substr(0, 80);
        EXPECT_EQ(cap.error().errnum, EINVAL);
        EXPECT_NE(cap.error().message, "");
        EXPECT_EQ(cap.error().message.find(kKey.substr(0, 22)), std::string::npos) << "key leaked";
    }
}

TEST(Capability, LimitsAreInclusive) {
    std::string groups = "0";
    for (std::size_t i = 1; i < kMaxGroups; ++i) groups += "," + std::to_string(i);
    auto cap = parse_capability("1@2:3:" + groups + "@" + kKey);
    ASSERT_TRUE(cap) << cap.error().message;
    EXPECT_EQ(cap->to.groups.size(), kMaxGroups);
    EXPECT_TRUE(parse_capability("1@2@" + std::string(kMinKey, 'k')));
    EXPECT_TRUE(parse_capability("1@2@" + std::string(kMaxKey, 'k')));
    // The longest valid text (1024 ten-digit groups, the longest key) fits under
    // kMaxCapability; anything longer than kMaxCapability is refused before parsing.
    std::string big = "4294967294";
    for (std::size_t i = 1; i < kMaxGroups; ++i) big += ",4294967294";
    const std::string longest = "4294967294@4294967294:4294967294:" + big + "@" + std::string(kMaxKey, 'k');
    EXPECT_LE(longest.size(), kMaxCapability);
    EXPECT_TRUE(parse_capability(longest));
    auto too_long = parse_capability(std::string(kMaxCapability + 1, '1'));
    ASSERT_FALSE(too_long);
    EXPECT_NE(too_long.error().message.find("longer than"), std::string::npos);
}

TEST(Target, ParseAndFormat) {
    auto t = parse_target("5:6:7,8");
    ASSERT_TRUE(t);
    EXPECT_EQ(format_target(*t), "5:6:7,8");
    EXPECT_FALSE(parse_target(""));
    EXPECT_FALSE(parse_target("5:"));
}

}  // namespace
}  // namespace p9auth
