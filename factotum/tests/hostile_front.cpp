// A hostile front: the real monitor (Monitor::serve, with the real policy,
// real PAM and the real caphash of a p9authfs mount) driven by a front that
// breaks every rule it can. Whatever it sends, it must get no grant it
// could not have got honestly: each scenario checks the mount's `granted`
// counter and how the monitor ended. Run by hostile_front.sh as root, in
// the factotum test namespaces (fixture users, the p9auth-test PAM stack).
//
// usage: factotum-test-hostile-front MOUNT SOCKET POLICY PAM_SERVICE
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "capability.hpp"
#include "grant.hpp"
#include "listen.hpp"
#include "monitor.hpp"
#include "monitor_wire.hpp"
#include "policy.hpp"
#include "die.hpp"

using namespace p9auth;
using namespace p9auth::factotum;
namespace mon = p9auth::factotum::mon;

namespace {

std::string g_mount, g_socket, g_policy, g_service;
int g_failures = 0;
int g_listen = -1;
int g_caphash = -1;

void check(bool ok, const std::string& what) {
    std::printf("%s: %s\n", ok ? "PASS" : "FAIL", what.c_str());
    if (!ok) ++g_failures;
}

long granted_count() {
    std::ifstream f(g_mount + "/status");
    std::string name;
    long value = 0;
    while (f >> name >> value)
        if (name == "granted") return value;
    return -1;
}

// A client process of uid that connects to path and holds the connection
// until the test is done with it; the accepted end is returned.
struct Client {
    pid_t pid = -1;
    int accepted = -1;
};
Client connect_as(uid_t uid, const std::string& path, int listen_fd) {
    Client c;
    c.pid = ::fork();
    if (c.pid == 0) {
        // Nothing of the front's: a channel held here would keep the monitor from seeing its end.
        ::close_range(3, ~0u, 0);
        gid_t g = uid;
        if (::setgroups(1, &g) != 0 || ::setresgid(uid, uid, uid) != 0 || ::setresuid(uid, uid, uid) != 0) ::_exit(2);
        int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
        if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) ::_exit(3);
        char b;
        while (::read(s, &b, 1) > 0) {
        }
        ::_exit(0);
    }
    // Blocking: the client may not have connected yet.
    ::fcntl(listen_fd, F_SETFL, ::fcntl(listen_fd, F_GETFL) & ~O_NONBLOCK);
    c.accepted = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    return c;
}
void release(Client& c) {
    if (c.accepted >= 0) ::close(c.accepted);
    if (c.pid > 0) {
        ::kill(c.pid, SIGKILL);
        ::waitpid(c.pid, nullptr, 0);
    }
}

