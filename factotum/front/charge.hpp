// Whom a connection's limits are charged to. A user namespace whose uids map
// to alice's subordinate range (what newuidmap gives her, from
// /etc/subuid) is 65536 kernel uids, each of which would otherwise get its
// own throttle, grant quota, workers and connections. Only root can map a
// namespace to uids outside the mapper's own uid and its subordinate
// ranges, so a peer uid inside an /etc/subuid range is charged to the
// range's owner, and any other peer uid to itself. No namespace descriptor
// is needed: factotum holds no capability, and the kernel lets it open no
// other user's /proc/PID/ns/user. See docs/decisions.md 57.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "error.hpp"

namespace p9auth::factotum {

struct SubordinateRange {
    std::uint64_t first = 0;  // first subordinate uid
    std::uint64_t end = 0;    // one past the last
    uid_t owner = 0;
};

// What parse_subordinate_ranges left out or could not resolve.
struct SubordinateCounts {
    unsigned unknown = 0;     // lines whose owner NSS says does not exist: skipped
    unsigned unresolved = 0;  // lines whose owner NSS could not look up: charged to the range itself
    unsigned malformed = 0;   // skipped
    std::string nss_error{};  // the first lookup's failure, for the log
};

// An owner's uid; nullopt when NSS says there is no such user; an error
// when it could not say.
using OwnerLookup = std::function<Expected<std::optional<uid_t>>(const std::string&)>;

// Parses /etc/subuid text ("owner:first:count" a line, owner a name or a
// uid; blank lines and lines starting with '#' skipped). Names go through
// resolve. A range whose owner cannot be looked up is charged to its own
// first uid: all its uids share one set of limits until a reread resolves
// the owner (never one set per uid, which is what skipping it would give).
// The result is sorted and its ranges do not overlap: where two overlap,
// the one that starts first keeps the overlap.
std::vector<SubordinateRange> parse_subordinate_ranges(std::string_view text, const OwnerLookup& resolve,
                                                       SubordinateCounts* counts);

// The owner of the range holding uid, or uid itself.
uid_t charged_uid(const std::vector<SubordinateRange>& ranges, uid_t uid);

// The table from a file, reread when the file changes (checked at each
// call: one stat), and every kRetryUnresolved while an owner could not be
// looked up. Event loop only.
class ChargeTable {
public:
    explicit ChargeTable(std::string path = "/etc/subuid") : path_(std::move(path)) {}

    // The uid to charge for a peer of kernel uid `uid`, or nullopt when it
    // cannot be told: the file cannot be read and never could be (fail
    // closed). *note: set to a message for the log when the table was
    // (re)loaded or could not be; empty otherwise.
    std::optional<uid_t> charge(uid_t uid, std::string* note);

    static constexpr std::chrono::seconds kRetryUnresolved{30};

private:
    void refresh(std::string* note);
    const std::string path_;
    bool loaded_ = false;   // ranges_ holds a table read from the file (or its absence)
    bool failing_ = false;  // the last reread failed: logged once until one works
    struct stat seen_ {};   // the file the table came from (st_ino 0: absent)
    // While some owner could not be looked up: when to read the file again
    // though it did not change (a bound on NSS calls while a directory is down).
    std::optional<std::chrono::steady_clock::time_point> retry_at_;
    std::vector<SubordinateRange> ranges_;
};

}  // namespace p9auth::factotum
