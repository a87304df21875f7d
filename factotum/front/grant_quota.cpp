#include "grant_quota.hpp"

#include <algorithm>

namespace p9auth::factotum {
namespace {
// Above this many clients in hand, those paid back are swept out first.
constexpr std::size_t kSweepAbove = 4096;
}  // namespace

long GrantQuota::take(uid_t client) {
    const auto now = now_();
    std::lock_guard lock(mu_);
    if (paid_back_.size() > kSweepAbove) std::erase_if(paid_back_, [&](const auto& kv) { return kv.second <= now; });
    auto it = paid_back_.find(client);
    const auto due = it == paid_back_.end() ? now : std::max(it->second, now);
    if (due - now > tolerance()) {
        const auto wait = due - now - tolerance();
        return std::max<long>(1, std::chrono::ceil<std::chrono::seconds>(wait).count());
    }
    paid_back_[client] = due + interval();
    return 0;
}

void GrantQuota::refund(uid_t client) {
    const auto now = now_();
    std::lock_guard lock(mu_);
    auto it = paid_back_.find(client);
    if (it == paid_back_.end()) return;
    it->second -= interval();
    if (it->second <= now) paid_back_.erase(it);
}

}  // namespace p9auth::factotum
