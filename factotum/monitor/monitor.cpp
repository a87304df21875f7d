#include "monitor.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "audit.hpp"
#include "grant.hpp"
#include "guard.hpp"
#include "identity.hpp"
#include "monitor_wire.hpp"
#include "pam_auth.hpp"
#include "privilege.hpp"
#include "secure_buffer.hpp"

namespace p9auth::factotum {
namespace {

using mon::Packet;
using mon::State;
using mon::Type;
using mon::Verdict;
using wire::Refusal;

// Who is asking, read from the connection itself, never from the front's
// words: it must be a connected Unix stream socket accepted on one of
// factotum's listening sockets (not the listening socket, whose
// SO_PEERCRED would name factotum itself; not a socket the front made).
struct Client {
    ClientIds ids;
    pid_t pid = 0;
};

bool identify(int fd, const std::vector<std::string>& addresses, Client* c, std::string* why) {
    int v = 0;
    socklen_t len = sizeof v;
    if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) != 0 || v != AF_UNIX)
        return *why = "not a Unix socket", false;
    len = sizeof v;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) != 0 || v != SOCK_STREAM)
        return *why = "not a stream socket", false;
    len = sizeof v;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) != 0 || v != 0)
        return *why = "a listening socket, not a connection", false;
    const std::string local = unix_address_of(fd);
    if (std::find(addresses.begin(), addresses.end(), local) == addresses.end())
        return *why = "not a connection to factotum's socket", false;
    ucred cred{};
    len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred || cred.pid <= 0)
        return *why = "no peer credentials", false;
    c->ids.uid = cred.uid;
    c->ids.gid = cred.gid;
    c->pid = cred.pid;
    std::vector<gid_t> g(64);
    for (int tries = 0;; ++tries) {
        len = static_cast<socklen_t>(g.size() * sizeof(gid_t));
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g.data(), &len) == 0) {
            g.resize(len / sizeof(gid_t));
            break;
        }
        if (errno != ERANGE || tries == 2 || len / sizeof(gid_t) > 65536) return *why = "no peer groups", false;
        g.resize(len / sizeof(gid_t));
    }
    c->ids.groups = std::move(g);
    return true;
}

// The monitor's end of one channel: each packet admitted by the table in
// the state of the login being served. Answers land in guarded memory and
// are wiped as soon as PAM has them.
class Channel final : public PromptChannel {
public:
    explicit Channel(int fd) : fd_(fd), buf_(mon::kMaxPacket) {}

    // The next packet, admitted in state. false: the front ended the channel
    // (ended()) or broke the table (violation()).
    bool next(State state, Packet* p) {
        awaiting_.reset();
        buf_.wipe();
        int e = mon::recv_packet(fd_, buf_.writable(mon::kMaxPacket), p);
        if (e == ECONNRESET) return ended_ = true, false;
        if (e) return violate(std::string("receiving: ") + std::strerror(e));
        std::string why;
        if (!mon::admit(p->type, p->payload.size(), p->fd >= 0 || p->fd_lost, state, &why)) {
            if (p->fd >= 0) ::close(p->fd);
            return violate(why);
        }
        return true;
    }

    // known, held back until the monitor's next message is ready, so that
    // the front wakes once for both (it logs the request just before the
    // first prompt or the verdict).
    void announce(std::string shown) { known_ = std::move(shown); }

    bool send(Type type, std::string_view payload) {
        if (known_ && type != Type::known) {
            std::string k = std::move(*known_);
            known_.reset();
            if (!send(Type::known, k)) return false;
        }
        int e = mon::send_packet(fd_, type, payload);
        if (e == ECONNRESET) return ended_ = true, false;
        if (e) return violate(std::string("sending: ") + std::strerror(e));
        if (type == Type::prompt) awaiting_ = State::prompted;
        if (type == Type::tell) awaiting_ = State::telling;
        return true;
    }
    // The state of a reply the front owes (after a prompt or tell,
    // before next() took it); nullopt when the monitor has the turn.
    std::optional<State> awaiting() const { return awaiting_; }

    Error ask(wire::Msg type, std::string_view text, SecureBuffer& answer) override {
        if (!send(Type::prompt, with_type(type, text))) return fail(EPROTO, "the front's channel broke");
        Packet p;
        if (!next(State::prompted, &p)) return fail(EPROTO, "the front's channel broke");
        if (p.type == Type::answer) {
            auto dst = answer.writable(p.payload.size());
            std::copy(p.payload.begin(), p.payload.end(), dst.begin());
            buf_.wipe();
            return {};
        }
        return front_error(p, true);  // no_answer
    }

