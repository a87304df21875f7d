#include "server.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <optional>

#include "audit.hpp"
#include "frame_io.hpp"
#include "guard.hpp"
#include "monitor_wire.hpp"
#include "prompt_channel.hpp"
#include "privilege.hpp"
#include "secure_buffer.hpp"
#include "requests.hpp"
#include "wire.hpp"

namespace p9auth::factotum {
namespace {

using Clock = std::chrono::steady_clock;
using wire::Msg;
using wire::Refusal;

// epoll keys: connection ids count up from 1; listening sockets carry this bit.
constexpr std::uint64_t kListenerTag = std::uint64_t{1} << 63;
// The monitor's channels, watched for its hang-up only (the workers read them).
constexpr std::uint64_t kChannelTag = std::uint64_t{1} << 62;

// A call the seccomp filter refused outside any request (the loop, a
// worker between requests): said, then served on. The call failed with
// EPERM like any refused call, and the code that made it had to handle
// that anyway; nothing ran that the filter forbids.
void log_stray_trap(const char* where) {
    Trap t = seccomp_take_trap();
    if (t.nr < 0) return;
    audit(LOG_ERR, "seccomp: refused forbidden system call %s %s (and %u more); continuing", syscall_name(t.nr).c_str(),
          where, t.more);
}

// The worker's end of one client's PAM conversation: frames under deadlines,
// admitted by the request table.
class ClientChannel final : public PromptChannel {
public:
    ClientChannel(int fd, std::chrono::seconds step, Clock::time_point session_end)
        : fd_(fd), step_(step), session_end_(session_end) {}

    wire::Deadline next_deadline() const { return std::min(Clock::now() + step_, session_end_); }

    Error ask(Msg type, std::string_view text, SecureBuffer& answer) override {
        if (Error e = tell(type, text)) return e;
        auto deadline = next_deadline();
        std::array<std::uint8_t, wire::kHeaderSize> hb{};
        if (Error e = wire::recv_exact(fd_, hb, deadline)) return fail(e.errnum, "waiting for an answer");
        auto h = wire::decode_header(hb);
        if (!h) return fail(EPROTO, "wrong protocol version");
        std::string why;
        const RequestRule* rule = admit(*h, Phase::prompted, &why);
        if (!rule) return fail(EPROTO, why);
        if (Error e = wire::recv_exact(fd_, answer.writable(h->length), deadline)) {
            answer.wipe();
            return fail(e.errnum, "reading an answer");
        }
        return {};
    }

    Error tell(Msg type, std::string_view text) override {
        const auto* p = reinterpret_cast<const std::uint8_t*>(text.data());
        if (Error e = wire::send_frame(fd_, type, {p, text.size()}, next_deadline()))
            return fail(e.errnum, "sending a prompt");
        return {};
    }

private:
    int fd_;
    std::chrono::seconds step_;
    Clock::time_point session_end_;
};

void send_refusal(int fd, Refusal why, const std::string& msg, wire::Deadline deadline) {
    std::string payload(1, static_cast<char>(why));
    payload += msg.substr(0, wire::kMaxText);
    (void)wire::send_frame(fd, Msg::refused, {reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()},
                           deadline);
}

}  // namespace

struct Factotum::Pending {
    int fd = -1;
    std::uint64_t id = 0;
    uid_t uid = 0;
    uid_t charge = 0;
    pid_t pid = 0;
    Clock::time_point deadline;
    std::array<std::uint8_t, wire::kHeaderSize + std::max(wire::kMaxUserName, wire::kMaxOrigin)> buf{};
    std::size_t have = 0;
    std::size_t want = wire::kHeaderSize;  // the header first, then the whole frame
    Phase phase = Phase::first;            // Phase::origin once an origin frame came
    wire::Msg type = wire::Msg::request;   // of the frame being read
    wire::Origin origin;
};

Factotum::Factotum(Settings settings, std::vector<int> monitor_channels, std::vector<int> listen_fds)
    : settings_(std::move(settings)),
      channels_(std::move(monitor_channels)),
      listen_fds_(std::move(listen_fds)),
      throttle_(settings_.throttle),
      grant_quota_(settings_.grants),
      charges_(settings_.subuid_path) {}

Factotum::~Factotum() {
    {
        std::lock_guard lock(queue_mu_);
        stopping_ = true;
    }
    queue_cv_.notify_all();
    for (auto& t : workers_) t.join();
    for (auto& [id, c] : pending_) {
        ::close(c->fd);
        delete c;
    }
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

int Factotum::start() {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) return errno;
    for (int lfd : listen_fds_) {
        ::fcntl(lfd, F_SETFL, ::fcntl(lfd, F_GETFL) | O_NONBLOCK);
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = kListenerTag | static_cast<std::uint32_t>(lfd);
        if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, lfd, &ev) != 0) return errno;
    }
    if (channels_.size() != settings_.workers) return EINVAL;
    for (int chan : channels_) {
        epoll_event ev{};
        ev.events = EPOLLRDHUP;
        ev.data.u64 = kChannelTag | static_cast<std::uint32_t>(chan);
        if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, chan, &ev) != 0) return errno;
    }
    for (int chan : channels_) workers_.emplace_back([this, chan] { worker_main(chan); });
    return 0;
}

