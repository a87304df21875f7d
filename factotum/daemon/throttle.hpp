// Failed authentications, counted per client uid and per (client, target).
// Keys are the client's kernel-reported uid: one client's failures never
// lock a target out for other clients.
#pragma once

#include <sys/types.h>

#include <chrono>
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
};

class Throttle {
public:
    using Clock = std::chrono::steady_clock;
    explicit Throttle(ThrottleLimits limits) : limits_(limits) {}

    // Seconds until the client may try this target again; 0 when it may now.
    long blocked_for(uid_t client, const std::string& target);
    void failed(uid_t client, const std::string& target);
    void succeeded(uid_t client, const std::string& target);  // clears the pair, not the client

private:
    struct Count {
        unsigned failures = 0;
        Clock::time_point first;         // start of the current window
        Clock::time_point locked_until;  // epoch when not locked
    };
    void bump(Count& c, unsigned limit, Clock::time_point now);
    void prune_locked(Clock::time_point now);

    const ThrottleLimits limits_;
    std::mutex mu_;  // guards the maps (workers report concurrently)
    std::map<uid_t, Count> clients_;
    std::map<std::pair<uid_t, std::string>, Count> pairs_;
};

}  // namespace p9auth::factotum