    Error tell(wire::Msg type, std::string_view text) override {
        if (!send(Type::tell, with_type(type, text))) return fail(EPROTO, "the front's channel broke");
        Packet p;
        if (!next(State::telling, &p)) return fail(EPROTO, "the front's channel broke");
        return front_error(p, false);  // told: errno 0 when the client has it
    }

    bool broken() const { return ended_ || !violation_.empty(); }
    bool ended() const { return ended_; }
    const std::string& violation() const { return violation_; }

    bool violate(std::string why) {
        if (violation_.empty()) violation_ = std::move(why);
        return false;
    }

private:
    static std::string with_type(wire::Msg type, std::string_view text) {
        std::string s(1, static_cast<char>(type));
        s.append(text.substr(0, wire::kMaxText));
        return s;
    }

    // The errno byte the front reports, with its account of what happened
    // (printable ASCII only: it goes to the log).
    Error front_error(const Packet& p, bool failed) {
        const int e = p.payload[0];
        if (e == 0) {
            if (!failed) return {};
            violate("'no_answer' without an errno");  // no answer, yet no failure: not a front as built
            return fail(EPROTO, "'no_answer' without an errno");
        }
        std::string what;
        for (std::size_t i = 1; i < p.payload.size(); ++i) {
            char c = static_cast<char>(p.payload[i]);
            what.push_back(c >= 0x20 && c < 0x7f ? c : '?');
        }
        return fail(e, what.empty() ? std::strerror(e) : what);
    }

    int fd_;
    SecureBuffer buf_;
    bool ended_ = false;
    std::string violation_;
    std::optional<State> awaiting_;
    std::optional<std::string> known_;
};

// One login on a channel, from the lookup to the verdict.
struct Login {
    mon::Begin asked;
    Client client;
    TargetIds target;
    std::optional<identity::User> user;  // the target's passwd entry, when NSS has one
    Verdict v;

    void refuse(Refusal r, std::string reason, std::string to_client) {
        v.refusal = r;
        v.reason = std::move(reason);
        v.to_client = std::move(to_client);
    }
    // A module (NSS, PAM) made a call the filter refused: whatever it
    // concluded from the EPERM, this login is not trusted to a grant.
    bool trapped(const char* during) {
        Trap tr = seccomp_take_trap();
        if (tr.nr < 0) return false;
        const std::string name = syscall_name(tr.nr);
        refuse(Refusal::internal, "seccomp (forbidden system call " + name + " during " + during + ")",
               "a PAM or NSS module made a system call factotum forbids (" + name + "); see factotum's log");
        return true;
    }
    std::string where() const {
        return "rhost=" + (asked.origin.rhost.empty() ? "-" : asked.origin.rhost) +
               " tty=" + (asked.origin.tty.empty() ? "-" : asked.origin.tty);
    }
};

