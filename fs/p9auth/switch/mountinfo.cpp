#include "mountinfo.hpp"

#include <cerrno>
#include <vector>

#include "p9auth_spec.h"

namespace p9use {
namespace {

using p9auth::fail;

bool octal(char c) { return c >= '0' && c <= '7'; }

// mountinfo escapes ' ', '\t', '\n' and '\\' as octal.
std::string unescape(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() && octal(s[i + 1]) && octal(s[i + 2]) && octal(s[i + 3])) {
            out.push_back(static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
            i += 3;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> v;
    while (true) {
        const auto p = s.find(sep);
        v.push_back(s.substr(0, p));
        if (p == std::string_view::npos) return v;
        s = s.substr(p + 1);
    }
}

bool has_option(std::string_view opts, std::string_view want) {
    for (auto o : split(opts, ','))
        if (o == want) return true;
    return false;
}

}  // namespace

p9auth::Expected<MountLine> find_mount(std::string_view mountinfo, std::uint64_t id) {
    const std::string want = std::to_string(id);
    for (std::string_view line : split(mountinfo, '\n')) {
        const auto f = split(line, ' ');
        if (f.size() < 10 || f[0] != want) continue;
        std::size_t dash = 6;
        while (dash < f.size() && f[dash] != "-") ++dash;
        if (dash + 3 >= f.size()) return fail(EPERM, "cannot parse /proc/self/mountinfo");
        return MountLine{unescape(f[3]), unescape(f[4]), std::string(f[dash + 1]), std::string(f[dash + 3])};
    }
    return fail(EPERM, "mount " + want + " is not in /proc/self/mountinfo");
}

p9auth::Expected<Mode> mode_of(const MountLine& m, const std::string& mountpoint) {
    if (m.fstype == P9AUTH_FS_TYPE) return Mode::kernel;
    if (m.fstype != "fuse." P9AUTH_FUSE_SUBTYPE)
        return fail(EPERM, mountpoint + " is not a p9authfs mount (fstype " + m.fstype + "); is p9authfs running?");
    // user_id is the mounter's uid in the mount's user namespace; fusermount3 shows the user's own.
    if (!has_option(m.superopts, "user_id=0"))
        return fail(EPERM, mountpoint + " is a p9authfs mount not made by root (" + m.superopts +
                               "): refusing it; root must mount p9authfs there");
    return Mode::fuse;
}

}  // namespace p9use
