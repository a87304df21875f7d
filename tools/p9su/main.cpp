// p9su: su without privilege. Run by any user; asks factotum for a
// capability to become the target (the target's password, through
// factotum's PAM stack, typed on the terminal with echo off), then execs
// p9use with the capability on a pipe descriptor, which becomes exactly the
// target and runs the shell. See p9su(1).
//
// Exit status, as su: 1 authentication or other failure before the switch,
// 126 the program cannot be run, 127 it is not found, else its status.
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pty.h>
#include <security/pam_appl.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "client.hpp"
#include "config.hpp"
#include "die.hpp"
#include "identity.hpp"
#include "p9auth.h"
#include "terminal.hpp"
#include "wire.hpp"

extern char** environ;

namespace {

constexpr int kFailure = 1;

struct Args {
    bool login = false;
    bool preserve_env = false;
    std::string command;
    bool has_command = false;
    bool pty = false;   // --pty: the target on a pseudo-terminal of its own
    std::string shell;  // -s
    std::string user = "root";
    std::vector<std::string> extra;  // arguments for the shell
    std::string socket;
    std::string p9use;  // empty: the installed one
};

constexpr int kUsage = 2;
constexpr const char* kUsageText =
    "usage: p9su [-|-l] [-m] [-P] [-c COMMAND] [-s SHELL] [--socket PATH] [USER [ARG...]]\n";

[[noreturn]] void usage_error(const std::string& message) {
    std::fprintf(stderr, "p9su: %s\n%s", message.c_str(), kUsageText);
    std::exit(kUsage);
}

// getopt_long, permuting as util-linux su does (`p9su - bob -c id`); a lone
// "-" is not an option to getopt and is taken, as by su, when it comes
// first among the operands.
Args parse_args(int argc, char** argv) {
    enum { kSocket = 256, kP9use, kVersion };
    static const option longopts[] = {{"login", no_argument, nullptr, 'l'},
                                      {"preserve-environment", no_argument, nullptr, 'm'},
                                      {"command", required_argument, nullptr, 'c'},
                                      {"shell", required_argument, nullptr, 's'},
                                      {"pty", no_argument, nullptr, 'P'},
                                      {"socket", required_argument, nullptr, kSocket},
                                      {"p9use", required_argument, nullptr, kP9use},
                                      {"help", no_argument, nullptr, 'h'},
                                      {"version", no_argument, nullptr, kVersion},
                                      {nullptr, 0, nullptr, 0}};
    Args a;
    ::opterr = 0;
    for (int c; (c = ::getopt_long(argc, argv, ":lmpPc:s:h", longopts, nullptr)) != -1;) {
        const std::string opt = ::optind > 0 && ::optind <= argc ? argv[::optind - 1] : "?";
        switch (c) {
            case 'l': a.login = true; break;
            case 'm':
            case 'p': a.preserve_env = true; break;
            case 'c': a.command = ::optarg, a.has_command = true; break;
            case 's': a.shell = ::optarg; break;
            case 'P': a.pty = true; break;
            case kSocket: a.socket = ::optarg; break;
            case kP9use: a.p9use = ::optarg; break;
            case 'h':
                std::printf(
                    "%sRuns a shell (or COMMAND) as USER (default root) after USER's password,\n"
                    "through factotum and p9use, with no privilege of its own. See p9su(1).\n",
                    kUsageText);
                std::exit(std::fflush(stdout) == 0 ? 0 : kFailure);
            case kVersion: std::printf("p9su %s\n", P9AUTH_VERSION); std::exit(std::fflush(stdout) == 0 ? 0 : kFailure);
            case ':': usage_error(opt + " needs a value");
            default:
                usage_error("unknown option " +
                            (::optopt && ::optopt < 256 ? "-" + std::string(1, static_cast<char>(::optopt)) : opt));
        }
    }
    int i = ::optind;
    if (i < argc && std::strcmp(argv[i], "-") == 0) {
        a.login = true;
        ++i;
    }
    if (i < argc) a.user = argv[i++];
    for (; i < argc; ++i) a.extra.emplace_back(argv[i]);
    return a;
}

using p9auth::term::printable;  // PAM text is untrusted (terminal.hpp)

// factotum's prompts on the terminal, echo off when PAM says so. Without a
// terminal, answers are lines of standard input.
class TerminalConversation final : public p9auth::Conversation {
public:
    TerminalConversation() {
        tty_ = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
        in_ = tty_ >= 0 ? tty_ : 0;
        out_ = tty_ >= 0 ? tty_ : 2;
    }
    ~TerminalConversation() override {
        if (tty_ >= 0) ::close(tty_);
    }
    TerminalConversation(const TerminalConversation&) = delete;
    TerminalConversation& operator=(const TerminalConversation&) = delete;