bool Factotum::reserve(uid_t uid) {
    std::lock_guard lock(conn_mu_);
    if (connections_ >= settings_.max_connections || per_uid_[uid] >= settings_.max_per_uid) return false;
    ++connections_;
    ++per_uid_[uid];
    return true;
}

void Factotum::release(uid_t uid) {
    std::lock_guard lock(conn_mu_);
    --connections_;
    if (--per_uid_[uid] == 0) per_uid_.erase(uid);
}

void Factotum::refuse_now(int fd, wire::Refusal why, const std::string& msg) {
    // Best effort, from the event loop, which never waits on a client.
    send_refusal(fd, why, msg, Clock::now());  // one try: a fresh socket has room for it
}

int Factotum::run() {
    if (epoll_fd_ < 0) return EBADF;
    std::array<epoll_event, 64> evs{};
    for (;;) {
        int timeout = static_cast<int>(next_timeout_ms());
        int n = ::epoll_wait(epoll_fd_, evs.data(), static_cast<int>(evs.size()), timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        for (int i = 0; i < n; ++i) {
            const std::uint64_t key = evs[static_cast<std::size_t>(i)].data.u64;
            if (key & kChannelTag) {
                audit(LOG_NOTICE, "front: the monitor hung up; stopping");
                return 0;
            }
            on_event(key);
        }
        // Housekeeping that failed is tried again at the next turn.
        Caught x = catch_all([&] {
            expire_pending();
            expire_queued();
            resume_accepting();
            for (auto [uid, n] : audit_quota_.drain()) log_suppressed(uid, n);
        });
        if (x.thrown) audit(LOG_ERR, "event loop: %s; serving on", x.what);
        log_stray_trap("in the event loop");
    }
}

// One event, under catch_all: an exception costs the connection it was
// about (refused as internal), never the daemon.
void Factotum::on_event(std::uint64_t key) {
    Caught x = catch_all([&] {
        if (key & kListenerTag) {
            accept_all(static_cast<int>(key & 0xffffffffu));
        } else if (auto it = pending_.find(key); it != pending_.end()) {
            on_readable(*it->second);
        }
    });
    if (!x.thrown) return;
    if (key & kListenerTag) {
        audit(LOG_ERR, "event loop: %s; serving on", x.what);
        return;
    }
    fail_connection(key, x.what);
}

void Factotum::fail_connection(std::uint64_t id, const char* what) {
    auto it = pending_.find(id);
    if (it == pending_.end()) {
        audit(LOG_ERR, "event loop: %s; serving on", what);
        return;
    }
    Pending* c = it->second;
    audit(LOG_ERR, "deny client_uid=%u client_pid=%d target=- reason=internal (%s); serving on", c->uid, c->pid, what);
    (void)catch_all([&] { refuse_now(c->fd, Refusal::internal, "internal error; see factotum's log"); });
    close_pending(id);
}

bool Factotum::trusts_origin(uid_t uid) const {
    return uid == 0 ||
           std::find(settings_.origin_uids.begin(), settings_.origin_uids.end(), uid) != settings_.origin_uids.end();
}

// Until the first deadline of a pending connection or a queued job; -1: none.
long long Factotum::next_timeout_ms() {
    std::optional<Clock::time_point> first;
    auto consider = [&](Clock::time_point t) {
        if (!first || t < *first) first = t;
    };
    for (auto& [id, c] : pending_) consider(c->deadline);
    if (accept_resume_) consider(*accept_resume_);
    if (audit_quota_.owes()) consider(Clock::now() + std::chrono::seconds(1));  // to log the counts
    {
        std::lock_guard lock(queue_mu_);
        for (auto& j : jobs_) consider(j.deadline);
    }
    if (!first) return -1;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(*first - Clock::now()).count();
    return std::clamp<long long>(left, 0, 60'000);
}

// A request that waited for a worker past its deadline is refused from the
// loop, so a client learns it in time even while every worker is held.
void Factotum::expire_queued() {
    std::vector<Job> late;
    {
        std::lock_guard lock(queue_mu_);
        auto now = Clock::now();
        for (auto it = jobs_.begin(); it != jobs_.end();) {
            if (it->deadline > now) {
                ++it;
                continue;
            }
            auto l = load_.find(it->charge);
            if (--l->second.queued == 0 && l->second.running == 0) load_.erase(l);
            late.push_back(std::move(*it));
            it = jobs_.erase(it);
        }
    }
    for (auto& j : late) {
        // The name is not looked up here (NSS may block): target=-.
        audit_for(j.charge, LOG_WARNING,
                  "deny client_uid=%u client_pid=%d target=- reason=timeout (no worker free within %llds)", j.uid,
                  j.pid, static_cast<long long>(settings_.step_timeout.count()));
        refuse_now(j.fd, Refusal::timeout, "no worker free in time");
        ::close(j.fd);
        release(j.charge);
    }
}

void Factotum::audit_for(uid_t uid, int priority, const char* fmt, ...) {
    auto v = audit_quota_.take(uid);
    if (v.suppressed) log_suppressed(uid, v.suppressed);
    if (!v.log) return;
    va_list ap;
    va_start(ap, fmt);
    vaudit(priority, fmt, ap);
    va_end(ap);
}

void Factotum::log_suppressed(uid_t uid, std::uint64_t n) {
    audit(LOG_WARNING, "suppressed client_uid=%u records=%llu (over its quota of %u at once, %u a second)", uid,
          static_cast<unsigned long long>(n), AuditQuota::kBurst, AuditQuota::kPerSecond);
}

void Factotum::set_listening(bool on) {
    for (int lfd : listen_fds_) {
        epoll_event ev{};
        ev.events = on ? std::uint32_t{EPOLLIN} : 0u;
        ev.data.u64 = kListenerTag | static_cast<std::uint32_t>(lfd);
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, lfd, &ev);
    }
}

void Factotum::pause_accepting(int err) {
    if (accept_errors_++ == 0)
        audit(LOG_ERR, "accept: %s; not accepting for %lld ms at a time until it passes", std::strerror(err),
              static_cast<long long>(kAcceptPause.count()));
    accept_resume_ = Clock::now() + kAcceptPause;
    set_listening(false);
}

void Factotum::resume_accepting() {
    if (!accept_resume_ || Clock::now() < *accept_resume_) return;
    accept_resume_.reset();
    set_listening(true);
}

void Factotum::accept_all(int lfd) {
    for (;;) {
        int fd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                accept_errors_ = 0;  // a descriptor was there to take: the episode is over
                return;
            }
            // EMFILE, ENFILE, ENOBUFS, ENOMEM: the connection stays in the
            // backlog and the listener stays readable. Stop listening for a
            // moment rather than spin, and say so once per episode.
            pause_accepting(errno);
            return;
        }
        accept_errors_ = 0;
        admit_connection(fd);
    }
}

