// Successful grants, bounded per client uid. A hash lives in the table
// until it is used or the mount's timeout passes, so a client that asks
// for herself (with her own password, which the policy may permit) could
// otherwise keep the whole table full and every other login would get
// ENOSPC. Each client uid has a bucket of `burst` grants that refills at
// `burst` per `window`: in any stretch of `window` it gets at most
// 2 x burst grants, so with `window` at least the mount's timeout it never
// holds more than 2 x burst hashes at once. See docs/decisions.md 56.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <unordered_map>

namespace p9auth::factotum {

struct GrantQuotaLimits {
    unsigned burst = 512;              // grants a client uid may have in hand ...
    std::chrono::seconds window{120};  // ... refilled over this long (the mount's default timeout)
};

class GrantQuota {
public:
    using Clock = std::chrono::steady_clock;
    using Now = std::function<Clock::time_point()>;
    explicit GrantQuota(GrantQuotaLimits limits, Now now = &Clock::now) : limits_(limits), now_(std::move(now)) {}
    GrantQuota(const GrantQuota&) = delete;
    GrantQuota& operator=(const GrantQuota&) = delete;

    // Takes one grant from the client's bucket: 0 when taken, else the
    // seconds until one is there again (at least 1).
    long take(uid_t client);
    // Gives back one taken by take() for a request that granted nothing.
    void refund(uid_t client);

private:
    // The generic cell rate algorithm, in whole clock ticks: one grant
    // every `window / burst`, `burst` of them at once. A client's entry is
    // the time by which all her grants would have been paid back; at or
    // before now she is as good as new, and has no entry.
    using Ticks = Clock::duration;
    Ticks interval() const { return std::chrono::duration_cast<Ticks>(limits_.window) / limits_.burst; }
    Ticks tolerance() const { return std::chrono::duration_cast<Ticks>(limits_.window) - interval(); }

    const GrantQuotaLimits limits_;
    const Now now_;
    std::mutex mu_;  // guards paid_back_ (workers take and refund concurrently)
    // Clients whose grants are not all paid back; take() sweeps the others
    // out past 4096 entries, so it holds about as many clients as have had
    // grants within `window`.
    std::unordered_map<uid_t, Clock::time_point> paid_back_;
};

}  // namespace p9auth::factotum
