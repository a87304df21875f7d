#include "server.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
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
#include "grant.hpp"
#include "identity.hpp"
#include "pam_auth.hpp"
#include "privilege.hpp"
#include "requests.hpp"
#include "wire.hpp"

namespace p9auth::factotum {
namespace {

using Clock = std::chrono::steady_clock;
using wire::Msg;
using wire::Refusal;

// epoll keys: connection ids count up from 1; listening sockets carry this bit.
constexpr std::uint64_t kListenerTag = std::uint64_t{1} << 63;
constexpr std::uint64_t kSignalKey = std::uint64_t{1} << 62;  // SIGHUP: reload the policy

// A call the seccomp filter refused outside any request (the loop, a
// worker between requests): said, then served on. The call failed with
// EPERM like any refused call, and the code that made it had to handle
// that anyway; nothing ran that the filter forbids.
void log_stray_trap(const char* where) {
    Trap t = seccomp_take_trap();
    if (t.nr < 0) return;
    audit(LOG_ERR, "seccomp: refused forbidden system call %s %s (and %u more); continuing",
          syscall_name(t.nr).c_str(), where, t.more);
}

std::vector<gid_t> peer_groups(int fd) {
    std::vector<gid_t> g(64);
    for (int tries = 0; tries < 3; ++tries) {
        socklen_t len = static_cast<socklen_t>(g.size() * sizeof(gid_t));
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g.data(), &len) == 0) {
            g.resize(len / sizeof(gid_t));
            return g;
        }
        if (errno != ERANGE || len / sizeof(gid_t) > 65536) break;
        g.resize(len / sizeof(gid_t));
    }
    return {};
}

// The worker's end of one client's PAM conversation: frames under deadlines,
// admitted by the request table.
class ClientChannel final : public PromptChannel {
public:
    ClientChannel(int fd, std::chrono::seconds step, Clock::time_point session_end)
        : fd_(fd), step_(step), session_end_(session_end) {}

    wire::Deadline next_deadline() const { return std::min(Clock::now() + step_, session_end_); }

    int ask(Msg type, std::string_view text, SecureBuffer& answer) override {
        if (int e = tell(type, text)) return e;
        auto deadline = next_deadline();
        std::array<std::uint8_t, wire::kHeaderSize> hb{};
        if (int e = wire::recv_exact(fd_, hb, deadline)) return note(e, "waiting for an answer");
        auto h = wire::decode_header(hb);
        if (!h) return note(EPROTO, "wrong protocol version");
        std::string why;
        const RequestRule* rule = admit(*h, Phase::prompted, &why);
        if (!rule) return note(EPROTO, why);
        if (int e = wire::recv_exact(fd_, answer.writable(h->length), deadline)) {
            answer.wipe();
            return note(e, "reading an answer");
        }
        return 0;
    }

    int tell(Msg type, std::string_view text) override {
        const auto* p = reinterpret_cast<const std::uint8_t*>(text.data());
        if (int e = wire::send_frame(fd_, type, {p, text.size()}, next_deadline())) return note(e, "sending a prompt");
        return 0;
    }

    int error() const { return errno_; }
    const std::string& what() const { return what_; }

private:
    int note(int e, std::string what) {
        errno_ = e;
        what_ = std::move(what);
        return e;
    }
    int fd_;
    std::chrono::seconds step_;
    Clock::time_point session_end_;
    int errno_ = 0;
    std::string what_;
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
    gid_t gid = 0;
    pid_t pid = 0;
    Clock::time_point deadline;
    std::array<std::uint8_t, wire::kHeaderSize + std::max(wire::kMaxUserName, wire::kMaxOrigin)> buf{};
    std::size_t have = 0;
    std::size_t want = wire::kHeaderSize;  // the header first, then the whole frame
    Phase phase = Phase::first;            // Phase::origin once an origin frame came
    wire::Msg type = wire::Msg::request;   // of the frame being read
    wire::Origin origin;
};