// After the front's go: the policy, PAM, and the grant. Fills l.v.
void authenticate_and_grant(const Policy& policy, const MonitorSettings& settings, std::mutex& grant_mu, Channel& ch,
                            Login& l) {
    // The client as NSS knows it: its name for PAM_RUSER and, when a rule
    // names a client group, the groups its uid gets at login, which a user
    // namespace cannot drop (policy.hpp, ClientIds).
    auto client_user = identity::user_by_uid(l.client.ids.uid);
    if (client_user && *client_user && policy.judges_client_groups()) {
        auto groups = identity::login_groups(**client_user);
        if (groups)
            l.client.ids.login_groups = std::move(*groups);
        else
            client_user = groups.error();
    }
    if (!client_user)
        return l.refuse(Refusal::internal, "nss (the client: " + client_user.error().message + ")",
                        "the user database could not be read; see factotum's log");
    const std::string client_name = *client_user ? (*client_user)->name : std::string();
    auto d = policy.decide(l.client.ids, l.target);
    if (l.trapped("the policy's lookups")) return;
    if (!d)  // a name in a rule could not be looked up: fail closed
        return l.refuse(Refusal::internal, "nss (policy " + d.error().message + ")",
                        "the user database could not be read; see factotum's log");
    if (!d->permit)
        return l.refuse(Refusal::not_permitted,
                        d->line ? "policy (line " + std::to_string(d->line) + ")" : "policy (no rule)", "");

    PamResult r = pam_check(settings.pam_service, l.asked.target, client_name, l.asked.origin, ch);
    if (ch.broken() || l.trapped("PAM")) return;
    switch (r.outcome) {
        case PamOutcome::ok: break;
        case PamOutcome::auth_failed:
            l.v.throttle = Verdict::Throttle::failed;
            return l.refuse(Refusal::auth_failed, "auth (" + r.detail() + ")", "");
        case PamOutcome::account: return l.refuse(Refusal::account, "account (" + r.detail() + ")", r.message);
        case PamOutcome::unavailable:  // nothing was checked: not a failure of the client's
            return l.refuse(Refusal::internal, "unavailable (" + r.detail() + ")",
                            "the authentication service is unavailable; try later");
        case PamOutcome::client_error: {
            // What broke: the conversation function's own finding, or the front's account of the client.
            const std::string& what = r.conversation.message;
            if (r.conversation.errnum == EPROTO)  // PAM never saw an answer: no guess, no charge
                return l.refuse(Refusal::protocol, "protocol (" + what + ")", what);
            // Walking away after an answer counts as a failure: the answer may
            // have been a guess whose verdict showed in what PAM sent next.
            if (r.answers > 0) l.v.throttle = Verdict::Throttle::failed;
            if (r.conversation.errnum == ETIMEDOUT)
                return l.refuse(Refusal::timeout, "timeout (" + what + ")", "no answer in time");
            l.v.quiet = true;
            return l.refuse(Refusal::internal,
                            "client gone (" + what + ": " + std::strerror(r.conversation.errnum) + ")", "");
        }
        case PamOutcome::error:
            return l.refuse(Refusal::internal, "pam error (" + r.detail() + ")",
                            "authentication could not run; see factotum's log");
    }
    l.v.throttle = Verdict::Throttle::succeeded;

    if (!l.user)  // PAM knew the user but NSS does not: nothing to grant
        return l.refuse(Refusal::internal, "nss (no passwd entry after PAM success)", "no such user in NSS");
    // The one text of a login's capability, as p9grant makes it
    // (identity.hpp), from the groups the policy judged.
    auto to = identity::login_target(*l.user, l.target.groups);
    if (!to)
        return l.refuse(
            Refusal::internal, "nss (" + to.error().message + ")",
            to.error().errnum == E2BIG ? "target has too many groups" : "the user database could not be read");
    NewGrant g = make_grant(l.client.ids.uid, *to);
    {
        std::lock_guard lock(grant_mu);
        ssize_t n = ::write(settings.caphash_fd, g.hash.bytes().data(), g.hash.size());
        if (n != static_cast<ssize_t>(g.hash.size())) {
            int e = n < 0 ? errno : EIO;
            return l.refuse(Refusal::internal, std::string("grant (write caphash: ") + std::strerror(e) + ")",
                            "the grant failed; see factotum's log");
        }
    }
    l.v.granted = true;
    const std::string to_text = format_target(*to);
    l.v.capability = std::move(g.capability);
    // The grant's record is the monitor's: the one that wrote the hash says so.
    audit(LOG_NOTICE, "grant client_uid=%u client_pid=%d target=%s to=%s %s", l.client.ids.uid, l.client.pid,
          l.v.shown.c_str(), to_text.c_str(), l.where().c_str());
}

bool send_verdict(Channel& ch, const Verdict& v) {
    std::string out = mon::encode_verdict(v);
    const bool sent = ch.send(Type::verdict, out);
    secure_zero(out.data(), out.size());
    return sent;
}

}  // namespace

std::string unix_address_of(int fd) {
    sockaddr_un a{};
    socklen_t len = sizeof a;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0 || a.sun_family != AF_UNIX ||
        len <= offsetof(sockaddr_un, sun_path))
        return {};
    std::string s(a.sun_path, len - offsetof(sockaddr_un, sun_path));
    if (!s.empty() && s[0] != '\0') s = s.c_str();  // a path: up to its NUL
    return s;
}

Monitor::Monitor(MonitorSettings settings, Policy policy)
    : settings_(std::move(settings)), policy_(std::make_shared<const Policy>(std::move(policy))) {}

std::shared_ptr<const Policy> Monitor::current_policy() {
    std::lock_guard lock(policy_mu_);
    return policy_;
}

