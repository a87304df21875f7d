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
    std::string name;            // as written, without the ':'
    std::optional<unsigned> id;  // when written as a number
};

struct Rule {
    bool permit = false;
    Identity client;
    Identity target;
    int line = 0;
};

// Who asks: from SO_PEERCRED and SO_PEERGROUPS, never from the client's
// words, and what NSS says of that uid. A rule on a client group matches a
// deny when either the peer or NSS has the group, a permit only when NSS
// says so (docs/decisions.md 68): a client that drops groups in a user
// namespace escapes no deny, and one that gained a group without the user
// database (newgrp, a set-gid program) gets no permit from it.
struct ClientIds {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;  // the peer's supplementary groups as it holds them now
    // The uid's login groups from NSS (identity::login_groups); nullopt when
    // NSS has no passwd entry for the uid: then every deny on a client group
    // matches and no permit on one does. Needed only when
    // Policy::judges_client_groups().
    std::optional<std::vector<gid_t>> login_groups;
};

// Who the client wants to become; uid and groups are absent when NSS does not know the name.
struct TargetIds {
    std::string name;
    std::optional<uid_t> uid;
    std::vector<gid_t> groups;  // the login groups, primary included, from NSS (identity::login_groups)
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
    // An error when a name in a rule could not be looked up (NSS failed):
    // nobody can tell what the rule would say, so the caller refuses.
    Expected<Decision> decide(const ClientIds& client, const TargetIds& target) const;
    // Whether some rule names a client group: only then does the caller
    // need ClientIds::login_groups.
    bool judges_client_groups() const;
    const std::vector<Rule>& rules() const { return rules_; }

private:
    std::vector<Rule> rules_;
};

}  // namespace p9auth::factotum
