#include "throttle.hpp"

#include <algorithm>

namespace p9auth::factotum {
namespace {
constexpr std::size_t kMaxEntries = 65536;  // beyond this, stale entries are pruned first
}

void Throttle::bump(Count& c, unsigned limit, Clock::time_point now) {
    if (c.failures == 0 || now - c.first > limits_.window) {
        c.failures = 0;
        c.first = now;
    }
    if (++c.failures >= limit) {
        c.locked_until = now + limits_.lockout;
        c.failures = 0;
        c.first = now;
    }
}

void Throttle::prune_locked(Clock::time_point now) {
    auto stale = [&](const Count& c) { return now - c.first > limits_.window && now >= c.locked_until; };
    std::erase_if(clients_, [&](const auto& kv) { return stale(kv.second); });
    std::erase_if(pairs_, [&](const auto& kv) { return stale(kv.second); });
}

long Throttle::blocked_for(uid_t client, const std::string& target) {
    std::lock_guard lock(mu_);
    auto now = Clock::now();
    auto left = [&](Clock::time_point until) {
        return until > now ? std::chrono::ceil<std::chrono::seconds>(until - now).count() : 0L;
    };
    long s = 0;
    if (auto it = clients_.find(client); it != clients_.end()) s = std::max(s, left(it->second.locked_until));
    if (auto it = pairs_.find({client, target}); it != pairs_.end()) s = std::max(s, left(it->second.locked_until));
    return s;
}

void Throttle::failed(uid_t client, const std::string& target) {
    std::lock_guard lock(mu_);
    auto now = Clock::now();
    if (clients_.size() + pairs_.size() >= kMaxEntries) prune_locked(now);
    bump(clients_[client], limits_.per_client, now);  // at most one entry per uid
    // A pair entry is new memory a client could multiply with target names;
    // when the table is still full, the client's own count must do.
    auto key = std::make_pair(client, target);
    if (pairs_.size() < kMaxEntries || pairs_.count(key)) bump(pairs_[key], limits_.per_pair, now);
}

void Throttle::succeeded(uid_t client, const std::string& target) {
    std::lock_guard lock(mu_);
    auto it = pairs_.find({client, target});
    if (it != pairs_.end() && it->second.locked_until <= Clock::now()) pairs_.erase(it);
}

}  // namespace p9auth::factotum