Factotum::Factotum(Settings settings, Policy policy, int caphash_fd, std::vector<int> listen_fds)
    : settings_(std::move(settings)),
      policy_(std::make_shared<const Policy>(std::move(policy))),
      caphash_fd_(caphash_fd),
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
    if (signal_fd_ >= 0) ::close(signal_fd_);
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
    // SIGHUP arrives as a descriptor the loop reads: blocked here, before
    // the workers exist, so every thread inherits the mask.
    if (!settings_.policy_path.empty()) {
        sigset_t hup;
        sigemptyset(&hup);
        sigaddset(&hup, SIGHUP);
        if (int e = ::pthread_sigmask(SIG_BLOCK, &hup, nullptr)) return e;
        signal_fd_ = ::signalfd(-1, &hup, SFD_CLOEXEC | SFD_NONBLOCK);
        if (signal_fd_ < 0) return errno;
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = kSignalKey;
        if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, signal_fd_, &ev) != 0) return errno;
    }
    for (unsigned i = 0; i < settings_.workers; ++i) workers_.emplace_back([this] { worker_main(); });
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
        for (int i = 0; i < n; ++i) on_event(evs[static_cast<std::size_t>(i)].data.u64);
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
        if (key == kSignalKey) {
            reload_policy();
        } else if (key & kListenerTag) {
            accept_all(static_cast<int>(key & 0xffffffffu));
        } else if (auto it = pending_.find(key); it != pending_.end()) {
            on_readable(*it->second);
        }
    });
    if (!x.thrown) return;
    if (key == kSignalKey || (key & kListenerTag)) {
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
    audit(LOG_ERR, "deny client_uid=%u client_pid=%d target=- reason=internal (%s); serving on", c->uid, c->pid,
          what);
    (void)catch_all([&] { refuse_now(c->fd, Refusal::internal, "internal error; see factotum's log"); });
    close_pending(id);
}

bool Factotum::trusts_origin(uid_t uid) const {
    return uid == 0 || std::find(settings_.origin_uids.begin(), settings_.origin_uids.end(), uid) !=
                           settings_.origin_uids.end();
}

std::shared_ptr<const Policy> Factotum::current_policy() {
    std::lock_guard lock(policy_mu_);
    return policy_;
}

