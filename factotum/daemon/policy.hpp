// factotum.conf(5): which clients may ask for which targets. Read once at
// start, after its owner and mode are checked (as doas checks doas.conf).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "error.hpp"

namespace p9auth::factotum {

// One side of a rule: "*", a user (name or uid), or ":group" (name or gid).
struct Identity {
    enum class Kind { any, user, group } kind = Kind::any;
    std::string name;             // as written, without the ':'
    std::optional<unsigned> id;   // when written as a number
};

struct Rule {
    bool permit = false;
    Identity client;
    Identity target;
    int line = 0;
};

// Who asks: from SO_PEERCRED and SO_PEERGROUPS, never from the client's words.
struct ClientIds {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
};

// Who the client wants to become; uid and groups are absent when NSS does not know the name.
struct TargetIds {
    std::string name;
    std::optional<uid_t> uid;
    std::vector<gid_t> groups;  // primary and supplementary, from NSS
};

struct Decision {
    bool permit = false;
    int line = 0;  // the deciding rule, 0 when none matched (deny)
};

class Policy {
public:
    // Refuses a file that is not a regular file owned by root and writable
    // by root alone, or larger than 1 MiB, before reading a byte of it.
    static Expected<Policy> load(const std::string& path);
    static Expected<Policy> parse(std::string_view text, const std::string& origin);

    // The last matching rule decides; none matching denies. A target of
    // uid 0 matches only a rule that names it as a user (root or 0).
    Decision decide(const ClientIds& client, const TargetIds& target) const;
    std::size_t size() const { return rules_.size(); }
    const std::vector<Rule>& rules() const { return rules_; }

private:
    std::vector<Rule> rules_;
};

}  // namespace p9auth::factotum
