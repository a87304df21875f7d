// factotum's front: the unprivileged half (its own uid, no capabilities,
// no caphash, no PAM, no policy). One event loop for connections that have
// not yet made their request, and a fixed pool of workers, each relaying
// one login at a time between its client and the monitor (monitor.hpp)
// over the worker's own channel. A slow client holds at most its own
// worker, and only until its deadline; one client uid holds at most
// workers_per_uid workers and queues at most queue_per_uid requests, and
// the workers take the oldest request of a uid below its limit, so one uid
// cannot starve the others. "Client uid" for every limit is the uid a
// connection is charged to (charge.hpp): the owner of the subordinate
// range a namespace uid comes from, else the peer's own uid.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "audit_quota.hpp"
#include "charge.hpp"
#include "grant_quota.hpp"
#include "monitor_wire.hpp"
#include "secure_buffer.hpp"
#include "throttle.hpp"
#include "wire.hpp"

namespace p9auth::factotum {

struct Settings {
    std::string pam_service = "p9auth";
    std::chrono::seconds step_timeout{60};      // each message from the client
    std::chrono::seconds session_timeout{300};  // a whole conversation
    unsigned workers = 8;                       // concurrent PAM conversations
    unsigned workers_per_uid = 2;               // of those, at most this many for one client uid
    unsigned queue_per_uid = 32;                // requests of one client uid waiting for a worker
    unsigned max_connections = 4096;            // well above max_per_uid: 32 uids at their cap still leave room
    unsigned max_per_uid = 128;
    ThrottleLimits throttle;
    GrantQuotaLimits grants;  // successful grants per client uid
    // Clients whose origin frame's rhost keys the throttle (besides uid 0):
    // the login daemons (p9login). Anyone else's rhost reaches PAM and the
    // log, but the throttle does not believe it.
    std::vector<uid_t> origin_uids;
    std::string subuid_path = "/etc/subuid";
};

class Factotum {
public:
    // monitor_channels: one per worker (settings.workers of them), each
    // the front's end of a socketpair whose other end Monitor::serve reads.
    Factotum(Settings settings, std::vector<int> monitor_channels, std::vector<int> listen_fds);
    Factotum(const Factotum&) = delete;
    Factotum& operator=(const Factotum&) = delete;
    ~Factotum();

    // The event loop's descriptors and the workers: before the seccomp
    // filter, which forbids new threads. 0 or an errno.
    int start();
    int run();  // the event loop: 0 when the monitor hung up (factotum stops), else a fatal errno

    // A request that passed the table, handed from the loop to a worker.
    struct Job {
        int fd = -1;
        std::uint64_t id = 0;
        uid_t uid = 0;
        uid_t charge = 0;  // whom its limits are charged to (charge.hpp)
        pid_t pid = 0;
        std::string target;
        wire::Origin origin;                             // PAM_TTY/PAM_RHOST as the client claims them (checked shape)
        std::chrono::steady_clock::time_point deadline;  // a worker must take it by then (connect + timeout)
    };

private:
    struct Pending;  // a connection before its request is complete

    // A record about client uid: logged if its AuditQuota allows, after the
    // count of the ones held back before it.
    void audit_for(uid_t uid, int priority, const char* fmt, ...) __attribute__((format(printf, 4, 5)));
    void log_suppressed(uid_t uid, std::uint64_t n);
    void accept_all(int lfd);
    void admit_connection(int fd);
    void on_event(std::uint64_t key);
    void fail_connection(std::uint64_t id, const char* what);  // an exception while the loop handled it
    bool trusts_origin(uid_t uid) const;
    void set_listening(bool on);
    void pause_accepting(int err);  // accept() failed for want of descriptors or memory
    void resume_accepting();        // once the pause is over
    void on_readable(Pending& c);
    void close_pending(std::uint64_t id);
    void expire_pending();
    void expire_queued();
    long long next_timeout_ms();
    void refuse_now(int fd, wire::Refusal why, const std::string& msg);
    bool reserve(uid_t uid);
    void release(uid_t uid);

    void worker_main(int chan);
    // A worker's guarded buffers: the monitor's packets and the client's answers.
    struct Scratch {
        SecureBuffer packet{mon::kMaxPacket};
        SecureBuffer answer{wire::kMaxAnswer};
    };
    // mid_login: true while the monitor's dialogue is under way (begin sent,
    // no verdict or stop yet).
    void serve(Job& job, int chan, bool& mid_login, Scratch& scratch);
    std::deque<Job>::iterator next_job_locked();  // queue_mu_ held

    const Settings settings_;
    const std::vector<int> channels_;
    const std::vector<int> listen_fds_;
    int epoll_fd_ = -1;
    Throttle throttle_;
    GrantQuota grant_quota_;
    AuditQuota audit_quota_;
    ChargeTable charges_;  // event loop only

    std::map<std::uint64_t, Pending*> pending_;  // event loop only
    std::uint64_t next_id_ = 1;                  // event loop only
    static constexpr std::chrono::milliseconds kAcceptPause{100};
    std::optional<std::chrono::steady_clock::time_point> accept_resume_;  // event loop only: listening paused until
    unsigned long accept_errors_ = 0;  // event loop only: failed accepts since the last success

    std::mutex conn_mu_;  // guards the counts below (loop and workers)
    unsigned connections_ = 0;
    std::map<uid_t, unsigned> per_uid_;  // by charged uid

    // Scheduling, shared by the loop (enqueues, expires) and the workers
    // (dequeue, finish).
    struct UidLoad {
        unsigned running = 0;  // jobs of this uid a worker is serving
        unsigned queued = 0;   // jobs of this uid in jobs_
    };
    std::mutex queue_mu_;  // guards jobs_, load_, idle_ and stopping_
    std::condition_variable queue_cv_;
    std::deque<Job> jobs_;           // oldest first
    std::map<uid_t, UidLoad> load_;  // by charged uid; only those with running or queued jobs
    unsigned idle_ = 0;              // workers waiting for a job
    bool stopping_ = false;
    std::vector<std::thread> workers_;
};

}  // namespace p9auth::factotum
