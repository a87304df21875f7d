// Failed authentications, counted per (client, target), per client, and per
// target across all clients. Keys are the client's kernel-reported uid.
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
#include <utility>

namespace p9auth::factotum {

struct ThrottleLimits {
    unsigned per_pair = 5;     // failures of one client for one target ...
    unsigned per_client = 20;  // ... or of one client for all targets ...
    std::chrono::seconds window{900};   // ... within this window lock that key ...
    std::chrono::seconds lockout{300};  // ... for this long.
    unsigned per_target = 20;  // failures for one target from all clients within the window: under attack
};

// What one failure changed, for the audit log.
struct FailureEffect {
    bool pair_locked = false;     // this client is now locked for this target
    bool client_locked = false;   // this client is now locked for every target
    bool target_attacked = false;  // this failure put the target under attack
};

class Throttle {
public:
    using Clock = std::chrono::steady_clock;
    using Now = std::function<Clock::time_point()>;
    explicit Throttle(ThrottleLimits limits, Now now = &Clock::now) : limits_(limits), now_(std::move(now)) {}

    // Seconds until the client may try this target again; 0 when it may now.
    long blocked_for(uid_t client, const std::string& target);
    FailureEffect failed(uid_t client, const std::string& target);
    void succeeded(uid_t client, const std::string& target);  // clears the pair's failures, not the client's
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
    std::mutex mu_;  // guards the three maps (workers report concurrently)
    std::map<uid_t, Count> clients_;
    std::map<std::pair<uid_t, std::string>, PairCount> pairs_;
    std::map<std::string, Count> targets_;  // locked_until unused: a target is never locked
};

}  // namespace p9auth::factotum