    // The shared helpers (terminal.hpp): echo off before the prompt shows;
    // an answer over the protocol's limit is refused, never cut and sent.
    p9auth::Expected<p9auth::SecretString> prompt(std::string_view text, bool echo) override {
        return p9auth::term::ask(in_, out_, text, echo);
    }
    // The terminal's name as PAM_TTY has it ("/dev/pts/3"); "" without a
    // terminal, or with a name factotum would not take.
    std::string tty_name() const {
        char name[64];
        if (tty_ < 0 || ::ttyname_r(tty_, name, sizeof name) != 0) return "";
        std::string s = name;
        return p9auth::wire::check_origin_tty(s).empty() ? s : "";
    }
    void info(std::string_view text) override { p9auth::term::write_all(out_, printable(text) + "\n"); }
    void error(std::string_view text) override { p9auth::term::write_all(out_, printable(text) + "\n"); }

private:
    int tty_ = -1, in_ = 0, out_ = 2;
};

// /etc/shells lists the shell: su lets -s choose only such a shell when
// the target's own is one too.
bool listed_shell(const std::string& shell) {
    std::FILE* f = std::fopen("/etc/shells", "re");
    if (!f) return false;
    char line[4096];
    bool found = false;
    while (!found && std::fgets(line, sizeof line, f)) {
        line[std::strcspn(line, "\n")] = '\0';
        found = shell == line;
    }
    std::fclose(f);
    return found;
}

// The environment, as util-linux su sets it.
void set_environment(const Args& a, const p9auth::identity::User& pw, const std::string& shell) {
    if (a.preserve_env && !a.login) return;
    if (a.login) {
        const char* term = std::getenv("TERM");
        std::string keep_term = term ? term : "";
        ::clearenv();
        if (!keep_term.empty()) ::setenv("TERM", keep_term.c_str(), 1);
        ::setenv("PATH",
                 pw.uid == 0 ? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
                             : "/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games",
                 1);
    }
    ::setenv("HOME", pw.home.c_str(), 1);
    ::setenv("SHELL", shell.c_str(), 1);
    if (a.login || pw.uid != 0) {
        ::setenv("USER", pw.name.c_str(), 1);
        ::setenv("LOGNAME", pw.name.c_str(), 1);
    }
}

// The session phase's conversation: session modules only tell (pam_motd,
// pam_mail); a prompt there is refused.
int session_converse(int n, const pam_message** msg, pam_response** resp, void*) {
    auto* r = static_cast<pam_response*>(std::calloc(static_cast<std::size_t>(n), sizeof(pam_response)));
    if (!r) return PAM_BUF_ERR;
    for (int i = 0; i < n; ++i) {
        if (msg[i]->msg_style != PAM_TEXT_INFO && msg[i]->msg_style != PAM_ERROR_MSG) {
            std::free(r);
            return PAM_CONV_ERR;
        }
        std::string t = printable(msg[i]->msg ? msg[i]->msg : "") + "\n";
        ssize_t ignored = ::write(2, t.data(), t.size());
        (void)ignored;
    }
    *resp = r;
    return PAM_SUCCESS;
}

// The PAM session phase that su opens, on p9su's own handle (service
// "p9su"), as the caller: what needs no privilege (pam_env, pam_limits
// lowering limits...). nullptr, with the reason printed, if it fails.
pam_handle_t* open_session(const std::string& user, const std::string& tty) {
    static pam_conv conv{session_converse, nullptr};
    pam_handle_t* pamh = nullptr;
    int rc = ::pam_start("p9su", user.c_str(), &conv, &pamh);
    if (rc != PAM_SUCCESS) {
        std::fprintf(stderr, "p9su: pam_start: %s\n", ::pam_strerror(pamh, rc));
        return nullptr;
    }
    const auto me = p9auth::identity::user_by_uid(::getuid());
    const std::string caller = me && *me ? (*me)->name : std::to_string(::getuid());
    if ((rc = ::pam_set_item(pamh, PAM_RUSER, caller.c_str())) == PAM_SUCCESS && !tty.empty())
        rc = ::pam_set_item(pamh, PAM_TTY, tty.c_str());
    if (rc == PAM_SUCCESS) rc = ::pam_open_session(pamh, 0);
    if (rc != PAM_SUCCESS) {
        std::fprintf(stderr, "p9su: cannot open the session: %s\n", ::pam_strerror(pamh, rc));
        ::pam_end(pamh, rc);
        return nullptr;
    }
    return pamh;
}

pid_t g_child = 0;
int g_wake = -1;  // the write end of the relay's self-pipe
volatile sig_atomic_t g_winch = 0, g_hangup = 0;
void forward(int sig) {
    if (g_child > 0) ::kill(g_child, sig);
}
void wake(int sig) {
    if (sig == SIGWINCH)
        g_winch = 1;
    else if (sig != SIGCHLD)
        g_hangup = 1;
    const int saved = errno;
    const char c = 0;
    ssize_t ignored = ::write(g_wake, &c, 1);
    (void)ignored;
    errno = saved;
}

void on_signal(int sig, void (*handler)(int)) {
    struct sigaction sa {};
    sa.sa_handler = handler;
    ::sigemptyset(&sa.sa_mask);
    ::sigaction(sig, &sa, nullptr);
}

// su's status for a wait status: the child's, or 128 + its signal.
int exit_status(int st) { return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st); }

