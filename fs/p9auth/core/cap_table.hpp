// The capability table: outstanding hashes, one-time use, expiry, a bound.
// All of docs/spec.md section 4's rules for grant and use live here.
#pragma once

#include <sys/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "capability.hpp"
#include "error.hpp"
#include "hmac.hpp"
#include "p9auth_spec.h"

namespace p9auth {

// Expiry counts time the machine spends suspended (CLOCK_BOOTTIME):
// a 120 s grant is dead 120 s later however long the lid was closed.
// (steady_clock is CLOCK_MONOTONIC, which stops during suspend.) The kernel
// module reads the same clock (ktime_get_boottime_ns); see docs/decisions.md.
struct BootClock {
    using duration = std::chrono::nanoseconds;
    using rep = duration::rep;
    using period = duration::period;
    using time_point = std::chrono::time_point<BootClock>;
    static constexpr bool is_steady = true;
    static time_point now() noexcept;
};

// Named after the mount options that set them (docs/spec.md section 6).
struct TableLimits {
    std::chrono::seconds timeout{P9AUTH_DEFAULT_TIMEOUT};
    std::size_t maxcaps = P9AUTH_DEFAULT_MAXCAPS;
    bool legacy_sha1 = false;
};

struct TableCounters {
    std::uint64_t outstanding = 0, granted = 0, used = 0, expired = 0, refused = 0;
};

class CapTable {
public:
    using Clock = std::function<BootClock::time_point()>;

    explicit CapTable(TableLimits limits, Clock clock = &BootClock::now);
    CapTable(const CapTable&) = delete;
    CapTable& operator=(const CapTable&) = delete;
    ~CapTable();

    // A grant: the raw bytes written to caphash.
    // EINVAL wrong length, EEXIST already outstanding, ENOSPC table full.
    Error grant(std::span<const std::uint8_t> wire);

    // A use: the text written to capuse by a writer whose uid is writer_uid.
    // EINVAL malformed, EPERM wrong writer or no such outstanding hash.
    // On success the hash is gone and *out (if given) holds the capability.
    Error use(std::string_view text, uid_t writer_uid, Capability* out = nullptr);

    TableCounters counters();  // drops expired hashes first
    const TableLimits& limits() const { return limits_; }

private:
    struct KeyHash {
        std::array<std::uint8_t, 16> seed{};  // random per table: SipHash key
        std::size_t operator()(const Hash& h) const noexcept;
    };
    struct KeyEq {
        bool operator()(const Hash& a, const Hash& b) const noexcept { return a.equals(b); }
    };
    struct Node;
    using Entry = std::pair<const Hash, Node>;
    struct Node {  // an outstanding hash's place in the expiry list, oldest first
        BootClock::time_point expires;
        Entry* older = nullptr;
        Entry* newer = nullptr;
    };
    using Map = std::unordered_map<Hash, Node, KeyHash, KeyEq>;

    void trim_locked(BootClock::time_point now);
    bool take_locked(const Hash& h);
    void erase_locked(Map::iterator it);
    // The one locking rule for refusals, the kernel module's too
    // (p9auth_refuse): the refused counter is atomic and counted without
    // the lock, so bad input (a malformed capability, a wrong writer, a
    // bad length) is refused without ever contending for the table.
    Error refuse(Error e);

    const TableLimits limits_;
    const Clock clock_;
    std::mutex mu_;  // guards everything below but refused_
    Map map_;
    Entry* oldest_ = nullptr;  // expires first; grants append at newest_ (one timeout for all)
    Entry* newest_ = nullptr;
    TableCounters counters_;                 // all but refused
    std::atomic<std::uint64_t> refused_{0};  // refuse(): no lock
};

}  // namespace p9auth
