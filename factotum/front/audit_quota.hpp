// How many audit records one client uid may cause: a token bucket per uid,
// so a local user who connects and hangs up in a loop (refused as busy or
// for a protocol error, each in microseconds) cannot flood the log and bury
// other records. Records past the quota are counted, and the count is
// logged with the uid's next record. Grants, locks and attack records are
// never held back (the caller does not ask for them).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace p9auth::factotum {

class AuditQuota {
public:
    using Clock = std::chrono::steady_clock;
    using Now = std::function<Clock::time_point()>;
    static constexpr unsigned kBurst = 200;           // records at once ...
    static constexpr unsigned kPerSecond = 10;        // ... and this many a second after
    static constexpr std::size_t kMaxTracked = 4096;  // uids remembered

    explicit AuditQuota(Now now = &Clock::now) : now_(std::move(now)) {}

    struct Verdict {
        bool log = true;               // log this record
        std::uint64_t suppressed = 0;  // records of this uid held back before it (log first)
    };

    Verdict take(uid_t uid) {
        std::lock_guard lock(mu_);
        const auto now = now_();
        auto it = buckets_.find(uid);
        if (it == buckets_.end()) {
            if (buckets_.size() >= kMaxTracked) forget_idle(now);
            if (buckets_.size() >= kMaxTracked) return {};  // cannot track: log rather than lose
            it = buckets_.emplace(uid, Bucket{kBurst, now, 0}).first;
        }
        Bucket& b = it->second;
        refill(b, now);
        if (b.tokens == 0) {
            if (b.suppressed++ == 0) ++owing_;
            return {false, 0};
        }
        --b.tokens;
        if (b.suppressed) --owing_;
        return {true, std::exchange(b.suppressed, 0)};
    }

    // The counts of uids whose flood has ended (a token is back), reset; for
    // the event loop, so a count is logged even when the uid goes quiet.
    bool owes() {
        std::lock_guard lock(mu_);
        return owing_ > 0;
    }
    std::vector<std::pair<uid_t, std::uint64_t>> drain() {
        std::lock_guard lock(mu_);
        std::vector<std::pair<uid_t, std::uint64_t>> out;
        if (owing_ == 0) return out;
        const auto now = now_();
        for (auto& [uid, b] : buckets_) {
            if (b.suppressed == 0) continue;
            refill(b, now);
            if (b.tokens == 0) continue;
            out.emplace_back(uid, std::exchange(b.suppressed, 0));
            --owing_;
        }
        return out;
    }

private:
    struct Bucket {
        unsigned tokens;
        Clock::time_point last;  // when tokens were last added
        std::uint64_t suppressed;
    };

    static void refill(Bucket& b, Clock::time_point now) {
        const auto per_token = std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(1)) / kPerSecond;
        const auto earned = (now - b.last) / per_token;
        if (earned <= 0) return;
        if (static_cast<unsigned long long>(earned) >= kBurst - b.tokens) {
            b.tokens = kBurst;
            b.last = now;
        } else {
            b.tokens += static_cast<unsigned>(earned);
            b.last += earned * per_token;
        }
    }

    // Drops uids whose bucket is full again and who owe no count.
    void forget_idle(Clock::time_point now) {
        for (auto it = buckets_.begin(); it != buckets_.end();) {
            refill(it->second, now);
            if (it->second.tokens == kBurst && it->second.suppressed == 0)
                it = buckets_.erase(it);
            else
                ++it;
        }
    }

    Now now_;
    std::mutex mu_;
    std::map<uid_t, Bucket> buckets_;
    std::size_t owing_ = 0;  // buckets with a count not yet logged
};

}  // namespace p9auth::factotum
