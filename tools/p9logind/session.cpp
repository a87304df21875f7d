// One login on one connection. Runs in a process of its own (forked by the
// listener, or started by inetd/systemd), as the daemon's unprivileged user.
#include "session.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <security/pam_appl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "identity.hpp"
#include "p9auth.hpp"
#include "terminal.hpp"
#include "utmp.hpp"

namespace p9logind {
namespace {

bool say(int fd, const std::string& s) { return p9auth::term::write_all(fd, s); }

// A line from the peer before the deadline, through the shared reader
// (terminal.hpp): one byte at a time, since what follows the line belongs
// to the shell. An answer over the protocol's limit is refused, never cut:
// the peer is told so. false on that, end of input, error or the deadline.
bool read_line(int in, int out, long long deadline, std::string& line) {
    line.clear();
    auto a = p9auth::term::read_answer(in, deadline);
    if (!a) {
        if (a.error().errnum == p9auth::term::kTooLong) say(out, "\r\np9logind: " + a.error().message + "\r\n");
        return false;
    }
    line.assign(a->data(), a->size());
    return true;
}

struct ConvContext {
    int in, out;
    long long deadline;
    std::string password;  // read before PAM started; answers its first hidden prompt
    bool password_used = false;
};

// PAM's prompts go to the peer; answers are lines from it, except the
// first hidden prompt (factotum's "Password: "), answered with the password
// the peer gave before factotum was asked. Texts are untrusted only in the
// sense that they come from PAM modules we chose.
int converse(int n, const struct pam_message** msg, struct pam_response** resp, void* data) {
    auto* ctx = static_cast<ConvContext*>(data);
    auto* r = static_cast<pam_response*>(std::calloc(static_cast<std::size_t>(n), sizeof(pam_response)));
    if (!r) return PAM_BUF_ERR;
    for (int i = 0; i < n; ++i) {
        std::string text = msg[i]->msg ? msg[i]->msg : "";
        switch (msg[i]->msg_style) {
            case PAM_PROMPT_ECHO_OFF:
            case PAM_PROMPT_ECHO_ON: {
                std::string line;
                bool ok;
                if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF && !ctx->password_used) {
                    ctx->password_used = true;
                    line = ctx->password;  // (a copy, zeroed below, not a swap of short-string buffers)
                    p9auth_zero(ctx->password.data(), ctx->password.size());
                    ok = true;
                } else {
                    ok = say(ctx->out, text) && read_line(ctx->in, ctx->out, ctx->deadline, line);
                }
                if (ok) r[i].resp = ::strdup(line.c_str());
                p9auth_zero(line.data(), line.size());
                if (!ok || !r[i].resp) {
                    for (int j = 0; j < i; ++j) {
                        if (r[j].resp) {
                            p9auth_zero(r[j].resp, std::strlen(r[j].resp));
                            std::free(r[j].resp);
                        }
                    }
                    std::free(r);
                    return PAM_CONV_ERR;
                }
                break;
            }
            default: say(ctx->out, text + "\r\n");
        }
    }
    *resp = r;
    return PAM_SUCCESS;
}

// The child: the pty's slave as its terminal, then p9use with the
// capability becomes the user and runs the login shell in the home
// directory. Never returns.
[[noreturn]] void exec_shell(int slave, const p9auth::login::Capability& cap, const p9auth::identity::User& pw,
                             const Settings& s, char** pam_env) {
    ::setsid();
    ::ioctl(slave, TIOCSCTTY, 0);
    ::dup2(slave, 0);
    ::dup2(slave, 1);
    ::dup2(slave, 2);
    if (slave > 2) ::close(slave);
    std::signal(SIGPIPE, SIG_DFL);
    std::signal(SIGCHLD, SIG_DFL);
    std::string shell = pw.shell.empty() ? "/bin/sh" : pw.shell;
    ::clearenv();
    ::setenv("TERM", "dumb", 1);
    ::setenv("HOME", pw.home.c_str(), 1);
    ::setenv("SHELL", shell.c_str(), 1);
    ::setenv("USER", pw.name.c_str(), 1);
    ::setenv("LOGNAME", pw.name.c_str(), 1);
    ::setenv(
        "PATH",
        pw.uid == 0 ? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" : "/usr/local/bin:/usr/bin:/bin",
        1);
    // What the session modules (pam_env) set, over the defaults, as login(1) does.
    for (char** e = pam_env; e && *e; ++e) ::putenv(*e);
    // A login shell: argv[0] "-sh", in the home directory, which p9use
    // enters as the user after the switch ("/" with a warning otherwise).
    cap.exec_login({shell}, pw.home.c_str(), "-" + shell.substr(shell.rfind('/') + 1),
                   s.p9use.empty() ? nullptr : s.p9use.c_str());
    std::fprintf(stderr, "p9logind: cannot run p9use: %s\r\n", std::strerror(errno));
    std::_Exit(126);
}

// Bytes both ways until the shell's side closes, the peer goes away, or
// nothing moves for idle_timeout. End of input from the peer becomes an
// end-of-file (^D) for the shell.
void relay(int in, int out, int master, int idle_timeout) {
    char buf[4096];
    bool peer_open = true;
    for (;;) {
        pollfd p[2] = {{master, POLLIN, 0}, {in, static_cast<short>(peer_open ? POLLIN : 0), 0}};
        int r = ::poll(p, 2, idle_timeout * 1000);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) {
            say(out, "\r\np9logind: idle timeout\r\n");
            return;
        }
        if (r < 0) return;
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = ::read(master, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return;  // EIO: the last of the shell's descriptors closed
            if (!p9auth::term::write_all(out, {buf, static_cast<std::size_t>(n)})) return;
        }
        if (peer_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = ::read(in, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                peer_open = false;
                const char eof = 4;
                p9auth::term::write_all(master, {&eof, 1});
                continue;
            }
            if (!p9auth::term::write_all(master, {buf, static_cast<std::size_t>(n)})) return;
        }
    }
}

