// The client library against a scripted fake factotum: prompts reach the
// conversation with their echo flag, answers go back, and anything that
// is not a well-formed capability for us is refused.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"
#include "frame_io.hpp"
#include "grant.hpp"
#include "wire.hpp"

using namespace p9auth;

namespace {

using Clock = std::chrono::steady_clock;

// A one-connection server on a temporary socket; `script` runs with the connection.
class FakeFactotum {
public:
    explicit FakeFactotum(const std::function<void(int)>& script) {
        char dir[] = "/tmp/factotum-client-test.XXXXXX";
        dir_ = mkdtemp(dir);
        path_ = dir_ + "/sock";
        lfd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
        EXPECT_EQ(::bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        EXPECT_EQ(::listen(lfd_, 1), 0);
        thread_ = std::thread([this, script] {
            int fd = ::accept(lfd_, nullptr, nullptr);
            script(fd);
            ::close(fd);
        });
    }
    ~FakeFactotum() {
        wait();
        ::close(lfd_);
        ::unlink(path_.c_str());
        ::rmdir(dir_.c_str());
    }
    const std::string& path() const { return path_; }
    void wait() {
        if (thread_.joinable()) thread_.join();
    }

private:
    std::string dir_, path_;
    int lfd_ = -1;
    std::thread thread_;
};

wire::Deadline soon() { return Clock::now() + std::chrono::seconds(5); }

void send(int fd, wire::Msg t, std::string_view text) {
    wire::send_frame(fd, t, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}, soon());
}

std::string recv_frame(int fd, wire::Msg* type) {
    std::array<std::uint8_t, 4> h{};
    if (wire::recv_exact(fd, h, soon())) return "<eof>";
    auto hdr = wire::decode_header(h);
    *type = hdr->type;
    std::vector<std::uint8_t> p(hdr->length);
    wire::recv_exact(fd, p, soon());
    return {p.begin(), p.end()};
}

struct Recorder final : Conversation {
    std::vector<std::string> seen;
    Expected<SecretString> prompt(std::string_view text, bool echo) override {
        seen.push_back(std::string(echo ? "on:" : "off:") + std::string(text));
        return SecretString("hunter2");
    }
    void info(std::string_view t) override { seen.push_back("info:" + std::string(t)); }
    void error(std::string_view t) override { seen.push_back("error:" + std::string(t)); }
};

std::string cap_from(uid_t from) {
    core_init();
    Target to;
    to.uid = 2002;
    to.gid = 2002;
    return std::string(make_grant(from, to).capability.view());
}

}  // namespace

TEST(FactotumClient, RelaysPromptsAndReturnsTheCapability) {
    std::string cap = cap_from(::getuid());
    std::vector<std::string> got;
    FakeFactotum f([&](int fd) {
        wire::Msg t{};
        got.push_back(recv_frame(fd, &t));
        send(fd, wire::Msg::text_info, "hello");
        send(fd, wire::Msg::prompt_echo_on, "Name: ");
        got.push_back(recv_frame(fd, &t));
        send(fd, wire::Msg::prompt_echo_off, "Password: ");
        got.push_back(recv_frame(fd, &t));
        EXPECT_EQ(t, wire::Msg::answer);
        send(fd, wire::Msg::error_msg, "careful");
        send(fd, wire::Msg::granted, cap);
    });
    Recorder conv;
    auto r = request_capability(f.path(), "bob", conv);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->view(), cap);
    EXPECT_EQ(got, (std::vector<std::string>{"bob", "hunter2", "hunter2"}));
    EXPECT_EQ(conv.seen, (std::vector<std::string>{"info:hello", "on:Name: ", "off:Password: ", "error:careful"}));
}

TEST(FactotumClient, RefusesACapabilityForAnotherUid) {
    std::string cap = cap_from(::getuid() + 1);
    FakeFactotum f([&](int fd) {
        wire::Msg t{};
        recv_frame(fd, &t);
        send(fd, wire::Msg::granted, cap);
    });
    Recorder conv;
    auto r = request_capability(f.path(), "bob", conv);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().errnum, EPROTO);
}

TEST(FactotumClient, RefusesOversizedAndUnknownFramesBeforeReadingThem) {
    for (std::uint8_t type : {std::uint8_t{0x81}, std::uint8_t{0x55}}) {
        FakeFactotum f([&](int fd) {
            wire::Msg t{};
            recv_frame(fd, &t);
            std::array<std::uint8_t, 4> h{1, type, 0x07, 0xd0};  // 2000 bytes announced, none sent
            wire::send_all(fd, h, soon());
        });
        Recorder conv;
        auto r = request_capability(f.path(), "bob", conv);
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().errnum, EPROTO) << r.error().message;
        EXPECT_TRUE(conv.seen.empty());
    }
}

TEST(FactotumClient, RefusalsBecomeErrnos) {
    FakeFactotum f([&](int fd) {
        wire::Msg t{};
        recv_frame(fd, &t);
        send(fd, wire::Msg::refused, std::string(1, '\x02'));
    });
    Recorder conv;
    auto r = request_capability(f.path(), "bob", conv);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().errnum, EACCES);
    EXPECT_NE(r.error().message.find("authentication failed"), std::string::npos);
}

TEST(FactotumClient, RefusesNamesFactotumWouldRefuse) {
    Recorder conv;
    auto r = request_capability("/nonexistent", "2001@2002:2002", conv);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().errnum, EINVAL);
}

// One answer limit (decisions.md 76): an answer over kMaxAnswer is refused
// by the library, never cut and sent; factotum sees the connection end
// after its prompt, no answer frame.
TEST(FactotumClient, RefusesAnAnswerOverTheLimitWithoutSendingIt) {
    struct Long final : Conversation {
        std::size_t n;
        explicit Long(std::size_t len) : n(len) {}
        Expected<SecretString> prompt(std::string_view, bool) override { return SecretString(std::string(n, 'x')); }
        void info(std::string_view) override {}
        void error(std::string_view) override {}
    };
    for (std::size_t len : {wire::kMaxAnswer, wire::kMaxAnswer + 1}) {
        std::string after_prompt;
        wire::Msg t{};
        FakeFactotum f([&](int fd) {
            recv_frame(fd, &t);
            send(fd, wire::Msg::prompt_echo_off, "Password: ");
            after_prompt = recv_frame(fd, &t);
            if (after_prompt != "<eof>") send(fd, wire::Msg::refused, std::string(1, 2) + "no");
        });
        Long conv(len);
        auto r = request_capability(f.path(), "bob", conv);
        f.wait();  // the script's view, complete
        ASSERT_FALSE(r.has_value());
        if (len == wire::kMaxAnswer) {  // at the limit: sent whole
            EXPECT_EQ(after_prompt.size(), len);
            EXPECT_EQ(r.error().errnum, EACCES) << r.error().message;
        } else {
            EXPECT_EQ(after_prompt, "<eof>");
            EXPECT_EQ(r.error().errnum, EMSGSIZE);
            EXPECT_EQ(r.error().message, "answer longer than 1024 bytes: refused, not sent");
        }
    }
}
