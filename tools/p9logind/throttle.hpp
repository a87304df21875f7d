// Failed logins per source address, shared by every p9logind process.
// p9logind@ instances (systemd's Accept=yes) and the listener's forked
// children are separate processes, so the counts live in a state
// directory (/run/p9logind, the daemon's user's, 0700): one small file per
// source, read and rewritten under flock. See p9logind(8) and
// docs/decisions.md (60).
#pragma once

#include <string>

namespace p9logind {

struct ThrottleLimits {
    unsigned fail_limit = 5;       // failed logins from one source within the window ...
    long window = 900;             // ... seconds lock that source ...
    long lockout = 300;            // ... for this long.
    unsigned max_sources = 16384;  // files in the directory before new sources are refused
};

// The key a source is counted under: an IPv4 address as it is, an IPv6
// address as its /64 (one host usually holds a whole /64), "local" for a
// connection without an address (inetd on a pipe).
std::string source_key(const std::string& rhost);

// Seconds since boot (CLOCK_BOOTTIME): the same in every process, not
// moved by setting the time; /run, where the files live, starts empty at
// boot.
long long boot_seconds();

class SourceThrottle {
public:
    using Clock = long long (*)();
    SourceThrottle(std::string dir, ThrottleLimits limits, Clock now = &boot_seconds)
        : dir_(std::move(dir)), limits_(limits), now_(now) {}

    // "" when the directory can hold the counts: a directory (not a link)
    // owned by this process's user, writable by nobody else; else why not.
    std::string check() const;

    // Seconds until the source may try again; 0 now. -1: the state could
    // not be read (the caller refuses: fail closed).
    long locked_for(const std::string& key) const;

    // Before a password is checked: one failure is counted in advance, so
    // that concurrent attempts cannot all slip under the limit and a
    // process killed mid-check still counts. 0 charged; > 0 seconds the
    // source is locked (nothing charged); -1 the state failed (refuse).
    long charge(const std::string& key) const;

    // After a successful login: the advance is given back.
    void refund(const std::string& key) const;

private:
    int open_entry(const std::string& key, bool create, bool* absent) const;
    const std::string dir_;
    const ThrottleLimits limits_;
    const Clock now_;
};

}  // namespace p9logind