const itimerval kNoTimer{};
int g_timeout_out = -1;  // where the timer's message goes

// Async-signal-safe: a fixed message and _exit. Nothing is logged here
// (syslog is not safe in a handler); the peer is told.
void auth_timed_out(int) {
    static const char msg[] = "\r\np9logind: authentication timed out\r\n";
    ssize_t ignored = ::write(g_timeout_out, msg, sizeof msg - 1);
    (void)ignored;
    ::_exit(1);
}

void arm_auth_deadline(int out, int seconds) {
    g_timeout_out = out;
    struct sigaction sa {};
    sa.sa_handler = auth_timed_out;
    ::sigemptyset(&sa.sa_mask);
    ::sigaction(SIGALRM, &sa, nullptr);
    itimerval t{};
    t.it_value.tv_sec = seconds;
    ::setitimer(ITIMER_REAL, &t, nullptr);
}

void refuse_source(int out, const Settings& s, const std::string& source, long wait) {
    if (wait < 0) {
        syslog(LOG_ERR, "login refused peer=%s: cannot count failed logins in %s: %m", s.peer.c_str(),
               s.state_dir.c_str());
        say(out, "p9logind: not available, try later\r\n");
        return;
    }
    syslog(LOG_NOTICE, "login refused peer=%s: too many failed logins from %s, %ld s left", s.peer.c_str(),
           source.c_str(), wait);
    say(out, "p9logind: too many failed logins from your address; try again in " + std::to_string(wait) + " s\r\n");
}

}  // namespace

std::string peer_address(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "";
    char text[INET6_ADDRSTRLEN] = "";
    if (ss.ss_family == AF_INET) {
        ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, text, sizeof text);
    } else if (ss.ss_family == AF_INET6) {
        const in6_addr& a = reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(&a))
            ::inet_ntop(AF_INET, &a.s6_addr[12], text, sizeof text);
        else
            ::inet_ntop(AF_INET6, &a, text, sizeof text);
    }
    return text;
}

