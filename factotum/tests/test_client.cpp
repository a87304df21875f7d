// factotum-test-client: a deliberately misbehaving (or well-behaved) client
// for factotum's end-to-end tests. Not installed.
//
//   factotum-test-client raw SOCKET OP...
//       OPs, in order: w:HEX (send bytes), frame:TYPE:TEXT (a whole frame),
//       r (read one frame, print it), s:MS (pause), e (expect EOF: print it),
//       p:TEXT (print TEXT: e.g. that the connection is made)
//       Prints one line per frame read: "refused CODE TEXT", "granted FROM@TO",
//       "prompt_echo_off TEXT", ..., or "eof".
//   factotum-test-client many SOCKET TARGET N
//       N concurrent requests, answering every prompt with the first line of
//       stdin; prints each capability on its own line, then "ok K of N".
//   factotum-test-client use MOUNT
//       writes each capability read from stdin to MOUNT/capuse as we are;
//       prints "used K of N".
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"
#include "frame_io.hpp"
#include "wire.hpp"

namespace {

using Clock = std::chrono::steady_clock;

int connect_to(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        std::perror("connect");
        std::exit(3);
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

std::vector<std::uint8_t> unhex(const std::string& h) {
    std::vector<std::uint8_t> out;
    for (std::size_t i = 0; i + 1 < h.size(); i += 2)
        out.push_back(static_cast<std::uint8_t>(std::stoul(h.substr(i, 2), nullptr, 16)));
    return out;
}

const char* type_name(unsigned t) {
    switch (t) {
        case 0x81: return "prompt_echo_off";
        case 0x82: return "prompt_echo_on";
        case 0x83: return "error_msg";
        case 0x84: return "text_info";
        case 0x90: return "granted";
        case 0x91: return "refused";
        default: return "unknown";
    }
}

int raw(const std::string& path, int argc, char** argv) {
    int fd = connect_to(path);
    auto deadline = [] { return Clock::now() + std::chrono::seconds(30); };
    for (int i = 0; i < argc; ++i) {
        std::string op = argv[i];
        if (op.rfind("w:", 0) == 0) {
            auto b = unhex(op.substr(2));
            if (p9auth::Error e = p9auth::wire::send_all(fd, b, deadline()))
                std::printf("send-error %s\n", e.message.c_str());
        } else if (op.rfind("frame:", 0) == 0) {
            auto rest = op.substr(6);
            auto colon = rest.find(':');
            unsigned type = static_cast<unsigned>(std::stoul(rest.substr(0, colon), nullptr, 16));
            std::string text = rest.substr(colon + 1);
            auto h = p9auth::wire::encode_header(static_cast<p9auth::wire::Msg>(type), text.size());
            std::vector<std::uint8_t> b(h.begin(), h.end());
            b.insert(b.end(), text.begin(), text.end());
            if (p9auth::Error e = p9auth::wire::send_all(fd, b, deadline()))
                std::printf("send-error %s\n", e.message.c_str());
        } else if (op.rfind("p:", 0) == 0) {
            std::printf("%s\n", op.substr(2).c_str());
            std::fflush(stdout);
        } else if (op.rfind("s:", 0) == 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(std::stoul(op.substr(2))));
        } else if (op == "r" || op == "e") {
            std::array<std::uint8_t, 4> h{};
            if (p9auth::Error e = p9auth::wire::recv_exact(fd, h, deadline())) {
                std::printf("%s\n", e.errnum == ECONNRESET ? "eof" : e.message.c_str());
                std::fflush(stdout);
                continue;
            }
            std::size_t len = (static_cast<std::size_t>(h[2]) << 8) | h[3];
            std::vector<std::uint8_t> p(len);
            if (p9auth::Error e = p9auth::wire::recv_exact(fd, p, deadline())) {
                std::printf("truncated-frame %s\n", e.message.c_str());
                continue;
            }
            std::string text(p.begin(), p.end());
            if (h[1] == 0x91 && !text.empty())
                std::printf("refused %u %s\n", static_cast<unsigned>(static_cast<unsigned char>(text[0])),
                            text.substr(1).c_str());
            else if (h[1] == 0x90)
                std::printf("granted %s\n", text.substr(0, text.rfind('@')).c_str());
            else
                std::printf("%s %s\n", type_name(h[1]), text.c_str());
            std::fflush(stdout);
        }
    }
    ::close(fd);
    return 0;
}

class FixedAnswer final : public p9auth::Conversation {
public:
    explicit FixedAnswer(std::string a) : a_(std::move(a)) {}
    p9auth::Expected<p9auth::SecretString> prompt(std::string_view, bool) override { return p9auth::SecretString(a_); }
    void info(std::string_view) override {}
    void error(std::string_view) override {}

private:
    std::string a_;
};

int many(const std::string& path, const std::string& target, int n) {
    std::string answer;
    std::getline(std::cin, answer);
    std::mutex mu;
    std::vector<std::string> caps;
    std::vector<std::string> errors;
    std::vector<std::thread> ts;
    for (int i = 0; i < n; ++i)
        ts.emplace_back([&] {
            FixedAnswer conv(answer);
            auto c = p9auth::request_capability(path, target, conv);
            std::lock_guard lock(mu);
            if (c)
                caps.emplace_back(c->view());
            else
                errors.push_back(c.error().message);
        });
    for (auto& t : ts) t.join();
    for (auto& c : caps) std::printf("%s\n", c.c_str());
    for (auto& e : errors) std::fprintf(stderr, "error: %s\n", e.c_str());
    std::printf("ok %zu of %d\n", caps.size(), n);
    return caps.size() == static_cast<std::size_t>(n) ? 0 : 1;
}

int use(const std::string& mount) {
    int used = 0, total = 0;
    for (std::string line; std::getline(std::cin, line);) {
        if (line.find('@') == std::string::npos) continue;
        ++total;
        int fd = ::open((mount + "/capuse").c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0) continue;
        if (::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size())) ++used;
        ::close(fd);
    }
    std::printf("used %d of %d\n", used, total);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) return 2;
    std::string mode = argv[1];
    if (mode == "raw") return raw(argv[2], argc - 3, argv + 3);
    if (mode == "many" && argc == 5) return many(argv[2], argv[3], std::atoi(argv[4]));
    if (mode == "use") return use(argv[2]);
    return 2;
}