void Monitor::set_policy(Policy policy) {
    auto p = std::make_shared<const Policy>(std::move(policy));
    std::lock_guard lock(policy_mu_);
    policy_ = std::move(p);
}

std::size_t Monitor::policy_rules() { return current_policy()->rules().size(); }

int Monitor::serve(int chan) {
    Channel ch(chan);
    auto stop = [&] {
        if (ch.ended()) return 0;
        audit(LOG_CRIT, "monitor: the front broke the protocol (%s); stopping factotum", ch.violation().c_str());
        return EPROTO;
    };
    for (;;) {
        Packet p;
        if (!ch.next(State::idle, &p)) return stop();
        if (p.type == Type::lookup) {  // a name to show, for a login the front refused itself
            const std::string name(reinterpret_cast<const char*>(p.payload.data()), p.payload.size());
            if (!wire::valid_user_name(name)) {
                ch.violate("lookup: malformed user name");
                return stop();
            }
            bool shown = false;
            Caught x = catch_all([&] {
                auto user = identity::user_by_name(name);
                shown = user && *user;
            });
            if (x.thrown) audit(LOG_ERR, "monitor: %s during a lookup; serving on", x.what);
            // A name NSS does not know may be a password typed as a user name.
            if (!ch.send(Type::known, shown ? name : "?(unknown)")) return stop();
            continue;
        }
        Login l;
        if (p.fd_lost) {  // out of descriptors here: nobody can tell who asks
            l.v.shown = "-";
            l.refuse(Refusal::internal, "monitor out of descriptors (the client's connection could not be received)",
                     "factotum is out of resources; try later");
            if (!send_verdict(ch, l.v)) return stop();
            continue;
        }
        std::string why;
        auto asked = mon::decode_begin({reinterpret_cast<const char*>(p.payload.data()), p.payload.size()}, &why);
        bool identified = asked && identify(p.fd, settings_.socket_addresses, &l.client, &why);
        // Held, never read or written, until the login ends.
        struct Closer {
            int fd;
            ~Closer() { ::close(fd); }
        } client_fd{p.fd};
        if (!identified) {
            ch.violate("begin: " + why);
            return stop();
        }
        // The login itself; whatever it throws (bad_alloc under a lookup,
        // a mutex's system_error) is its refusal, and the channel goes on.
        Caught x = catch_all([&] {
            l.asked = std::move(*asked);
            l.target.name = l.asked.target;
            // The target as NSS knows it (identity.hpp): found, absent, or
            // failed. A lookup that failed is never taken for "no such user".
            Error nss_error;
            auto user = identity::user_by_name(l.asked.target);
            if (!user) nss_error = user.error();
            if (user && *user) {
                l.user = **user;
                l.target.uid = l.user->uid;
                if (auto groups = identity::login_groups(*l.user))
                    l.target.groups = std::move(*groups);
                else
                    nss_error = groups.error();
            }
            // A name NSS does not know may be a password typed as a user name:
            // it never reaches the log. The policy and PAM still see it as asked.
            l.v.shown = l.user ? l.asked.target : "?(unknown)";
            // For the front's record of the request; the monitor goes on
            // without waiting (the front's own checks came before begin).
            ch.announce(l.v.shown);
            if (l.trapped("the user lookup")) {
            } else if (nss_error) {
                // NSS could not answer (not the same as "no such user"): nobody
                // can tell what the policy would say. Refused, not charged.
                l.refuse(Refusal::internal, "nss (" + nss_error.message + ")",
                         "the user database could not be read; see factotum's log");
            } else {
                authenticate_and_grant(*current_policy(), settings_, grant_mu_, ch, l);
            }
        });
        if (x.thrown) {
            if (ch.broken()) return stop();
            audit(LOG_ERR, "monitor: %s during a login; refused, serving on", x.what);
            // The front may owe a reply to what was sent before the throw:
            // take it first, so that both sides are at the verdict.
            if (auto owed = ch.awaiting())
                if (!ch.next(*owed, &p)) return stop();
            l.v.granted = false;
            l.v.capability.clear();
            l.v.throttle = Verdict::Throttle::none;
            l.v.quiet = false;
            if (l.v.shown.empty()) l.v.shown = "-";
            l.refuse(Refusal::internal, std::string("internal (") + x.what + ")", "internal error; see factotum's log");
        }
        if (ch.broken()) return stop();
        if (!send_verdict(ch, l.v)) return stop();
    }
}

}  // namespace p9auth::factotum