int serve_connection(int in, int out, const Settings& s) {
    std::signal(SIGPIPE, SIG_IGN);
    // The whole authentication phase, reads and the wait for factotum
    // alike, ends at the deadline: the timer ends this process, which
    // closes its factotum connection (so factotum's worker is freed) and
    // the peer's. Reads have their own deadline a little later, so that
    // one message, the timer's, says what happened.
    arm_auth_deadline(out, s.auth_timeout);
    const long long deadline = p9auth::term::now_ms() + s.auth_timeout * 1000LL + 1000;
    SourceThrottle throttle(s.state_dir, s.throttle);
    const std::string source = source_key(s.rhost);
    if (std::string bad = throttle.check(); !bad.empty()) {
        syslog(LOG_ERR, "login refused peer=%s: the state directory %s (--state-dir)", s.peer.c_str(), bad.c_str());
        say(out, "p9logind: not available, try later\r\n");
        return 1;
    }
    // A locked source is told so before it can type anything: nothing of
    // its reaches PAM or factotum.
    if (long wait = throttle.locked_for(source); wait != 0) {
        refuse_source(out, s, source, wait);
        return 1;
    }
    char host[256] = "localhost";
    ::gethostname(host, sizeof host - 1);
    std::string user;
    if (!say(out, std::string(host) + " login: ") || !read_line(in, out, deadline, user) || user.empty()) {
        say(out, "\r\np9logind: no login name\r\n");
        return 1;
    }
    // Names go to the log and to factotum: the one check p9su and p9auth-request make (terminal.hpp).
    if (std::string why = p9auth::term::check_user_name(user); !why.empty()) {
        // Not the name itself, nor why: it may be a password typed at the wrong prompt.
        syslog(LOG_NOTICE, "login refused peer=%s: not a user name factotum accepts", s.peer.c_str());
        say(out, "\r\nLogin incorrect\r\n");
        return 1;
    }
    // The password is read here, before PAM asks factotum, as sshd reads
    // it before PAM: a peer that stalls at the prompt holds this process,
    // never one of factotum's workers.
    ConvContext ctx{in, out, deadline, {}, false};
    if (!say(out, "Password: ") || !read_line(in, out, deadline, ctx.password)) {
        p9auth_zero(ctx.password.data(), ctx.password.size());
        say(out, "\r\np9logind: no password\r\n");
        return 1;
    }
    struct Wipe {  // the password, whatever way this function ends
        std::string& p;
        ~Wipe() { p9auth_zero(p.data(), p.size()); }
    } wipe{ctx.password};
    // Counted as a failure before it is checked, given back if it succeeds.
    if (long wait = throttle.charge(source); wait != 0) {
        refuse_source(out, s, source, wait);
        return 1;
    }
    struct pam_conv conv = {converse, &ctx};
    pam_handle_t* pamh = nullptr;
    if (pam_start(s.service.c_str(), user.c_str(), &conv, &pamh) != PAM_SUCCESS) {
        syslog(LOG_ERR, "pam_start(%s) failed", s.service.c_str());
        return 1;
    }
    // As sshd: the peer as PAM_RHOST, and a tty name that says the service
    // until the pty exists (pam_p9auth hands both on to factotum's stack).
    if ((!s.rhost.empty() && pam_set_item(pamh, PAM_RHOST, s.rhost.c_str()) != PAM_SUCCESS) ||
        pam_set_item(pamh, PAM_TTY, "p9logind") != PAM_SUCCESS) {
        syslog(LOG_ERR, "pam_set_item failed");
        pam_end(pamh, PAM_SYSTEM_ERR);
        return 1;
    }
    int rc = pam_authenticate(pamh, 0);
    if (rc == PAM_SUCCESS) rc = pam_acct_mgmt(pamh, 0);
    p9auth::login::Capability cap;
    bool ok = rc == PAM_SUCCESS && cap.take(pamh);
    std::string why = rc == PAM_SUCCESS ? "no capability from pam_p9auth" : pam_strerror(pamh, rc);
    // After PAM, as login(1) does; an NSS that cannot answer refuses too.
    auto looked_up = p9auth::identity::user_by_name(user);
    const bool found = looked_up && *looked_up;
    if (!looked_up)
        why = "cannot look up the user: " + looked_up.error().message;
    else if (ok && !found)
        why = "PAM passed a user NSS does not know";
    if (!ok || !found) {
        pam_end(pamh, rc);
        // A name nobody has may be a password typed at the login prompt:
        // it is not logged, as factotum does not log it (factotum(8)).
        syslog(LOG_NOTICE, "login refused user=%s peer=%s: %s", found ? user.c_str() : "?(unknown)", s.peer.c_str(),
               why.c_str());
        say(out, "\r\nLogin incorrect\r\n");
        return 1;
    }
    ::setitimer(ITIMER_REAL, &kNoTimer, nullptr);
    throttle.refund(source);
    if (s.authenticated_fd >= 0) {  // the listener counts this peer as authenticated now
        const char one = 1;
        p9auth::term::write_all(s.authenticated_fd, {&one, 1});
        ::close(s.authenticated_fd);
    }
    const p9auth::identity::User& pw = **looked_up;
    syslog(LOG_INFO, "login user=%s uid=%u peer=%s", pw.name.c_str(), pw.uid, s.peer.c_str());
    say(out, "\r\n");

    // The pty belongs to the daemon's user: without privilege we cannot
    // give the slave to the user (see p9logind(8)).
    int master = -1, slave = -1;
    if (::openpty(&master, &slave, nullptr, nullptr, nullptr) < 0) {
        pam_end(pamh, PAM_SYSTEM_ERR);
        syslog(LOG_ERR, "openpty: %m");
        say(out, "p9logind: no pseudo-terminal available\r\n");
        return 1;
    }
    char tty[64] = "";
    if (::ttyname_r(slave, tty, sizeof tty) != 0) std::snprintf(tty, sizeof tty, "?");
    // The session phase, on the same handle, with the real terminal: what
    // an unprivileged process can run (pam_env, pam_limits lowering
    // limits, pam_mail...), in this process so that the shell inherits it.
    // A failure refuses the login, as login(1) does. No pam_setcred: the
    // credentials are the capability's, set by p9use (p9logind(8)).
    pam_set_item(pamh, PAM_TTY, tty);
    rc = pam_open_session(pamh, 0);
    if (rc != PAM_SUCCESS) {
        syslog(LOG_NOTICE, "login refused user=%s peer=%s: pam_open_session: %s", pw.name.c_str(), s.peer.c_str(),
               pam_strerror(pamh, rc));
        pam_end(pamh, rc);
        say(out, "p9logind: the session could not be opened\r\n");
        return 1;
    }
    char** pam_env = pam_getenvlist(pamh);
    pid_t child = ::fork();
    if (child < 0) {
        syslog(LOG_ERR, "fork: %m");
        pam_close_session(pamh, 0);
        pam_end(pamh, PAM_SYSTEM_ERR);
        return 1;
    }
    if (child == 0) {
        ::close(master);
        if (in > 2) ::close(in);
        if (out > 2 && out != in) ::close(out);
        exec_shell(slave, cap, pw, s, pam_env);
    }
    for (char** e = pam_env; e && *e; ++e) std::free(*e);
    std::free(pam_env);
    ::close(slave);
    { p9auth::login::Capability spent = std::move(cap); }  // zeroed: the child has it
    // who, last and lastlog see the login as they see login's and sshd's.
    LoginRecord rec{std::strncmp(tty, "/dev/", 5) == 0 ? tty + 5 : tty, pw.name.c_str(), s.rhost, child, pw.uid};
    record_login(rec);
    relay(in, out, master, s.idle_timeout);
    ::close(master);  // a hangup for the session, if it is still there
    // The shell (now the user's) normally dies of the hangup; we wait a
    // little, then leave it to init rather than hang.
    int status = 0;
    for (int i = 0; i < 500 && ::waitpid(child, &status, WNOHANG) == 0; ++i) ::usleep(10000);
    record_logout(rec);
    rc = pam_close_session(pamh, 0);
    if (rc != PAM_SUCCESS)
        syslog(LOG_WARNING, "pam_close_session user=%s: %s", pw.name.c_str(), pam_strerror(pamh, rc));
    pam_end(pamh, rc);
    syslog(LOG_INFO, "logout user=%s peer=%s", pw.name.c_str(), s.peer.c_str());
    return 0;
}

}  // namespace p9logind
