#include "policy.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <sstream>

#include "config.hpp"
#include "identity.hpp"

namespace p9auth::factotum {
namespace {

constexpr std::size_t kMaxPolicyFile = 1 << 20;

std::optional<unsigned> parse_id(std::string_view s) {
    if (s.empty() || s.size() > 10 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v == 4294967295u) return std::nullopt;
    return v;
}

bool valid_name(std::string_view s) {
    if (s.empty() || s.size() > 256 || s[0] == '-') return false;
    return std::all_of(s.begin(), s.end(),
                       [](unsigned char c) { return c > 0x20 && c < 0x7f && c != ':' && c != '/'; });
}

Expected<Identity> parse_identity(std::string_view word) {
    Identity id;
    if (word == "*") return id;
    id.kind = Identity::Kind::user;
    if (word.front() == ':') {
        id.kind = Identity::Kind::group;
        word.remove_prefix(1);
    }
    if (!valid_name(word)) return fail(EINVAL, "'" + std::string(word) + "' is not a user or group name");
    id.name = std::string(word);
    id.id = parse_id(word);
    return id;
}

// Matching one side of a rule against NSS: true or false, or, when a name
// in the rule cannot be looked up, false with *err set (the decision fails).
bool user_is(const Identity& id, uid_t uid, Error* err) {
    if (id.id) return *id.id == uid;
    auto u = identity::user_by_name(id.name);
    if (!u) {
        *err = u.error();
        return false;
    }
    return *u && (*u)->uid == uid;
}

std::optional<gid_t> group_id(const Identity& id, Error* err) {
    if (id.id) return *id.id;
    auto g = identity::group_by_name(id.name);
    if (!g) {
        *err = g.error();
        return std::nullopt;
    }
    if (!*g) return std::nullopt;  // no such group: nobody is in it
    return (*g)->gid;
}

bool has(const std::vector<gid_t>& groups, gid_t g) {
    return std::find(groups.begin(), groups.end(), g) != groups.end();
}

bool client_in_group(const Identity& id, bool permit, const ClientIds& c, Error* err) {
    const std::optional<gid_t> g = group_id(id, err);
    if (!g) return false;
    // A permit needs NSS's word; NSS's silence (no passwd entry) is no word.
    if (permit) return c.login_groups && has(*c.login_groups, *g);
    // A deny holds on either: the groups held now, or those NSS gives the
    // uid (which a user namespace cannot drop), or NSS not knowing the uid.
    return !c.login_groups || has(*c.login_groups, *g) || c.gid == *g || has(c.groups, *g);
}

bool client_matches(const Rule& r, const ClientIds& c, Error* err) {
    switch (r.client.kind) {
        case Identity::Kind::any: return true;
        case Identity::Kind::user: return user_is(r.client, c.uid, err);
        case Identity::Kind::group: return client_in_group(r.client, r.permit, c, err);
    }
    return false;
}

bool target_matches(const Identity& id, const TargetIds& t, Error* err) {
    bool root = t.uid && *t.uid == 0;
    switch (id.kind) {
        case Identity::Kind::any: return !root;  // root only when a rule names it
        case Identity::Kind::user:
            if (!t.uid) return !id.id && id.name == t.name;
            return user_is(id, *t.uid, err);
        case Identity::Kind::group: {
            if (root || !t.uid) return false;
            const std::optional<gid_t> g = group_id(id, err);
            return g && has(t.groups, *g);
        }
    }
    return false;
}

}  // namespace

Expected<Policy> Policy::load(const std::string& path) {
    // The same checks as p9auth.conf's (config.hpp): root's file in root's directories.
    auto text = read_root_owned_file(path, kMaxPolicyFile, "policy");
    if (!text) return text.error();
    return parse(*text, path);
}

Expected<Policy> Policy::parse(std::string_view text, const std::string& origin) {
    Policy p;
    int lineno = 0;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        std::size_t nl = text.find('\n', pos);
        std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
        ++lineno;
        if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
        std::vector<std::string> words;
        std::istringstream in{std::string(line)};
        for (std::string w; in >> w;) words.push_back(w);
        if (words.empty()) continue;
        auto where = origin + ":" + std::to_string(lineno) + ": ";
        if (words.size() != 4 || (words[0] != "permit" && words[0] != "deny") || words[2] != "as")
            return fail(EINVAL, where + "expected 'permit|deny CLIENT as TARGET'");
        auto client = parse_identity(words[1]);
        if (!client) return fail(EINVAL, where + "client: " + client.error().message);
        auto target = parse_identity(words[3]);
        if (!target) return fail(EINVAL, where + "target: " + target.error().message);
        p.rules_.push_back(Rule{words[0] == "permit", *client, *target, lineno});
    }
    return p;
}

Expected<Decision> Policy::decide(const ClientIds& client, const TargetIds& target) const {
    Decision d;
    for (const Rule& r : rules_) {
        Error err;
        const bool matches = client_matches(r, client, &err) && target_matches(r.target, target, &err);
        if (err) return fail(err.errnum, "line " + std::to_string(r.line) + ": " + err.message);
        if (matches) d = Decision{r.permit, r.line};
    }
    return d;
}

bool Policy::judges_client_groups() const {
    return std::any_of(rules_.begin(), rules_.end(),
                       [](const Rule& r) { return r.client.kind == Identity::Kind::group; });
}

}  // namespace p9auth::factotum