// A new connection: charged, counted, and watched until its request is
// whole. Owns fd: closes it on every way out but the table.
void Factotum::admit_connection(int fd) {
    std::optional<uid_t> reserved;  // the charged uid, once counted
    Pending* c = nullptr;
    bool watched = false;
    Caught x = catch_all([&] {
        ucred cred{};
        socklen_t len = sizeof cred;
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) {
            audit(LOG_ERR, "SO_PEERCRED: %s; connection dropped", std::strerror(errno));
            return;
        }
        std::string note;
        std::optional<uid_t> charge = charges_.charge(cred.uid, &note);
        if (!note.empty()) audit(charge ? LOG_NOTICE : LOG_ERR, "charge: %s", note.c_str());
        if (!charge) {  // whom to charge cannot be told: refused, not guessed
            audit_for(cred.uid, LOG_WARNING,
                      "deny client_uid=%u client_pid=%d target=- reason=internal (cannot read %s)", cred.uid, cred.pid,
                      settings_.subuid_path.c_str());
            refuse_now(fd, Refusal::internal, "factotum cannot read its configuration; see its log");
            return;
        }
        if (!reserve(*charge)) {
            audit_for(*charge, LOG_WARNING, "deny client_uid=%u client_pid=%d target=- reason=busy (charged to uid %u)",
                      cred.uid, cred.pid, *charge);
            refuse_now(fd, Refusal::busy, "too many connections");
            return;
        }
        reserved = *charge;
        c = new Pending;
        c->fd = fd;
        c->id = next_id_++;
        c->uid = cred.uid;
        c->charge = *charge;
        c->pid = cred.pid;
        c->deadline = Clock::now() + settings_.step_timeout;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.u64 = c->id;
        if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
            audit(LOG_ERR, "epoll_ctl: %s", std::strerror(errno));
            return;
        }
        watched = true;
        pending_[c->id] = c;
        c = nullptr;  // the table's now
    });
    if (!c && reserved && watched) return;  // in the table
    if (x.thrown) {
        audit(LOG_ERR, "deny client_uid=- target=- reason=internal (accepting: %s); serving on", x.what);
        (void)catch_all([&] { refuse_now(fd, Refusal::internal, "internal error; see factotum's log"); });
    }
    if (watched) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    if (reserved) release(*reserved);
    delete c;
}