// A fresh monitor on one channel, as factotum's monitor runs it.
struct Rig {
    pid_t monitor = -1;
    int chan = -1;
};
Rig start_monitor() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        std::perror("socketpair");
        std::exit(2);
    }
    Rig r;
    r.monitor = ::fork();
    if (r.monitor == 0) {
        ::close(sv[1]);
        auto policy = Policy::load(g_policy);
        if (!policy) ::_exit(2);
        MonitorSettings ms;
        ms.pam_service = g_service;
        ms.caphash_fd = g_caphash;
        ms.socket_addresses.push_back(unix_address_of(g_listen));
        Monitor m(std::move(ms), std::move(*policy));
        ::_exit(m.serve(sv[0]) == 0 ? 0 : 3);
    }
    ::close(sv[0]);
    r.chan = sv[1];
    return r;
}
// How the monitor ended once the front hangs up: 0 (served on), 3 (it
// found the front broken and stopped).
int finish(Rig& r) {
    ::close(r.chan);
    int st = 0;
    ::waitpid(r.monitor, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

struct Reply {
    int err = 0;
    mon::Type type{};
    std::string payload;
};
Reply next(int chan) {
    std::vector<std::uint8_t> buf(mon::kMaxPacket);
    mon::Packet p;
    Reply r;
    r.err = mon::recv_packet(chan, buf, &p);
    if (r.err == 0) {
        r.type = p.type;
        r.payload.assign(reinterpret_cast<const char*>(p.payload.data()), p.payload.size());
    }
    return r;
}
std::string begin_payload(const std::string& target) { return mon::encode_begin({target, {}}); }

// The honest dialogue up to the verdict, answering each prompt with answer.
std::optional<mon::Verdict> honest(int chan, int client_fd, const std::string& target, const std::string& answer) {
    if (mon::send_packet(chan, mon::Type::begin, begin_payload(target), client_fd)) return std::nullopt;
    Reply r = next(chan);
    if (r.err) return std::nullopt;
    if (r.type == mon::Type::known) r = next(chan);
    while (r.err == 0 && (r.type == mon::Type::prompt || r.type == mon::Type::tell)) {
        if (r.type == mon::Type::prompt)
            mon::send_packet(chan, mon::Type::answer, answer);
        else
            mon::send_packet(chan, mon::Type::told, std::string(1, '\0'));
        r = next(chan);
    }
    if (r.err || r.type != mon::Type::verdict) return std::nullopt;
    return mon::decode_verdict(r.payload);
}

// One scenario: a fresh monitor, alice's connection (uid 2001), the body,
// then the checks: how many grants, and whether the monitor stopped.
void scenario(const std::string& name, long grants, int monitor_exit, const std::function<void(Rig&, Client&)>& body,
              uid_t client_uid = 2001) {
    const long before = granted_count();
    Rig rig = start_monitor();
    Client c = connect_as(client_uid, g_socket, g_listen);
    body(rig, c);
    int ended = finish(rig);
    release(c);
    const long got = granted_count() - before;
    check(got == grants && ended == monitor_exit,
          name + " (grants " + std::to_string(got) + ", expected " + std::to_string(grants) + "; monitor ended " +
              std::to_string(ended) + ", expected " + std::to_string(monitor_exit) + ")");
}

}  // namespace

static int main_body(int argc, char** argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: factotum-test-hostile-front MOUNT SOCKET POLICY PAM_SERVICE\n");
        return 2;
    }
    g_mount = argv[1];
    g_socket = argv[2];
    g_policy = argv[3];
    g_service = argv[4];
    ::signal(SIGPIPE, SIG_IGN);
    core_init();
    g_caphash = ::open((g_mount + "/caphash").c_str(), O_WRONLY | O_CLOEXEC);
    auto l = bind_socket(g_socket);
    if (g_caphash < 0 || !l) {
        std::fprintf(stderr, "hostile front: caphash or socket: %s\n", std::strerror(errno));
        return 2;
    }
    g_listen = *l;
    const std::string right = "bob secret!";

    // The control: an honest front gets what it asks for, and no more.
    scenario("honest: alice as bob, right password: one grant, FROM is alice's uid", 1, 0, [&](Rig& r, Client& c) {
        auto v = honest(r.chan, c.accepted, "bob", right);
        check(v && v->granted && v->capability.view().starts_with("2001@2002:"), "the capability names 2001 as FROM");
    });
    scenario("honest: wrong password: no grant", 0, 0, [&](Rig& r, Client& c) {
        auto v = honest(r.chan, c.accepted, "bob", "guess");
        check(v && !v->granted && v->refusal == wire::Refusal::auth_failed &&
                  v->throttle == mon::Verdict::Throttle::failed,
              "refused as auth_failed, charged");
    });
    scenario(
        "policy judged by the monitor: carol as bob, right password: no grant, no prompt", 0, 0,
        [&](Rig& r, Client& c) {
            auto v = honest(r.chan, c.accepted, "bob", right);
            check(v && !v->granted && v->refusal == wire::Refusal::not_permitted, "refused as not permitted");
        },
        2003);
    scenario("a lookup (a login the front refused itself), then an honest login on the same channel: one grant", 1, 0,
             [&](Rig& r, Client& c) {
                 mon::send_packet(r.chan, mon::Type::lookup, "bob");
                 Reply k = next(r.chan);
                 mon::send_packet(r.chan, mon::Type::lookup, "nosuchuser");
                 Reply u = next(r.chan);
                 auto v = honest(r.chan, c.accepted, "bob", right);
                 check(k.type == mon::Type::known && k.payload == "bob" && u.payload == "?(unknown)" && v && v->granted,
                       "a lookup answers the name to log (an unknown one hidden) and leaves the channel idle");
             });
    scenario("a lookup with a descriptor: monitor stops", 0, 3, [&](Rig& r, Client& c) {
        mon::send_packet(r.chan, mon::Type::lookup, "bob", c.accepted);
        next(r.chan);
    });

    // Who asks comes from the connection, and only a connection to factotum's socket.
    scenario("begin without the client's connection: refused, monitor stops", 0, 3,
             [&](Rig& r, Client&) { mon::send_packet(r.chan, mon::Type::begin, begin_payload("bob")); });
    scenario("begin with the listening socket (SO_PEERCRED would be factotum's own): monitor stops", 0, 3,
             [&](Rig& r, Client&) { mon::send_packet(r.chan, mon::Type::begin, begin_payload("bob"), g_listen); });
    scenario("begin with a socketpair the front made (peer: the front itself): monitor stops", 0, 3,
             [&](Rig& r, Client&) {
                 int sv[2];
                 ::socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
                 mon::send_packet(r.chan, mon::Type::begin, begin_payload("bob"), sv[0]);
                 next(r.chan);
             });
    scenario("begin with alice's connection to another socket the front bound: monitor stops", 0, 3,
             [&](Rig& r, Client&) {
                 const std::string other = g_socket + ".other";
                 auto ol = bind_socket(other);
                 Client o = connect_as(2001, other, *ol);
                 mon::send_packet(r.chan, mon::Type::begin, begin_payload("bob"), o.accepted);
                 release(o);
                 ::close(*ol);
             });
    scenario("begin with two descriptors: monitor stops", 0, 3, [&](Rig& r, Client& c) {
        // Two SCM_RIGHTS descriptors in one packet, by hand.
        std::string p = std::string(1, static_cast<char>(mon::Type::begin)) + begin_payload("bob");
        iovec iov{p.data(), p.size()};
        alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
        msghdr mh{};
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = control;
        mh.msg_controllen = sizeof control;
        cmsghdr* cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(2 * sizeof(int));
        int fds[2] = {c.accepted, c.accepted};
        std::memcpy(CMSG_DATA(cm), fds, sizeof fds);
        ::sendmsg(r.chan, &mh, 0);
    });
    scenario("a malformed target in begin: monitor stops", 0, 3, [&](Rig& r, Client& c) {
        mon::send_packet(r.chan, mon::Type::begin, begin_payload("evil:0"), c.accepted);
    });

    // Out of turn: every packet only in its state.
    scenario("an answer (the right password) before any begin: monitor stops, no grant", 0, 3, [&](Rig& r, Client&) {
        mon::send_packet(r.chan, mon::Type::answer, right);
        next(r.chan);
    });
    scenario("a told before any tell: monitor stops", 0, 3,
             [&](Rig& r, Client&) { mon::send_packet(r.chan, mon::Type::told, std::string(1, '\0')); });
    scenario("a second begin at the prompt: monitor stops, no grant", 0, 3, [&](Rig& r, Client& c) {
        mon::send_packet(r.chan, mon::Type::begin, begin_payload("bob"), c.accepted);
        next(r.chan);  // known
        next(r.chan);  // the prompt
        mon::send_packet(r.chan, mon::Type::begin, begin_payload("alice"), c.accepted);
        next(r.chan);
    });
    scenario("a verdict sent by the front: monitor stops, no grant", 0, 3, [&](Rig& r, Client&) {
        mon::Verdict v;
        v.granted = true;
        v.capability = SecretString("2001@0@x");
        mon::send_packet(r.chan, mon::Type::verdict, mon::encode_verdict(v));
    });
    scenario("an answer over the answer limit: monitor stops, no grant", 0, 3, [&](Rig& r, Client& c) {
        mon::send_packet(r.chan, mon::Type::begin, begin_payload("bob"), c.accepted);
        next(r.chan);  // known
        next(r.chan);  // the prompt
        mon::send_packet(r.chan, mon::Type::answer, std::string(wire::kMaxAnswer + 1, 'x'));
        next(r.chan);
    });
    scenario("no_answer that claims no failure: monitor stops, no grant", 0, 3, [&](Rig& r, Client& c) {
        mon::send_packet(r.chan, mon::Type::begin, begin_payload("bob"), c.accepted);
        next(r.chan);  // known
        next(r.chan);  // the prompt
        mon::send_packet(r.chan, mon::Type::no_answer, std::string(1, '\0'));
        next(r.chan);
    });
    scenario("an unknown packet type: monitor stops", 0, 3,
             [&](Rig& r, Client&) { mon::send_packet(r.chan, static_cast<mon::Type>(0x7f), "x"); });
    std::printf("%s: %d failure(s)\n", g_failures ? "FAIL" : "PASS", g_failures);
    return g_failures ? 1 : 0;
}

int main(int argc, char** argv) {
    return p9auth::run_main("hostile-front", 1, [&] { return main_body(argc, argv); });
}
