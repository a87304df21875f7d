// Failed authentications, counted per (client, target), per client, and per
// target across all clients. A client is a ThrottleKey: the uid the
// connection is charged to (its own, or the owner of the subordinate range
// it comes from: charge.hpp) and, for a client trusted to say where its
// logins come from (p9logind), the remote host it names.
//
//   - A (client, target) pair is locked after per_pair failures.
//   - A client is locked for every target after per_client failures (one
//     client spraying one password over many names).
//   - A target is never locked. When per_target failures for it from all
//     clients gather in the window (each pair counting at most per_pair of
//     them, so one client alone cannot get there when per_target >
//     per_pair), the target is "under attack" until its window ends: every
//     client's pair for it is then locked after its first failure. A client
//     that has not failed for the target is not refused, so no client, and
//     no group of clients, can lock a user out for everybody.
//
// See docs/decisions.md, "factotum: scheduling and throttling".
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>

namespace p9auth::factotum {

struct ThrottleLimits {
    unsigned per_pair = 5;              // failures of one client for one target ...
    unsigned per_client = 20;           // ... or of one client for all targets ...
    std::chrono::seconds window{900};   // ... within this window lock that key ...
    std::chrono::seconds lockout{300};  // ... for this long.
    unsigned per_target = 20;           // failures for one target from all clients within the window: under attack
    unsigned per_origins = 50;          // failures of one charged uid for one target from all its remote hosts: locked
};

// Who failed: the charged uid, and the remote host when the client is
// trusted to name it ("" otherwise). A uid alone converts, for the clients
// that name no host.
struct ThrottleKey {
    uid_t charge = 0;
    std::string rhost;
    ThrottleKey(uid_t c, std::string h = {}) : charge(c), rhost(std::move(h)) {}  // NOLINT: implicit on purpose
    bool operator<(const ThrottleKey& o) const { return std::tie(charge, rhost) < std::tie(o.charge, o.rhost); }
};

// What one failure changed, for the audit log.
struct FailureEffect {
    bool pair_locked = false;      // this client is now locked for this target
    bool client_locked = false;    // this client is now locked for every target
    bool target_attacked = false;  // this failure put the target under attack
    bool origins_locked = false;   // this charged uid is now locked for this target from every host
};

class Throttle {
public:
    using Clock = std::chrono::steady_clock;
    using Now = std::function<Clock::time_point()>;
    explicit Throttle(ThrottleLimits limits, Now now = &Clock::now) : limits_(limits), now_(std::move(now)) {}

    // Seconds until the client may try this target again; 0 when it may now.
    long blocked_for(const ThrottleKey& client, const std::string& target);
    FailureEffect failed(const ThrottleKey& client, const std::string& target);
    void succeeded(const ThrottleKey& client,
                   const std::string& target);  // clears the pair's failures, not the client's
    bool under_attack(const std::string& target);

private:
    struct Count {
        unsigned failures = 0;
        Clock::time_point first;         // start of the current window
        Clock::time_point locked_until;  // epoch when not locked
    };
    struct PairCount : Count {
        // How many of this pair's failures the target's current window
        // (the one that started at contributed_to) counted.
        unsigned contributed = 0;
        Clock::time_point contributed_to;
    };
    bool bump(Count& c, unsigned limit, Clock::time_point now);  // true when this locked it
    void reset_if_old(Count& c, Clock::time_point now) const;
    void prune(Clock::time_point now);
    bool attacked(const Count& t, Clock::time_point now) const;

    const ThrottleLimits limits_;
    const Now now_;
    std::mutex mu_;  // guards the maps (workers report concurrently)
    std::map<ThrottleKey, Count> clients_;
    std::map<std::pair<ThrottleKey, std::string>, PairCount> pairs_;
    std::map<std::pair<uid_t, std::string>, Count> origins_;  // (charged uid, target), all hosts together
    std::map<std::string, Count> targets_;                    // locked_until unused: a target is never locked
};

}  // namespace p9auth::factotum