void Factotum::close_pending(std::uint64_t id) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    Pending* c = it->second;
    pending_.erase(it);
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->fd, nullptr);
    ::close(c->fd);
    release(c->charge);
    delete c;
}

void Factotum::expire_pending() {
    auto now = Clock::now();
    std::vector<std::uint64_t> late;
    for (auto& [id, c] : pending_)
        if (c->deadline <= now) late.push_back(id);
    for (auto id : late) {
        Pending* c = pending_[id];
        audit_for(c->charge, LOG_WARNING,
                  "deny client_uid=%u client_pid=%d target=- reason=timeout (no complete request in %llds)", c->uid,
                  c->pid, static_cast<long long>(settings_.step_timeout.count()));
        refuse_now(c->fd, Refusal::timeout, "no complete request in time");
        close_pending(id);
    }
}

void Factotum::on_readable(Pending& c) {
    for (;;) {
        ssize_t n = ::recv(c.fd, c.buf.data() + c.have, c.want - c.have, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n <= 0) {
            if (c.have > 0)
                audit_for(c.charge, LOG_WARNING,
                          "deny client_uid=%u client_pid=%d target=- reason=protocol (truncated request)", c.uid,
                          c.pid);
            close_pending(c.id);
            return;
        }
        c.have += static_cast<std::size_t>(n);
        if (c.have < c.want) continue;
        if (c.want == wire::kHeaderSize) {
            auto h =
                wire::decode_header(std::span<const std::uint8_t, wire::kHeaderSize>(c.buf.data(), wire::kHeaderSize));
            std::string why = "wrong protocol version";
            const RequestRule* rule = h ? admit(*h, c.phase, &why) : nullptr;
            if (!rule) {
                audit_for(c.charge, LOG_WARNING, "deny client_uid=%u client_pid=%d target=- reason=protocol (%s)",
                          c.uid, c.pid, why.c_str());
                refuse_now(c.fd, Refusal::protocol, why);
                close_pending(c.id);
                return;
            }
            c.want = wire::kHeaderSize + h->length;  // bounded by the rule: fits c.buf
            c.type = h->type;
            if (c.have < c.want) continue;
        }
        if (c.type == Msg::origin) {  // where the login comes from; the request follows
            std::string why;
            auto o = wire::decode_origin(
                {reinterpret_cast<const char*>(c.buf.data() + wire::kHeaderSize), c.want - wire::kHeaderSize}, &why);
            if (!o) {
                audit_for(c.charge, LOG_WARNING,
                          "deny client_uid=%u client_pid=%d target=- reason=protocol (bad origin: %s)", c.uid, c.pid,
                          why.c_str());
                refuse_now(c.fd, Refusal::protocol, "bad origin: " + why);
                close_pending(c.id);
                return;
            }
            c.origin = std::move(*o);
            c.phase = Phase::origin;
            c.have = 0;
            c.want = wire::kHeaderSize;
            continue;
        }
        // A whole request.
        std::string target(reinterpret_cast<const char*>(c.buf.data() + wire::kHeaderSize), c.want - wire::kHeaderSize);
        if (!wire::valid_user_name(target)) {
            audit_for(c.charge, LOG_WARNING,
                      "deny client_uid=%u client_pid=%d target=- reason=protocol (malformed user name)", c.uid, c.pid);
            refuse_now(c.fd, Refusal::protocol, "malformed user name");
            close_pending(c.id);
            return;
        }
        Job job;
        job.deadline = c.deadline;
        job.fd = c.fd;
        job.id = c.id;
        job.uid = c.uid;
        job.charge = c.charge;
        job.pid = c.pid;
        job.target = std::move(target);
        job.origin = std::move(c.origin);
        unsigned running = 0, queued = 0;
        bool full = false, waits = false;
        // Out of the loop's set before a worker can own (and close) the descriptor.
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
        {
            std::lock_guard lock(queue_mu_);
            UidLoad& l = load_[c.charge];
            running = l.running;
            queued = l.queued;
            full = l.queued >= settings_.queue_per_uid;
            if (!full) {
                ++l.queued;
                jobs_.push_back(std::move(job));
                // Only for the log: it waits when its uid is at its limit or no worker is idle.
                waits = l.running + l.queued > settings_.workers_per_uid || jobs_.size() > idle_;
            }
        }
        if (full) {
            audit_for(c.charge, LOG_WARNING,
                      "deny client_uid=%u client_pid=%d target=- reason=busy (%u requests of this uid wait already)",
                      c.uid, c.pid, queued);
            refuse_now(c.fd, Refusal::busy, "too many requests waiting");
            close_pending(c.id);
            return;
        }
        // The job is the queue's now: out of the table before anything that
        // could throw, so that a failure there cannot close its descriptor.
        const uid_t uid = c.uid, charge = c.charge;
        const pid_t pid = c.pid;
        pending_.erase(c.id);
        delete &c;
        queue_cv_.notify_one();
        if (waits)
            audit_for(charge, LOG_INFO, "wait client_uid=%u client_pid=%d (this uid: %u served, %u waiting)", uid, pid,
                      running, queued + 1);
        return;
    }
}

