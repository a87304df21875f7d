// Malformed capabilities written to capuse: EINVAL, the table unchanged
// (spec sections 1 and 4; each refusal counts once in `refused`, section 7).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "p9auth_spec.h"
#include "registry.hpp"
#include "support.hpp"

namespace conformance {
namespace {

struct Bad {
    std::string label;
    std::string text;
};

// Every malformed form built around a genuine, outstanding grant, so that a
// lax parser that "repairs" the text would use the capability up.
std::vector<Bad> malformed(const std::string& key) {
    const std::string& k = key;
    std::string many_groups = "2001@2002:2002:";
    for (int i = 0; i < P9AUTH_MAX_GROUPS + 1; ++i) many_groups += (i ? "," : "") + std::to_string(100000 + i);
    std::string huge_groups = "2001@2002:2002:";
    while (huge_groups.size() <= P9AUTH_MAX_CAPABILITY) huge_groups += "4294967294,";
    huge_groups += "1";
    return {
        {"only a newline", "\n"},
        {"no @", "2001"},
        {"no @ with key", "20012002" + k},
        {"one @", "2001@2002:2002"},
        {"empty FROM", "@2002:2002@" + k},
        {"empty TO", "2001@@" + k},
        {"empty KEY", "2001@2002:2002@"},
        {"leading @", "@2001@2002:2002@" + k},
        {"FROM negative", "-1@2002:2002@" + k},
        {"FROM plus sign", "+2001@2002:2002@" + k},
        {"FROM leading zero", "02001@2002:2002@" + k},
        {"FROM 00", "00@2002:2002@" + k},
        {"FROM hex", "0x7d1@2002:2002@" + k},
        {"FROM letters", "20a1@2002:2002@" + k},
        {"FROM space before", " 2001@2002:2002@" + k},
        {"FROM space after", "2001 @2002:2002@" + k},
        {"FROM 4294967295", "4294967295@2002:2002@" + k},
        {"FROM 4294967296", "4294967296@2002:2002@" + k},
        {"FROM 20 digits", "18446744073709553617@2002:2002@" + k},
        {"FROM with gid", "2001:2001@2002:2002@" + k},
        {"TO uid leading zero", "2001@02002:2002@" + k},
        {"TO uid 4294967295", "2001@4294967295:2002@" + k},
        {"TO uid overflow", "2001@4294969298:2002@" + k},
        {"TO gid 4294967295", "2001@2002:4294967295@" + k},
        {"TO gid leading zero", "2001@2002:02002@" + k},
        {"TO gid empty", "2001@2002:@" + k},
        {"TO empty group list", "2001@2002:2002:@" + k},
        {"TO group 4294967295", "2001@2002:2002:4294967295@" + k},
        {"TO group leading zero", "2001@2002:2002:02100@" + k},
        {"TO group negative", "2001@2002:2002:-1@" + k},
        {"TO empty group", "2001@2002:2002:2100,,2101@" + k},
        {"TO trailing comma", "2001@2002:2002:2100,@" + k},
        {"TO leading comma", "2001@2002:2002:,2100@" + k},
        {"TO fourth part", "2001@2002:2002:2100:1@" + k},
        {"TO space in groups", "2001@2002:2002:2100, 2101@" + k},
        {"TO 1025 groups", many_groups + "@" + k},
        {"oversized text", huge_groups + "@" + k},
        {"oversized blob", std::string(70000, '1')},
        {"key 21 characters", "2001@2002:2002@" + k.substr(0, 21)},
        {"key 257 characters", "2001@2002:2002@" + std::string(P9AUTH_MAX_KEY + 1, 'k')},
        {"key with @", "2001@2002:2002@" + k.substr(0, 20) + "@" + k.substr(20)},
        {"key with space", "2001@2002:2002@" + k.substr(0, 20) + " " + k.substr(20)},
        {"key with tab", "2001@2002:2002@" + k.substr(0, 20) + "\t" + k.substr(20)},
        {"key with DEL", "2001@2002:2002@" + k + "\x7f"},
        {"key with 8-bit byte", "2001@2002:2002@" + k + "\xc3\xa9"},
        {"key with control byte", "2001@2002:2002@" + k + "\x01"},
        {"embedded NUL at end", "2001@2002:2002@" + k + std::string(1, '\0')},
        {"embedded NUL in key", "2001@2002:2002@" + k.substr(0, 22) + std::string(1, '\0') + k.substr(22)},
        {"NUL in FROM", std::string("2001\0", 5) + "@2002:2002@" + k},
        {"two trailing newlines", "2001@2002:2002@" + k + "\n\n"},
        {"CR LF", "2001@2002:2002@" + k + "\r\n"},
        {"leading newline", "\n2001@2002:2002@" + k},
        {"newline inside", "2001@2002:2002\n@" + k},
        {"trailing space", "2001@2002:2002@" + k + " "},
        {"two capabilities", "2001@2002:2002@" + k + "\n2001@2002:2002@" + k},
    };
}

CONFORMANCE_CASE(malformed_capuse, "use/malformed-EINVAL-table-unchanged", kBoth) {
    Mount m;
    const auto to = target(kBob, kBob);
    const Grant g = make(kAlice, to);
    check_errno(m.grant(g.hash), 0, "grant");
    const std::string key = g.capability.substr(g.capability.rfind('@') + 1);
    const Status before = m.status();
    std::uint64_t refused = 0;
    std::string wrong;
    for (const auto& b : malformed(key)) {
        const int e = use_direct(alice(), b.text, m.path()).code;
        if (e != EINVAL) wrong += "; " + b.label + ": " + errno_name(e);
        if (e != 0) ++refused;
    }
    check(wrong.empty(), "writes not refused with EINVAL" + wrong);
    Status want = before;
    want.refused += refused;
    const Status after = m.status();
    check(after == want, "counters " + describe(after) + ", want " + describe(want));
    check_became(use_native(alice(), g.capability, m.path()), expected_after(alice(), to), fuse(),
                 "the genuine capability after the malformed writes");
}

CONFORMANCE_CASE(malformed_before_writer, "use/malformed-checked-before-writer", kBoth) {
    // The first failing check decides: a malformed text from the wrong user is EINVAL.
    Mount m;
    check_errno(use_direct(carol(), "2001@02002@" + std::string(43, 'x'), m.path()).code, EINVAL,
                "malformed text from uid 2003");
    check_errno(use_direct(carol(), "2001@2002@" + std::string(43, 'x'), m.path()).code, EPERM,
                "well-formed text from uid 2003");
}

CONFORMANCE_CASE(empty_write_capuse, "use/zero-length-write-returns-0", kBoth) {
    Mount m;
    const Status before = m.status();
    const UseResult r = use_direct(alice(), "", m.path());
    check_errno(r.code, 0, "zero-length write to capuse");
    check(r.creds && r.creds->uid[0] == kAlice, "the writer changed: " + r.raw);
    check(m.status() == before, "counters " + describe(m.status()) + ", were " + describe(before));
}

}  // namespace
}  // namespace conformance