// As su: the parent waits for the session's process, stops when it
// stops, forwards SIGTERM and SIGHUP (which the kernel lets through only
// when the target is the caller's own uid: p9su has no privilege), and
// leaves SIGINT and SIGQUIT to the terminal. A -c command in a session of
// its own is out of the terminal's reach: p9su(1) points to --pty.
int wait_for(pid_t child) {
    g_child = child;
    on_signal(SIGTERM, forward);
    on_signal(SIGHUP, forward);
    std::signal(SIGINT, SIG_IGN);
    std::signal(SIGQUIT, SIG_IGN);
    for (;;) {
        int st = 0;
        pid_t r = ::waitpid(child, &st, WUNTRACED);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return kFailure;
        if (WIFSTOPPED(st)) {
            ::kill(::getpid(), SIGSTOP);
            ::kill(child, SIGCONT);
            continue;
        }
        return exit_status(st);
    }
}

// --pty: the caller's terminal, in raw mode, relayed to and from the
// target's own pseudo-terminal until the target ends; the caller's modes
// come back whatever happens, and a change of its window size is passed
// on. SIGTERM, SIGHUP or SIGINT to p9su (typed ^C arrives as a byte)
// hang the target's terminal up: the kernel signals the target's session
// then, which p9su, another uid, could not. Returns su's status.
int relay_pty(pid_t child, int master, int wake_read) {
    for (int sig : {SIGTERM, SIGHUP, SIGINT, SIGQUIT}) on_signal(sig, wake);
    termios saved{};
    const bool raw = ::isatty(0) && ::tcgetattr(0, &saved) == 0;
    if (raw) {
        termios t = saved;
        ::cfmakeraw(&t);
        ::tcsetattr(0, TCSANOW, &t);
    }
    char buf[4096];
    bool in_open = true;
    int status = -1;
    for (;;) {
        pollfd p[3] = {{master, POLLIN, 0}, {wake_read, POLLIN, 0}, {0, static_cast<short>(in_open ? POLLIN : 0), 0}};
        if (::poll(p, in_open ? 3 : 2, -1) < 0 && errno != EINTR) break;
        if (g_hangup) break;
        if (p[1].revents & POLLIN) {
            while (::read(wake_read, buf, sizeof buf) > 0) {
            }
        }
        if (g_winch) {
            g_winch = 0;
            winsize ws{};
            if (::ioctl(0, TIOCGWINSZ, &ws) == 0) ::ioctl(master, TIOCSWINSZ, &ws);
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = ::read(master, buf, sizeof buf);
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (n <= 0) break;  // EIO: every descriptor of the target's terminal is closed
            if (!p9auth::term::write_all(1, {buf, static_cast<std::size_t>(n)})) break;
        }
        if (in_open && (p[2].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = ::read(0, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                // The end of the caller's input: an end-of-file for the target.
                in_open = false;
                termios t{};
                const char eof = ::tcgetattr(master, &t) == 0 ? static_cast<char>(t.c_cc[VEOF]) : 4;
                p9auth::term::write_all(master, {&eof, 1});
                continue;
            }
            if (!p9auth::term::write_all(master, {buf, static_cast<std::size_t>(n)})) break;
        }
        // The target gone while something it left holds the terminal: what
        // it wrote is passed on, then the relay ends.
        int st = 0;
        if (status < 0 && ::waitpid(child, &st, WNOHANG) == child) {
            status = st;
            ::fcntl(master, F_SETFL, ::fcntl(master, F_GETFL) | O_NONBLOCK);
            for (ssize_t n; (n = ::read(master, buf, sizeof buf)) > 0;)
                if (!p9auth::term::write_all(1, {buf, static_cast<std::size_t>(n)})) break;
            break;
        }
    }
    if (raw) ::tcsetattr(0, TCSAFLUSH, &saved);
    ::close(master);
    while (status < 0) {
        int st = 0;
        pid_t r = ::waitpid(child, &st, 0);
        if (r == child)
            status = st;
        else if (r < 0 && errno != EINTR)
            return kFailure;
    }
    return exit_status(status);
}

}  // namespace