// The oldest job whose uid is below its worker limit. A worker that
// finishes looks again at once, so no job is left waiting while a worker
// that could take it is idle.
std::deque<Factotum::Job>::iterator Factotum::next_job_locked() {
    return std::find_if(jobs_.begin(), jobs_.end(), [this](const Job& j) {
        auto l = load_.find(j.charge);
        return l == load_.end() || l->second.running < settings_.workers_per_uid;
    });
}

void Factotum::worker_main(int chan) {
    // Guarded memory is dear to make (mmap, guard pages, mlock): one set
    // per worker, wiped after each use, not one per request.
    std::unique_ptr<Scratch> scratch;
    if (Caught x = catch_all([&] { scratch = std::make_unique<Scratch>(); }); x.thrown) {
        audit(LOG_CRIT, "front: a worker's buffers: %s; stopping", x.what);
        ::_exit(71);
    }
    for (;;) {
        Job job;
        {
            std::unique_lock lock(queue_mu_);
            auto it = jobs_.end();
            ++idle_;
            queue_cv_.wait(lock, [&] { return stopping_ || (it = next_job_locked()) != jobs_.end(); });
            --idle_;
            if (stopping_) return;
            job = std::move(*it);
            jobs_.erase(it);
            UidLoad& l = load_[job.charge];
            --l.queued;
            ++l.running;
        }
        // Whatever a request throws is that request's refusal; the worker
        // and the daemon go on. (The grant ticket, if taken, was given back
        // on the way out of serve: nothing was granted.) Only one thrown
        // in the middle of the monitor's dialogue leaves the channel in a
        // state neither side can name: then the front stops, and the
        // service manager starts both afresh.
        bool mid_login = false;
        Caught x = catch_all([&] { serve(job, chan, mid_login, *scratch); });
        if (x.thrown && mid_login) {
            audit(LOG_CRIT, "front: %s in the middle of a login; stopping", x.what);
            ::_exit(71);
        }
        if (x.thrown) {
            audit(LOG_ERR, "deny client_uid=%u client_pid=%d target=- reason=internal (%s); serving on", job.uid,
                  job.pid, x.what);
            (void)catch_all([&] {
                send_refusal(job.fd, Refusal::internal, "internal error; see factotum's log",
                             Clock::now() + settings_.step_timeout);
            });
        }
        log_stray_trap("after a request");
        ::close(job.fd);
        {
            std::lock_guard lock(queue_mu_);
            auto l = load_.find(job.charge);
            if (--l->second.running == 0 && l->second.queued == 0) load_.erase(l);
        }
        release(job.charge);
    }
}

