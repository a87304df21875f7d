#include "log.hpp"

#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <mutex>

namespace p9authfs {
namespace {

std::atomic<bool> to_syslog{false};

void vlog(int priority, const char* fmt, va_list ap) {
    char line[1024];
    // Every caller va_starts ap. clang 14's analyzer misreads x86-64's
    // array-typed va_list parameter as uninitialized.
    std::vsnprintf(line, sizeof line, fmt, ap);  // NOLINT(clang-analyzer-valist.Uninitialized)
    if (to_syslog.load(std::memory_order_relaxed))
        syslog(priority, "%s", line);
    else
        std::fprintf(stderr, "p9authfs: %s\n", line);  // one call: lines from threads do not interleave
}

// A fixed window of one second holding at most kBurst lines.
class RateLimit {
public:
    static constexpr unsigned kBurst = 20;

    // Returns true when a line may be written; *suppressed is then the number
    // of lines left out since the last one written.
    bool allow(unsigned long* suppressed) {
        std::lock_guard lock(mu_);
        const auto now = std::chrono::steady_clock::now();
        if (now - window_ >= std::chrono::seconds(1)) {
            window_ = now;
            count_ = 0;
        }
        if (count_ >= kBurst) {
            ++suppressed_;
            return false;
        }
        ++count_;
        *suppressed = suppressed_;
        suppressed_ = 0;
        return true;
    }

private:
    std::mutex mu_;  // guards everything below
    std::chrono::steady_clock::time_point window_{};
    unsigned count_ = 0;
    unsigned long suppressed_ = 0;
};

RateLimit refusal_limit;

}  // namespace

void log_to_syslog() {
    openlog("p9authfs", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
    to_syslog.store(true);
}

void log(int priority, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog(priority, fmt, ap);
    va_end(ap);
}

void log_limited(int priority, const char* fmt, ...) {
    unsigned long suppressed = 0;
    if (!refusal_limit.allow(&suppressed)) return;
    if (suppressed) log(LOG_NOTICE, "%lu similar lines left out (rate limit)", suppressed);
    va_list ap;
    va_start(ap, fmt);
    vlog(priority, fmt, ap);
    va_end(ap);
}

}  // namespace p9authfs