static int main_body(int argc, char** argv) {
    Args a = parse_args(argc, argv);
    if (std::string why = p9auth::term::check_user_name(a.user); !why.empty()) usage_error("USER: " + why);
    // An unknown user is asked for a password all the same (factotum does
    // not tell them apart), and refused: the stand-in's ids are nobody's
    // and are never used, as no grant comes. NSS that cannot answer ends it.
    auto found = p9auth::identity::user_by_name(a.user);
    if (!found) return p9auth::fatal("p9su", kFailure, "cannot look up the user: " + found.error().message);
    const p9auth::identity::User pw =
        found->value_or(p9auth::identity::User{a.user, static_cast<uid_t>(-1), static_cast<gid_t>(-1), "/", ""});
    std::string shell = pw.shell.empty() ? "/bin/sh" : pw.shell;
    if (!a.shell.empty()) {
        if (listed_shell(shell) && listed_shell(a.shell))
            shell = a.shell;
        else
            std::fprintf(stderr, "p9su: using restricted shell %s\n", shell.c_str());
    }

    std::string socket = a.socket;
    if (socket.empty()) {
        auto cfg = p9auth::load_config();
        if (!cfg) return p9auth::fatal("p9su", kFailure, cfg.error().message);
        socket = cfg->factotum_socket;
    }

    TerminalConversation conv;
    p9auth::RequestOptions ro;
    const std::string tty = conv.tty_name();
    ro.tty = tty;  // PAM_TTY for factotum's stack, as su gives its own
    auto cap = p9auth::request_capability(socket, a.user, conv, ro);
    if (!cap) {
        const auto& e = cap.error();
        if (e.errnum == EACCES || e.errnum == EKEYEXPIRED)
            return p9auth::fatal("p9su", kFailure, "Authentication failure (" + e.message + ")");
        return p9auth::fatal("p9su", kFailure, e.message);
    }

    // The session, after the grant and before the switch, in this process
    // so that what it sets (environment, lowered limits) reaches the shell.
    set_environment(a, pw, shell);
    pam_handle_t* pamh = open_session(pw.name, tty);
    if (!pamh) return kFailure;
    if (char** env = ::pam_getenvlist(pamh)) {
        for (char** e = env; *e; ++e) ::putenv(*e);  // putenv keeps them: not freed
        std::free(env);
    }
    std::vector<std::string> args{shell};
    if (a.has_command) {
        args.emplace_back("-c");
        args.push_back(a.command);
    }
    for (auto& x : a.extra) args.push_back(x);
    std::vector<char*> av;
    for (auto& x : args) av.push_back(x.data());
    av.push_back(nullptr);

    const char* p9use = a.p9use.empty() ? nullptr : a.p9use.c_str();
    // --pty: the target's own terminal, sized and set as the caller's.
    int master = -1, slave = -1, wake_pipe[2] = {-1, -1};
    if (a.pty) {
        termios t{};
        winsize ws{};
        const bool tty_in = ::isatty(0) && ::tcgetattr(0, &t) == 0;
        const bool sized = tty_in && ::ioctl(0, TIOCGWINSZ, &ws) == 0;
        if (::openpty(&master, &slave, nullptr, tty_in ? &t : nullptr, sized ? &ws : nullptr) != 0 ||
            ::pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
            std::fprintf(stderr, "p9su: --pty: no pseudo-terminal: %s\n", std::strerror(errno));
            ::pam_close_session(pamh, 0);
            ::pam_end(pamh, PAM_SYSTEM_ERR);
            return kFailure;
        }
        ::fcntl(master, F_SETFD, FD_CLOEXEC);
        g_wake = wake_pipe[1];
        // Before the fork, so that the end of a quick target is not missed
        // (the handlers go back to default at the target's exec).
        on_signal(SIGCHLD, wake);
        on_signal(SIGWINCH, wake);
    }
    std::fflush(nullptr);
    const pid_t child = ::fork();
    if (child < 0) {
        std::fprintf(stderr, "p9su: fork: %s\n", std::strerror(errno));
        ::pam_close_session(pamh, 0);
        ::pam_end(pamh, PAM_SYSTEM_ERR);
        return kFailure;
    }
    if (child == 0) {
        // A command runs in a session of its own, as with util-linux su:
        // without the caller's terminal as its controlling terminal it
        // cannot push input into it (TIOCSTI) nor signal its jobs. With
        // --pty it gets a terminal of its own instead.
        if (a.has_command || a.pty) ::setsid();
        if (a.pty) {
            if (::ioctl(slave, TIOCSCTTY, 0) != 0 || ::dup2(slave, 0) < 0 || ::dup2(slave, 1) < 0 ||
                ::dup2(slave, 2) < 0) {
                std::fprintf(stderr, "p9su: --pty: cannot take the terminal: %s\n", std::strerror(errno));
                std::_Exit(kFailure);
            }
            if (slave > 2) ::close(slave);
        }
        if (a.login) {
            // A login shell as su starts one: argv[0] "-" and the shell's name,
            // in the home directory, entered as the target (the caller may not
            // be able to), by p9use after the switch.
            const std::string argv0 = "-" + shell.substr(shell.rfind('/') + 1);
            p9auth_exec_as_login(p9use, cap->data(), cap->size(), pw.home.c_str(), argv0.c_str(), av.data());
        } else {
            p9auth_exec_as(p9use, cap->data(), cap->size(), av.data());
        }
        int e = errno;
        std::fprintf(stderr, "p9su: cannot run p9use: %s\n", std::strerror(e));
        std::_Exit(e == ENOENT ? 127 : 126);
    }
    cap->clear();  // the child has it
    int status;
    if (a.pty) {
        ::close(slave);
        status = relay_pty(child, master, wake_pipe[0]);
    } else {
        status = wait_for(child);
    }
    const int rc = ::pam_close_session(pamh, 0);
    if (rc != PAM_SUCCESS) std::fprintf(stderr, "p9su: cannot close the session: %s\n", ::pam_strerror(pamh, rc));
    ::pam_end(pamh, rc);
    return status;
}

int main(int argc, char** argv) {
    return p9auth::run_main("p9su", kFailure, [&] { return main_body(argc, argv); });
}
