#include "throttle.hpp"

#include <algorithm>

namespace p9auth::factotum {
namespace {
constexpr std::size_t kMaxEntries = 65536;  // per map; beyond this, stale entries are pruned first
}

void Throttle::reset_if_old(Count& c, Clock::time_point now) const {
    if (c.failures == 0 || now - c.first > limits_.window) {
        c.failures = 0;
        c.first = now;
    }
}

bool Throttle::bump(Count& c, unsigned limit, Clock::time_point now) {
    reset_if_old(c, now);
    if (++c.failures < limit) return false;
    c.locked_until = now + limits_.lockout;
    c.failures = 0;
    c.first = now;
    return true;
}

bool Throttle::attacked(const Count& t, Clock::time_point now) const {
    return t.failures >= limits_.per_target && now - t.first <= limits_.window;
}

void Throttle::prune(Clock::time_point now) {
    auto old = [&](Clock::time_point t) { return now - t > limits_.window; };
    auto stale = [&](const Count& c) { return old(c.first) && now >= c.locked_until; };
    std::erase_if(clients_, [&](const auto& kv) { return stale(kv.second); });
    // A pair also remembers what it gave its target's window: keep it as long as that window lives.
    std::erase_if(pairs_, [&](const auto& kv) { return stale(kv.second) && old(kv.second.contributed_to); });
    std::erase_if(targets_, [&](const auto& kv) { return old(kv.second.first); });
    std::erase_if(origins_, [&](const auto& kv) { return stale(kv.second); });
}

long Throttle::blocked_for(const ThrottleKey& client, const std::string& target) {
    std::lock_guard lock(mu_);
    auto now = now_();
    auto left = [&](Clock::time_point until) {
        return until > now ? std::chrono::ceil<std::chrono::seconds>(until - now).count() : 0L;
    };
    long s = 0;
    if (auto it = clients_.find(client); it != clients_.end()) s = std::max(s, left(it->second.locked_until));
    if (auto it = pairs_.find({client, target}); it != pairs_.end()) s = std::max(s, left(it->second.locked_until));
    if (auto it = origins_.find({client.charge, target}); it != origins_.end())
        s = std::max(s, left(it->second.locked_until));
    return s;
}

FailureEffect Throttle::failed(const ThrottleKey& client, const std::string& target) {
    std::lock_guard lock(mu_);
    auto now = now_();
    if (clients_.size() >= kMaxEntries || pairs_.size() >= kMaxEntries || targets_.size() >= kMaxEntries ||
        origins_.size() >= kMaxEntries)
        prune(now);
    FailureEffect e;
    if (clients_.size() < kMaxEntries || clients_.count(client))
        e.client_locked = bump(clients_[client], limits_.per_client, now);
    // Pair and target entries are new memory a client could multiply with
    // target names; when a table is still full, the other counts must do.
    // All hosts of one charged uid together: when the table is full and this
    // one is new, the pair must do (its entry is the same size).
    auto okey = std::make_pair(client.charge, target);
    if (origins_.size() < kMaxEntries || origins_.count(okey))
        e.origins_locked = bump(origins_[okey], limits_.per_origins, now);
    auto key = std::make_pair(client, target);
    PairCount* p = pairs_.size() < kMaxEntries || pairs_.count(key) ? &pairs_[key] : nullptr;
    Count* t = targets_.size() < kMaxEntries || targets_.count(target) ? &targets_[target] : nullptr;
    bool was_attacked = t && attacked(*t, now);
    if (t) {
        reset_if_old(*t, now);
        bool counts = true;
        if (p) {  // each pair gives a target's window at most per_pair failures
            if (p->contributed_to != t->first) {
                p->contributed = 0;
                p->contributed_to = t->first;
            }
            counts = p->contributed < limits_.per_pair;
            if (counts) ++p->contributed;
        }
        if (counts) ++t->failures;
        e.target_attacked = !was_attacked && attacked(*t, now);
    }
    // Under attack, every client gets one failure per lockout for this target.
    if (p) e.pair_locked = bump(*p, was_attacked ? 1 : limits_.per_pair, now);
    return e;
}

void Throttle::succeeded(const ThrottleKey& client, const std::string& target) {
    std::lock_guard lock(mu_);
    auto it = pairs_.find({client, target});
    // The failures go; what the pair gave the target's window stays counted.
    if (it != pairs_.end() && it->second.locked_until <= now_()) it->second.failures = 0;
}

bool Throttle::under_attack(const std::string& target) {
    std::lock_guard lock(mu_);
    auto it = targets_.find(target);
    return it != targets_.end() && attacked(it->second, now_());
}

}  // namespace p9auth::factotum
