#include "cap_table.hpp"

#include <sodium.h>

#include <time.h>

#include <cerrno>

#include "grant.hpp"

namespace p9auth {

BootClock::time_point BootClock::now() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_BOOTTIME, &ts);
    return time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}

std::size_t CapTable::KeyHash::operator()(const Hash& h) const noexcept {
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, h.bytes().data(), h.size(), seed.data());
    std::size_t v = 0;
    for (unsigned char b : out) v = v << 8 | b;
    return v;
}

namespace {
template <class KeyHash>
KeyHash seeded() {
    KeyHash kh;
    randombytes_buf(kh.seed.data(), kh.seed.size());
    return kh;
}
}  // namespace

CapTable::CapTable(TableLimits limits, Clock clock)
    : limits_(limits), clock_(std::move(clock)), map_(0, seeded<KeyHash>(), KeyEq{}) {}

CapTable::~CapTable() = default;  // every Hash zeroes itself

Error CapTable::refuse(Error e) {
    refused_.fetch_add(1);
    return e;
}

void CapTable::erase_locked(Map::iterator it) {
    Entry* e = &*it;
    Node& n = e->second;
    (n.older ? n.older->second.newer : oldest_) = n.newer;
    (n.newer ? n.newer->second.older : newest_) = n.older;
    map_.erase(it);
}

void CapTable::trim_locked(BootClock::time_point now) {
    while (oldest_ && oldest_->second.expires <= now) {
        erase_locked(map_.find(oldest_->first));
        ++counters_.expired;
    }
}

Error CapTable::grant(std::span<const std::uint8_t> wire) {
    Hash h = Hash::from_wire(wire);
    // Bad input is refused before anything else happens to the table.
    if (h.empty() || (h.size() == static_cast<std::size_t>(HashKind::sha1) && !limits_.legacy_sha1))
        return refuse(fail(EINVAL, "grant refused: a hash is 32 bytes (HMAC-SHA256)" +
                                       std::string(limits_.legacy_sha1 ? " or 20 bytes (HMAC-SHA1)" : "") + ", got " +
                                       std::to_string(wire.size())));
    std::lock_guard lock(mu_);
    // The time is read under the lock, so the expiry list stays in order
    // and no use is judged by a time older than the last grant's.
    const auto now = clock_();
    trim_locked(now);
    if (map_.size() >= limits_.maxcaps)
        return refuse(fail(ENOSPC, "grant refused: the table is full (" + std::to_string(map_.size()) +
                                       " outstanding; raise maxcaps= or wait for uses and expiry)"));
    auto [it, inserted] = map_.try_emplace(std::move(h));
    if (!inserted) return refuse(fail(EEXIST, "grant refused: this hash is already outstanding"));
    Entry* e = &*it;
    e->second.expires = now + limits_.timeout;
    e->second.older = newest_;
    (newest_ ? newest_->second.newer : oldest_) = e;
    newest_ = e;
    ++counters_.granted;
    return Error::ok();
}

bool CapTable::take_locked(const Hash& h) {
    auto it = map_.find(h);
    if (it == map_.end()) return false;
    erase_locked(it);
    return true;
}

Error CapTable::use(std::string_view text, uid_t writer_uid, Capability* out) {
    auto cap = parse_capability(text);
    if (!cap) return refuse(cap.error());
    if (cap->from != writer_uid)
        return refuse(fail(EPERM, "capability refused: it is for uid " + std::to_string(cap->from) +
                                      " but the writer is uid " + std::to_string(writer_uid)));
    // The HMACs are computed before the lock is taken: the lock covers the table only.
    const Hash h256 = hash_of(*cap, HashKind::sha256);
    const Hash h1 = limits_.legacy_sha1 ? hash_of(*cap, HashKind::sha1) : Hash();
    std::lock_guard lock(mu_);
    trim_locked(clock_());
    if (!take_locked(h256) && (h1.empty() || !take_locked(h1)))
        return refuse(fail(EPERM,
                           "capability refused: no such grant (never granted, already used, "
                           "expired, or granted on another mount)"));
    ++counters_.used;
    if (out) *out = std::move(*cap);
    return Error::ok();
}

TableCounters CapTable::counters() {
    std::lock_guard lock(mu_);
    trim_locked(clock_());
    TableCounters c = counters_;
    c.outstanding = map_.size();
    c.refused = refused_.load();
    return c;
}

}  // namespace p9auth
