// docs/spec.md against fs/p9auth/include/p9auth_spec.h: every number and
// name the spec states is read out of the spec's own text and compared
// with the header both implementations build from, so neither can change
// without the other. A pattern that no longer matches the text fails too:
// a reworded spec must be re-read here, not silently skipped.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "../../factotum/client/p9auth.h"
#include "p9auth_spec.h"

// The public client header cannot include the internal one; it states the
// same bound and must keep stating it.
static_assert(P9AUTH_CAPABILITY_MAX == P9AUTH_MAX_CAPABILITY);

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string spec() {
    static const std::string text = read_file(SPEC_TEST_SPEC_MD);
    return text;
}

// The text of "## N. ..." up to the next "## ".
std::string section(int n) {
    const std::string s = spec();
    const std::string head = "\n## " + std::to_string(n) + ". ";
    const auto b = s.find(head);
    if (b == std::string::npos) return {};
    const auto e = s.find("\n## ", b + head.size());
    return s.substr(b, e == std::string::npos ? std::string::npos : e - b);
}

// The capture groups of the one match of re in text; empty (and a test
// failure) when it matches not at all.
std::vector<std::string> match(const std::string& text, const std::string& re) {
    std::smatch m;
    if (!std::regex_search(text, m, std::regex(re))) {
        ADD_FAILURE() << "docs/spec.md no longer says /" << re << "/";
        return std::vector<std::string>(10);
    }
    std::vector<std::string> out;
    for (std::size_t i = 1; i < m.size(); ++i) out.push_back(m[i].str());
    out.resize(10);
    return out;
}

std::uint64_t num(const std::string& s) { return s.empty() ? ~0ull : std::stoull(s, nullptr, 0); }

TEST(Spec, IsReadable) { ASSERT_GT(spec().size(), 1000u) << SPEC_TEST_SPEC_MD; }

TEST(Spec, CapabilityText) {
    const std::string s = section(1);
    ASSERT_FALSE(s.empty());
    auto key = match(s, R"(KEY\s+=\s+(\d+)\*(\d+) keychar)");
    EXPECT_EQ(num(key[0]), P9AUTH_MIN_KEY);
    EXPECT_EQ(num(key[1]), P9AUTH_MAX_KEY);
    auto range = match(s, R"(length of (\d+) to (\d+) characters)");
    EXPECT_EQ(num(range[0]), P9AUTH_MIN_KEY);
    EXPECT_EQ(num(range[1]), P9AUTH_MAX_KEY);
    EXPECT_EQ(num(match(s, R"(canonical decimal, at most (\d+))")[0]), P9AUTH_MAX_ID);
    EXPECT_EQ(num(match(s, R"(never\s+(\d+) \(`\(uid_t\)-1`)")[0]), P9AUTH_MAX_ID + 1ull);
    EXPECT_EQ(num(match(s, R"(At most (\d+) supplementary groups \(`P9AUTH_MAX_GROUPS`\))")[0]), P9AUTH_MAX_GROUPS);
    EXPECT_EQ(num(match(s, R"(at most (\d+) bytes \(`P9AUTH_MAX_CAPABILITY`\))")[0]), P9AUTH_MAX_CAPABILITY);
    auto made = match(s, R"(Keys made by this project are (\d+) random bytes[^(]*\((\d+) characters\))");
    EXPECT_EQ(num(made[0]), P9AUTH_KEY_BYTES);
    EXPECT_EQ(num(made[1]), P9AUTH_KEY_CHARS);
    // Unpadded base64 of KEY_BYTES bytes is this long.
    EXPECT_EQ(P9AUTH_KEY_CHARS, (P9AUTH_KEY_BYTES * 8 + 5) / 6);
}

TEST(Spec, HashLengths) {
    const std::string s2 = section(2);
    EXPECT_EQ(num(match(s2, R"(\| (\d+) bytes \| HMAC-SHA256 \|)")[0]), P9AUTH_HASH_SHA256);
    EXPECT_EQ(num(match(s2, R"(\| (\d+) bytes \| HMAC-SHA1 )")[0]), P9AUTH_HASH_SHA1);
    const std::string s4 = section(4);
    auto exact = match(s4, R"(exactly (\d+) bytes, or exactly (\d+) bytes with\s+`legacy_sha1`)");
    EXPECT_EQ(num(exact[0]), P9AUTH_HASH_SHA256);
    EXPECT_EQ(num(exact[1]), P9AUTH_HASH_SHA1);
    auto cond = match(s4, R"(length is not (\d+) \(or (\d+) with `legacy_sha1`\))");
    EXPECT_EQ(num(cond[0]), P9AUTH_HASH_SHA256);
    EXPECT_EQ(num(cond[1]), P9AUTH_HASH_SHA1);
}

TEST(Spec, FilesAndModes) {
    const std::string s = section(3);
    EXPECT_EQ(num(match(s, "\\| `" P9AUTH_FILE_CAPHASH "` \\| `(0[0-7]+)` \\|")[0]), P9AUTH_MODE_CAPHASH);
    EXPECT_EQ(num(match(s, "\\| `" P9AUTH_FILE_CAPUSE "` \\| `(0[0-7]+)` \\|")[0]), P9AUTH_MODE_CAPUSE);
    EXPECT_EQ(num(match(s, "\\| `" P9AUTH_FILE_STATUS "` \\| `(0[0-7]+)` \\|")[0]), P9AUTH_MODE_STATUS);
    EXPECT_EQ(num(match(s, R"(root directory is `(0[0-7]+)`)")[0]), P9AUTH_MODE_ROOT);
    // No other file: the table's rows are exactly the three names.
    std::set<std::string> names;
    const std::regex row(R"(\n\| `([a-z]+)` \| `0)");
    for (auto it = std::sregex_iterator(s.begin(), s.end(), row); it != std::sregex_iterator(); ++it)
        names.insert((*it)[1].str());
    EXPECT_EQ(names, (std::set<std::string>{P9AUTH_FILE_CAPHASH, P9AUTH_FILE_CAPUSE, P9AUTH_FILE_STATUS}));
}

