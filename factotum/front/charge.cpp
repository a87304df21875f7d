#include "charge.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "identity.hpp"

namespace p9auth::factotum {
namespace {

constexpr off_t kMaxFile = 16 << 20;  // far beyond any real /etc/subuid; a bound on what a reread may allocate

bool parse_number(std::string_view s, std::uint64_t* out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}

bool same_file(const struct stat& a, const struct stat& b) {
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size &&
           a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
           a.st_ctim.tv_sec == b.st_ctim.tv_sec && a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

}  // namespace

std::vector<SubordinateRange> parse_subordinate_ranges(std::string_view text, const OwnerLookup& resolve,
                                                       SubordinateCounts* counts) {
    std::vector<SubordinateRange> out;
    *counts = {};
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (line.empty() || line.front() == '#') continue;
        auto c1 = line.find(':');
        auto c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
        std::uint64_t first = 0, count = 0;
        if (c2 == std::string_view::npos || c1 == 0 || line.find(':', c2 + 1) != std::string_view::npos ||
            !parse_number(line.substr(c1 + 1, c2 - c1 - 1), &first) || !parse_number(line.substr(c2 + 1), &count) ||
            first > 0xffffffffu) {
            ++counts->malformed;
            continue;
        }
        if (count == 0) continue;
        std::string who(line.substr(0, c1));
        std::uint64_t id = 0;
        std::optional<uid_t> owner;
        if (parse_number(who, &id)) {
            if (id < 0xffffffffu) owner = static_cast<uid_t>(id);
        } else if (auto found = resolve(who); !found) {
            ++counts->unresolved;
            if (counts->nss_error.empty()) counts->nss_error = found.error().message;
            owner = static_cast<uid_t>(first);
        } else {
            owner = *found;
        }
        if (!owner) {
            ++counts->unknown;
            continue;
        }
        out.push_back({first, std::min<std::uint64_t>(first + count, std::uint64_t{1} << 32), *owner});
    }
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<SubordinateRange> disjoint;
    for (auto r : out) {
        if (!disjoint.empty() && r.first < disjoint.back().end) r.first = disjoint.back().end;
        if (r.first < r.end) disjoint.push_back(r);
    }
    return disjoint;
}

uid_t charged_uid(const std::vector<SubordinateRange>& ranges, uid_t uid) {
    auto it = std::upper_bound(ranges.begin(), ranges.end(), std::uint64_t{uid},
                               [](std::uint64_t u, const SubordinateRange& r) { return u < r.first; });
    if (it == ranges.begin()) return uid;
    --it;
    return uid < it->end ? it->owner : uid;
}

void ChargeTable::refresh(std::string* note) {
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0) {
        if (errno == ENOENT) {  // no subordinate ranges: nobody but root can map a namespace beyond their own uid
            if (!loaded_ || seen_.st_ino != 0) {
                ranges_.clear();
                seen_ = {};
                loaded_ = true;
                failing_ = false;
                *note = path_ + ": absent; every connection is charged to its own uid";
            }
            return;
        }
        if (!failing_) *note = "stat " + path_ + ": " + std::strerror(errno);
        failing_ = true;
        return;
    }
    if (loaded_ && seen_.st_ino != 0 && same_file(st, seen_) &&
        (!retry_at_ || std::chrono::steady_clock::now() < *retry_at_))
        return;
    int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    std::string why;
    std::string text;
    struct stat opened {};
    if (fd < 0) {
        why = std::string("open: ") + std::strerror(errno);
    } else if (::fstat(fd, &opened) != 0 || !S_ISREG(opened.st_mode)) {
        why = "not a regular file";
    } else if (opened.st_size > kMaxFile) {
        why = "larger than " + std::to_string(kMaxFile) + " bytes";
    } else {
        text.resize(static_cast<std::size_t>(opened.st_size));
        std::size_t have = 0;
        while (have < text.size()) {
            ssize_t n = ::read(fd, text.data() + have, text.size() - have);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                why = n < 0 ? std::string("read: ") + std::strerror(errno) : "changed while read";
                break;
            }
            have += static_cast<std::size_t>(n);
        }
    }
    if (fd >= 0) ::close(fd);
    if (!why.empty()) {
        if (!failing_) *note = path_ + ": " + why + (loaded_ ? "; keeping the ranges read before" : "");
        failing_ = true;
        return;
    }
    auto owner = [](const std::string& name) -> Expected<std::optional<uid_t>> {
        auto u = identity::user_by_name(name);
        if (!u) return u.error();
        return *u ? std::optional((*u)->uid) : std::nullopt;
    };
    SubordinateCounts n;
    ranges_ = parse_subordinate_ranges(text, owner, &n);
    seen_ = opened;
    loaded_ = true;
    failing_ = false;
    retry_at_.reset();
    if (n.unresolved) retry_at_ = std::chrono::steady_clock::now() + kRetryUnresolved;
    *note = path_ + ": " + std::to_string(ranges_.size()) + " subordinate uid ranges charged to their owners";
    if (n.unknown) *note += "; " + std::to_string(n.unknown) + " lines name an owner NSS does not know (skipped)";
    if (n.unresolved)
        *note += "; " + std::to_string(n.unresolved) + " lines name an owner NSS could not look up (" + n.nss_error +
                 "): each such range is charged as one uid, its first; read again in " +
                 std::to_string(kRetryUnresolved.count()) + "s";
    if (n.malformed) *note += "; " + std::to_string(n.malformed) + " malformed lines (skipped)";
}

std::optional<uid_t> ChargeTable::charge(uid_t uid, std::string* note) {
    note->clear();
    refresh(note);
    if (!loaded_) return std::nullopt;
    return charged_uid(ranges_, uid);
}

}  // namespace p9auth::factotum