// The monitor is gone, or sent what it never sends: the front cannot grant
// without it, and a restart by the service manager is the way back.
[[noreturn]] static void monitor_lost(const char* what, int e) {
    audit(LOG_CRIT, "front: lost the monitor (%s: %s); stopping", what, std::strerror(e));
    ::_exit(71);
}

void Factotum::serve(Job& job, int chan, bool& mid_login, Scratch& scratch) {
    log_stray_trap("between requests");
    // Where the client says the login comes from, at the end of each record
    // about this request ("-" when it did not say).
    const std::string where = "rhost=" + (job.origin.rhost.empty() ? "-" : job.origin.rhost) +
                              " tty=" + (job.origin.tty.empty() ? "-" : job.origin.tty);
    const char* o = where.c_str();
    std::string shown = "-";  // the monitor says how the target may be logged
    // The throttle's client: the charged uid, and the remote host only when
    // the client is one trusted to name it (a login daemon).
    const ThrottleKey who(job.charge, trusts_origin(job.uid) ? job.origin.rhost : std::string());
    auto session_end = Clock::now() + settings_.session_timeout;
    ClientChannel channel(job.fd, settings_.step_timeout, session_end);
    // why: nullopt when the client is gone (nothing to send it, only the record).
    auto deny = [&](std::optional<Refusal> why, const std::string& reason, const std::string& to_client) {
        audit_for(job.charge, LOG_WARNING, "deny client_uid=%u client_pid=%d target=%s reason=%s %s", job.uid, job.pid,
                  shown.c_str(), reason.c_str(), o);
        if (why) send_refusal(job.fd, *why, to_client, channel.next_deadline());
    };

    SecureBuffer& buf = scratch.packet;  // answers and the capability pass through it
    mon::Packet p;
    auto next = [&](const char* after) {
        buf.wipe();
        if (int e = mon::recv_packet(chan, buf.writable(mon::kMaxPacket), &p)) monitor_lost(after, e);
        if (p.fd >= 0 || p.fd_lost) monitor_lost(after, EBADMSG);
    };
    auto text = [&] { return std::string_view(reinterpret_cast<const char*>(p.payload.data()), p.payload.size()); };
    // Charged to another uid (the owner of the subordinate range it comes
    // from): said once, at the end of the request's first record.
    const std::string charged = job.charge == job.uid ? "" : " charged_to=" + std::to_string(job.charge);
    auto log_request = [&] {
        audit_for(job.charge, LOG_INFO, "request client_uid=%u client_pid=%d target=%s %s%s", job.uid, job.pid,
                  shown.c_str(), o, charged.c_str());
    };

    // The front's own checks come first. A login they refuse never reaches
    // PAM: the monitor is asked only how its target may be logged.
    auto refuse_here = [&](std::optional<Refusal> why, const std::string& reason, const std::string& to_client) {
        mid_login = true;
        if (int e = mon::send_packet(chan, mon::Type::lookup, job.target)) monitor_lost("lookup", e);
        next("lookup");
        if (p.type != mon::Type::known) monitor_lost("lookup", EBADMSG);
        mid_login = false;
        shown = text();
        log_request();
        deny(why, reason, to_client);
    };
    // Waited in the queue past its deadline (the loop refuses most of these first).
    if (Clock::now() > job.deadline)
        return refuse_here(Refusal::timeout,
                           "timeout (no worker free within " + std::to_string(settings_.step_timeout.count()) + "s)",
                           "no worker free in time");
    // Gone while it waited: no PAM conversation for nobody.
    pollfd pfd{job.fd, 0, 0};
    if (::poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR)))
        return refuse_here(std::nullopt, "client gone (hung up while queued)", "");
    if (long s = throttle_.blocked_for(who, job.target); s > 0)
        return refuse_here(Refusal::throttled, "throttled (" + std::to_string(s) + "s left)",
                           "too many failures; try again in " + std::to_string(s) + " s");
    // One of this client's grants, taken before PAM runs and given back
    // unless a hash is written: one uid cannot hold more than its share of
    // the table (grant_quota.hpp).
    if (long s = grant_quota_.take(job.charge); s > 0)
        return refuse_here(Refusal::busy,
                           "grant quota (" + std::to_string(settings_.grants.burst) + " per " +
                               std::to_string(settings_.grants.window.count()) + "s; " + std::to_string(s) +
                               "s until the next)",
                           "too many grants for this user lately; try again in " + std::to_string(s) + " s");
    struct QuotaTicket {
        GrantQuota& quota;
        uid_t uid;
        bool held = true;
        ~QuotaTicket() {
            if (held) quota.refund(uid);
        }
    } ticket{grant_quota_, job.charge};

    // The monitor reads who is asking from the connection itself; it says
    // how the target may be logged at once, then goes on to the policy and PAM.
    mid_login = true;
    if (int e = mon::send_packet(chan, mon::Type::begin, mon::encode_begin({job.target, job.origin}), job.fd))
        monitor_lost("begin", e);
    next("begin");
    if (p.type == mon::Type::known) {
        shown = text();
        log_request();
        next("known");
    }
    // The conversation: the monitor's prompts to the client, its answers back.
    SecureBuffer& answer = scratch.answer;
    while (p.type == mon::Type::prompt || p.type == mon::Type::tell) {
        if (p.payload.empty()) monitor_lost("a prompt", EBADMSG);
        const auto type = static_cast<wire::Msg>(p.payload[0]);
        const std::string msg(text().substr(1));
        std::string failed(1, '\0');
        Error e;
        if (p.type == mon::Type::prompt && (type == Msg::prompt_echo_off || type == Msg::prompt_echo_on)) {
            e = channel.ask(type, msg, answer);
            if (!e) {
                const int se = mon::send_packet(chan, mon::Type::answer, answer.view());
                answer.wipe();
                if (se) monitor_lost("answer", se);
                next("answer");
                continue;
            }
        } else if (p.type == mon::Type::tell && (type == Msg::error_msg || type == Msg::text_info)) {
            e = channel.tell(type, msg);
        } else {
            monitor_lost("a prompt of an unknown kind", EBADMSG);
        }
        failed[0] = static_cast<char>(e.errnum);
        if (e) failed += e.message.substr(0, wire::kMaxText);
        if (int se =
                mon::send_packet(chan, p.type == mon::Type::prompt ? mon::Type::no_answer : mon::Type::told, failed))
            monitor_lost("no_answer", se);
        next("no_answer");
    }
    if (p.type != mon::Type::verdict) monitor_lost("a verdict", EBADMSG);
    mid_login = false;
    auto v = mon::decode_verdict(text());
    buf.wipe();
    if (!v) monitor_lost("a verdict", EBADMSG);
    if (shown == "-") shown = v->shown;
    const char* t = shown.c_str();

    if (v->throttle == mon::Verdict::Throttle::failed) {
        FailureEffect e = throttle_.failed(who, job.target);
        if (e.target_attacked)
            audit(LOG_WARNING,
                  "attack target=%s (%u failures from all clients within %llds): each client is now locked after one "
                  "failure",
                  t, settings_.throttle.per_target, static_cast<long long>(settings_.throttle.window.count()));
        const std::string from = who.rhost.empty() ? "" : " rhost=" + who.rhost;
        if (e.client_locked || e.pair_locked)
            audit(LOG_WARNING, "lock client_uid=%u target=%s for %llds%s", job.charge, e.client_locked ? "*" : t,
                  static_cast<long long>(settings_.throttle.lockout.count()), from.c_str());
        if (e.origins_locked)
            audit(
                LOG_WARNING,
                "lock client_uid=%u target=%s for %llds from every rhost (%u failures from all its hosts within %llds)",
                job.charge, t, static_cast<long long>(settings_.throttle.lockout.count()),
                settings_.throttle.per_origins, static_cast<long long>(settings_.throttle.window.count()));
    } else if (v->throttle == mon::Verdict::Throttle::succeeded) {
        throttle_.succeeded(who, job.target);
    }
    if (!v->granted) return deny(v->quiet ? std::nullopt : std::optional(v->refusal), v->reason, v->to_client);
    ticket.held = false;  // spent: the monitor wrote the hash (and logged the grant)
    const auto* cap = reinterpret_cast<const std::uint8_t*>(v->capability.data());
    if (Error e = wire::send_frame(job.fd, Msg::granted, {cap, v->capability.size()}, channel.next_deadline()))
        audit(LOG_WARNING, "lost client_uid=%u client_pid=%d target=%s reason=%s (the grant expires unused) %s",
              job.uid, job.pid, t, e.message.c_str(), o);
}

}  // namespace p9auth::factotum