TEST(Spec, WritePageLimit) {
    const std::string s = section(4);
    EXPECT_EQ(num(match(s, R"(buffers span at most (\d+) pages)")[0]), P9AUTH_MAX_WRITE_PAGES);
    EXPECT_EQ(num(match(s, R"(FUSE carries at most\s+(\d+) pages in one message)")[0]), P9AUTH_MAX_WRITE_PAGES);
    EXPECT_EQ(num(match(s, R"(buffers span more than (\d+) pages)")[0]), P9AUTH_MAX_WRITE_PAGES);
}

TEST(Spec, MountOptions) {
    const std::string s = section(6);
    auto t = match(s, "\\| `" P9AUTH_OPT_TIMEOUT R"(=N` \| [^|]*?, (\d+)\.\.(\d+) \| (\d+) \|)");
    EXPECT_EQ(num(t[0]), P9AUTH_MIN_TIMEOUT);
    EXPECT_EQ(num(t[1]), P9AUTH_MAX_TIMEOUT);
    EXPECT_EQ(num(t[2]), P9AUTH_DEFAULT_TIMEOUT);
    auto m = match(s, "\\| `" P9AUTH_OPT_MAXCAPS R"(=N` \| [^|]*?, (\d+)\.\.(\d+) \| (\d+) \|)");
    EXPECT_EQ(num(m[0]), P9AUTH_MIN_MAXCAPS);
    EXPECT_EQ(num(m[1]), P9AUTH_MAX_MAXCAPS);
    EXPECT_EQ(num(m[2]), P9AUTH_DEFAULT_MAXCAPS);
    // The table names exactly the header's options.
    std::set<std::string> names;
    const std::regex row(R"(\n\| `([a-z_0-9]+)(=N)?` \|)");
    for (auto it = std::sregex_iterator(s.begin(), s.end(), row); it != std::sregex_iterator(); ++it)
        names.insert((*it)[1].str());
    EXPECT_EQ(names, (std::set<std::string>{P9AUTH_OPT_TIMEOUT, P9AUTH_OPT_MAXCAPS, P9AUTH_OPT_GRANT_UID,
                                            P9AUTH_OPT_GRANT_GID, P9AUTH_OPT_GRANT_ONCE, P9AUTH_OPT_LEGACY_SHA1}));
}

TEST(Spec, StatusShowsTheOptionNames) {
    const std::string s = section(7);
    // The example's values are the defaults.
    EXPECT_EQ(num(match(s, "\n +" P9AUTH_OPT_MAXCAPS R"( (\d+)\n)")[0]), P9AUTH_DEFAULT_MAXCAPS);
    EXPECT_EQ(num(match(s, "\n +" P9AUTH_OPT_TIMEOUT R"( (\d+)\n)")[0]), P9AUTH_DEFAULT_TIMEOUT);
}

TEST(Spec, FilesystemIdentity) {
    const std::string s = section(10);
    auto fuse = match(s, R"(\| FUSE \| `fuse\.([a-z0-9]+)` \| `(0x[0-9a-f]+)` )");
    EXPECT_EQ(fuse[0], P9AUTH_FUSE_SUBTYPE);
    EXPECT_EQ(num(fuse[1]), P9AUTH_FUSE_SUPER_MAGIC);
    auto ko = match(s, R"re(\| kernel \| `([a-z0-9]+)` \| `(0x[0-9a-f]+)` \(`P9AUTH_SUPER_MAGIC`, "([a-z0-9]+)"\))re");
    EXPECT_EQ(ko[0], P9AUTH_FS_TYPE);
    EXPECT_EQ(num(ko[1]), P9AUTH_SUPER_MAGIC);
    // "p9au": the magic's bytes, most significant first.
    std::string ascii;
    for (int shift = 24; shift >= 0; shift -= 8)
        ascii.push_back(static_cast<char>((P9AUTH_SUPER_MAGIC >> shift) & 0xff));
    EXPECT_EQ(ko[2], ascii);
}

// The header is the only definition: no source that builds from it defines
// one of its names again (a copy that could drift).
TEST(Spec, NoOtherDefinitions) {
    const std::string header = read_file(SPEC_TEST_HEADER);
    std::set<std::string> names;
    const std::regex def(R"(\n#define (P9AUTH_[A-Z0-9_]+))");
    for (auto it = std::sregex_iterator(header.begin(), header.end(), def); it != std::sregex_iterator(); ++it)
        names.insert((*it)[1].str());
    names.erase("P9AUTH_SPEC_H");
    ASSERT_GT(names.size(), 20u);
    for (const char* file : {SPEC_TEST_KERNEL_C, SPEC_TEST_SMOKE_C}) {
        const std::string text = read_file(file);
        ASSERT_FALSE(text.empty()) << file;
        EXPECT_NE(text.find("#include \"p9auth_spec.h\""), std::string::npos) << file;
        for (const auto& n : names)
            EXPECT_FALSE(std::regex_search(text, std::regex("#define\\s+" + n + "\\b")))
                << file << " defines " << n << " again";
    }
}

}  // namespace