// A policy that does not load (syntax, owner, mode) is logged and the old
// one stays: a typo must not lock everyone out, nor let everyone in.
void Factotum::reload_policy() {
    signalfd_siginfo si{};
    while (::read(signal_fd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
    }
    auto loaded = Policy::load(settings_.policy_path);
    if (!loaded) {
        audit(LOG_ERR, "reload %s failed, keeping the policy in force: %s", settings_.policy_path.c_str(),
              loaded.error().message.c_str());
        return;
    }
    std::size_t rules = loaded->size();
    {
        std::lock_guard lock(policy_mu_);
        policy_ = std::make_shared<const Policy>(std::move(*loaded));
    }
    audit(LOG_NOTICE, "reloaded %s (%zu rules)", settings_.policy_path.c_str(), rules);
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
                      "deny client_uid=%u client_pid=%d target=- reason=internal (cannot read %s)", cred.uid,
                      cred.pid, settings_.subuid_path.c_str());
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
        c->gid = cred.gid;
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
            auto h = wire::decode_header(std::span<const std::uint8_t, wire::kHeaderSize>(c.buf.data(), wire::kHeaderSize));
            std::string why = "wrong protocol version";
            const RequestRule* rule = h ? admit(*h, c.phase, &why) : nullptr;
            if (!rule) {
                audit_for(c.charge, LOG_WARNING, "deny client_uid=%u client_pid=%d target=- reason=protocol (%s)", c.uid,
                          c.pid, why.c_str());
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
                audit_for(c.charge, LOG_WARNING, "deny client_uid=%u client_pid=%d target=- reason=protocol (bad origin: %s)",
                          c.uid, c.pid, why.c_str());
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
        job.gid = c.gid;
        job.pid = c.pid;
        job.groups = peer_groups(c.fd);
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
            audit_for(charge, LOG_INFO, "wait client_uid=%u client_pid=%d (this uid: %u served, %u waiting)", uid,
                      pid, running, queued + 1);
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

void Factotum::worker_main() {
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
        // on the way out of serve: nothing was granted.)
        Caught x = catch_all([&] { serve(job); });
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

void Factotum::serve(Job& job) {
    log_stray_trap("between requests");
    TargetIds target;
    target.name = job.target;
    // The target as NSS knows it (identity.hpp): found, absent, or failed.
    // A lookup that failed is never taken for "no such user".
    Error nss_error;
    auto user = identity::user_by_name(job.target);
    if (!user) nss_error = user.error();
    const bool exists = user && *user;
    if (exists) {
        target.uid = (*user)->uid;
        if (auto groups = identity::login_groups(**user)) target.groups = std::move(*groups);
        else nss_error = groups.error();
    }
    // A name NSS does not know may be a password typed as a user name: it
    // never reaches the log. The policy and PAM still see it as asked.
    const std::string shown = exists ? job.target : "?(unknown)";
    const char* t = shown.c_str();
    // Where the client says the login comes from, at the end of each record
    // about this request ("-" when it did not say).
    const std::string where = "rhost=" + (job.origin.rhost.empty() ? "-" : job.origin.rhost) +
                              " tty=" + (job.origin.tty.empty() ? "-" : job.origin.tty);
    const char* o = where.c_str();
    // Charged to another uid (the owner of the subordinate range it comes
    // from): said once, at the end of the request's first record.
    const std::string charged = job.charge == job.uid ? "" : " charged_to=" + std::to_string(job.charge);
    audit_for(job.charge, LOG_INFO, "request client_uid=%u client_pid=%d target=%s %s%s", job.uid, job.pid, t, o,
              charged.c_str());
    // The throttle's client: the charged uid, and the remote host only when
    // the client is one trusted to name it (a login daemon).
    const ThrottleKey who(job.charge, trusts_origin(job.uid) ? job.origin.rhost : std::string());
    auto session_end = Clock::now() + settings_.session_timeout;
    ClientChannel channel(job.fd, settings_.step_timeout, session_end);
    auto deny = [&](Refusal why, const std::string& reason, const std::string& to_client) {
        audit_for(job.charge, LOG_WARNING, "deny client_uid=%u client_pid=%d target=%s reason=%s %s", job.uid, job.pid, t,
                  reason.c_str(), o);
        send_refusal(job.fd, why, to_client, channel.next_deadline());
    };

    // A module (NSS, PAM) made a call the filter refused: whatever it
    // concluded from the EPERM, this request is not trusted to a grant.
    auto trapped = [&](const char* during) {
        Trap tr = seccomp_take_trap();
        if (tr.nr < 0) return false;
        const std::string name = syscall_name(tr.nr);
        deny(Refusal::internal, "seccomp (forbidden system call " + name + " during " + during + ")",
             "a PAM or NSS module made a system call factotum forbids (" + name + "); see factotum's log");
        return true;
    };
    if (trapped("the user lookup")) return;

    // Waited in the queue past its deadline (the loop refuses most of these first).
    if (Clock::now() > job.deadline) {
        deny(Refusal::timeout, "timeout (no worker free within " + std::to_string(settings_.step_timeout.count()) + "s)",
             "no worker free in time");
        return;
    }
    // Gone while it waited: no PAM conversation for nobody.
    pollfd pfd{job.fd, 0, 0};
    if (::poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR))) {
        audit_for(job.charge, LOG_WARNING,
                  "deny client_uid=%u client_pid=%d target=%s reason=client gone (hung up while queued) %s", job.uid,
                  job.pid, t, o);
        return;
    }

    // NSS could not answer (not the same as "no such user"): nobody can
    // tell what the policy would say. Refused, not charged.
    if (nss_error) {
        deny(Refusal::internal, "nss (" + nss_error.message + ")",
             "the user database could not be read; see factotum's log");
        return;
    }
    // The client as NSS knows it: its name for PAM_RUSER and, when a rule
    // names a client group, the groups its uid gets at login, which a user
    // namespace cannot drop (policy.hpp, ClientIds).
    const auto policy = current_policy();  // one policy for both questions, whatever SIGHUP does
    auto client_user = identity::user_by_uid(job.uid);
    ClientIds client{job.uid, job.gid, job.groups, std::nullopt};
    if (client_user && *client_user && policy->judges_client_groups()) {
        auto groups = identity::login_groups(**client_user);
        if (groups) client.login_groups = std::move(*groups);
        else client_user = groups.error();
    }
    if (!client_user) {
        deny(Refusal::internal, "nss (the client: " + client_user.error().message + ")",
             "the user database could not be read; see factotum's log");
        return;
    }
    const std::string client_name = *client_user ? (*client_user)->name : std::string();
    if (long s = throttle_.blocked_for(who, job.target); s > 0) {
        deny(Refusal::throttled, "throttled (" + std::to_string(s) + "s left)",
             "too many failures; try again in " + std::to_string(s) + " s");
        return;
    }

    auto d = policy->decide(client, target);
    if (trapped("the policy's lookups")) return;
    if (!d) {  // a name in a rule could not be looked up: fail closed
        deny(Refusal::internal, "nss (policy " + d.error().message + ")",
             "the user database could not be read; see factotum's log");
        return;
    }
    if (!d->permit) {
        deny(Refusal::not_permitted, d->line ? "policy (line " + std::to_string(d->line) + ")" : "policy (no rule)",
             "");
        return;
    }

    // One of this client's grants, taken before PAM runs and given back
    // unless a hash is written: one uid cannot hold more than its share of
    // the table (grant_quota.hpp).
    if (long s = grant_quota_.take(job.charge); s > 0) {
        deny(Refusal::busy,
             "grant quota (" + std::to_string(settings_.grants.burst) + " per " +
                 std::to_string(settings_.grants.window.count()) + "s; " + std::to_string(s) + "s until the next)",
             "too many grants for this user lately; try again in " + std::to_string(s) + " s");
        return;
    }
    struct QuotaTicket {
        GrantQuota& quota;
        uid_t uid;
        bool spent = false;
        ~QuotaTicket() {
            if (!spent) quota.refund(uid);
        }
    } ticket{grant_quota_, job.charge};

    auto charge = [&] {
        FailureEffect e = throttle_.failed(who, job.target);
        if (e.target_attacked)
            audit(LOG_WARNING,
                  "attack target=%s (%u failures from all clients within %llds): each client is now locked after one failure",
                  t, settings_.throttle.per_target, static_cast<long long>(settings_.throttle.window.count()));
        const std::string from = who.rhost.empty() ? "" : " rhost=" + who.rhost;
        if (e.client_locked || e.pair_locked)
            audit(LOG_WARNING, "lock client_uid=%u target=%s for %llds%s", job.charge, e.client_locked ? "*" : t,
                  static_cast<long long>(settings_.throttle.lockout.count()), from.c_str());
        if (e.origins_locked)
            audit(LOG_WARNING,
                  "lock client_uid=%u target=%s for %llds from every rhost (%u failures from all its hosts within %llds)",
                  job.charge, t, static_cast<long long>(settings_.throttle.lockout.count()),
                  settings_.throttle.per_origins, static_cast<long long>(settings_.throttle.window.count()));
    };
    PamResult r = pam_check(settings_.pam_service, job.target, client_name, job.origin, channel);
    if (trapped("PAM")) return;
    switch (r.outcome) {
    case PamOutcome::ok: break;
    case PamOutcome::auth_failed:
        charge();
        deny(Refusal::auth_failed, "auth (" + r.detail + ")", "");
        return;
    case PamOutcome::account:
        deny(Refusal::account, "account (" + r.detail + ")", r.detail.substr(r.detail.find(':') + 2));
        return;
    case PamOutcome::unavailable:  // nothing was checked: not a failure of the client's
        deny(Refusal::internal, "unavailable (" + r.detail + ")", "the authentication service is unavailable; try later");
        return;
    case PamOutcome::client_error: {
        // What broke: the conversation function's own finding, or the channel's.
        const std::string what = !r.conversation.empty() ? r.conversation : channel.what();
        if (r.channel_errno == EPROTO) {  // PAM never saw an answer: no guess, no charge
            deny(Refusal::protocol, "protocol (" + what + ")", what);
            return;
        }
        // Walking away after an answer counts as a failure: the answer may
        // have been a guess whose verdict showed in what PAM sent next.
        if (r.answers > 0) charge();
        if (r.channel_errno == ETIMEDOUT) {
            deny(Refusal::timeout, "timeout (" + what + ")", "no answer in time");
        } else {
            audit_for(job.charge, LOG_WARNING, "deny client_uid=%u client_pid=%d target=%s reason=client gone (%s: %s) %s",
                      job.uid, job.pid, t, what.c_str(), std::strerror(r.channel_errno), o);
        }
        return;
    }
    case PamOutcome::error:
        deny(Refusal::internal, "pam error (" + r.detail + ")", "authentication could not run; see factotum's log");
        return;
    }
    throttle_.succeeded(who, job.target);

    if (!exists) {  // PAM knew the user but NSS does not: nothing to grant
        deny(Refusal::internal, "nss (no passwd entry after PAM success)", "no such user in NSS");
        return;
    }
    // The one text of a login's capability, as p9grant makes it (identity.hpp).
    auto to = identity::login_target(**user, target.groups);
    if (!to) {
        deny(Refusal::internal, "nss (" + to.error().message + ")",
             to.error().errnum == E2BIG ? "target has too many groups" : "the user database could not be read");
        return;
    }
    NewGrant g = make_grant(job.uid, *to);
    {
        std::lock_guard lock(grant_mu_);
        ssize_t n = ::write(caphash_fd_, g.hash.bytes().data(), g.hash.size());
        if (n != static_cast<ssize_t>(g.hash.size())) {
            int e = n < 0 ? errno : EIO;
            deny(Refusal::internal, std::string("grant (write caphash: ") + std::strerror(e) + ")",
                 "the grant failed; see factotum's log");
            return;
        }
    }
    ticket.spent = true;
    audit(LOG_NOTICE, "grant client_uid=%u client_pid=%d target=%s to=%s %s", job.uid, job.pid, t,
          format_target(*to).c_str(), o);
    const auto* p = reinterpret_cast<const std::uint8_t*>(g.capability.data());
    if (int e = wire::send_frame(job.fd, Msg::granted, {p, g.capability.size()}, channel.next_deadline()))
        audit(LOG_WARNING, "lost client_uid=%u client_pid=%d target=%s reason=%s (the grant expires unused) %s",
              job.uid, job.pid, t, std::strerror(e), o);
}

}  // namespace p9auth::factotum
