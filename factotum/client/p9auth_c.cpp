// libp9auth: the C API of p9auth.h over the client library. No privilege.
#include "p9auth.h"

#include <fcntl.h>
#include <security/pam_appl.h>
#include <security/pam_modules.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "client.hpp"
#include "config.hpp"
#include "paths.hpp"

namespace {

// The conversation of p9auth_request: the caller's callback.
class CallbackConversation final : public p9auth::Conversation {
public:
    CallbackConversation(p9auth_converse_fn fn, void* ctx) : fn_(fn), ctx_(ctx) {}
    p9auth::Expected<p9auth::SecretString> prompt(std::string_view text, bool echo) override {
        std::string t(text);
        // Room for one byte more than an answer may hold, and the NUL: a
        // longer answer cut to fit (snprintf) is still too long, and the
        // client refuses it whole (decisions.md 76); one without a NUL in
        // the buffer is refused here, not cut.
        std::vector<char> answer(p9auth::kMaxClientAnswer + 2, '\0');
        int rc = fn_(ctx_, t.c_str(), echo ? 1 : 0, answer.data(), answer.size());
        const char* end = static_cast<const char*>(std::memchr(answer.data(), '\0', answer.size()));
        p9auth::SecretString s(
            std::string_view(answer.data(), end ? static_cast<std::size_t>(end - answer.data()) : 0));
        p9auth_zero(answer.data(), answer.size());
        if (rc != 0) return p9auth::fail(ECANCELED, "the conversation was abandoned");
        if (!end)
            return p9auth::fail(EMSGSIZE, "answer longer than " + std::to_string(p9auth::kMaxClientAnswer) +
                                              " bytes (no NUL in its buffer): refused, not sent");
        return s;
    }
    void info(std::string_view text) override { fn_(ctx_, std::string(text).c_str(), 1, nullptr, 0); }
    void error(std::string_view text) override { fn_(ctx_, std::string(text).c_str(), 1, nullptr, 0); }

private:
    p9auth_converse_fn fn_;
    void* ctx_;
};

std::mutex g_registry_mutex;
std::map<struct pam_handle*, char*> g_registry;  // the handle -> pam_p9auth's copy

void copy_message(char* err, size_t err_len, const std::string& msg) {
    if (!err || err_len == 0) return;
    std::size_t n = std::min(msg.size(), err_len - 1);
    std::memcpy(err, msg.data(), n);
    err[n] = '\0';
}

}  // namespace

extern "C" {

void p9auth_zero(void* p, size_t n) { p9auth::secure_zero(p, n); }

// Linux-PAM lets only modules read PAM data, so pam_p9auth tells us where
// its copy is: p9auth_pam_register_ when it stores one, p9auth_pam_forget_
// from its cleanup (found with dlsym; absent when the application does not
// link libp9auth, and then the copy just lives until pam_end).
void p9auth_pam_register_(struct pam_handle* pamh, char* cap) {
    std::lock_guard<std::mutex> lock(g_registry_mutex);
    g_registry[pamh] = cap;
}

void p9auth_pam_forget_(struct pam_handle* pamh, char* cap) {
    std::lock_guard<std::mutex> lock(g_registry_mutex);
    auto it = g_registry.find(pamh);
    if (it != g_registry.end() && it->second == cap) g_registry.erase(it);
}

long p9auth_pam_take_capability(struct pam_handle* pamh, char* buf, size_t len) {
    std::lock_guard<std::mutex> lock(g_registry_mutex);
    auto it = g_registry.find(pamh);
    if (it == g_registry.end() || it->second[0] == '\0') {
        errno = ENOENT;
        return -1;
    }
    char* cap = it->second;
    std::size_t n = std::strlen(cap);
    if (n + 1 > len) {
        errno = ERANGE;
        return -1;
    }
    std::memcpy(buf, cap, n + 1);
    // The handle's copy is zeroed in place; pam_end frees it.
    p9auth::secure_zero(cap, n);
    g_registry.erase(it);
    return static_cast<long>(n);
}

int p9auth_exec_as(const char* p9use_path, const char* cap, size_t cap_len, char* const argv[]) {
    return p9auth_exec_as_login(p9use_path, cap, cap_len, nullptr, nullptr, argv);
}

int p9auth_exec_as_login(const char* p9use_path, const char* cap, size_t cap_len, const char* dir, const char* argv0,
                         char* const argv[]) {
    if ((dir && !*dir) || (argv0 && !*argv0)) {
        errno = EINVAL;
        return -1;
    }
    if (!cap || cap_len == 0 || cap_len > P9AUTH_CAPABILITY_MAX || !argv || !argv[0]) {
        errno = EINVAL;
        return -1;
    }
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) return -1;
    // A capability fits in the pipe's buffer (64 KiB), so one write cannot block.
    std::string line(cap, cap_len);
    line.push_back('\n');
    ssize_t w = ::write(p[1], line.data(), line.size());
    int saved = errno;
    p9auth::secure_zero(line.data(), line.size());
    ::close(p[1]);
    if (w != static_cast<ssize_t>(cap_len + 1)) {
        ::close(p[0]);
        errno = w < 0 ? saved : EIO;
        return -1;
    }
    // The read end must survive exec (and not be 0-2, which p9use wants open).
    int fd = ::fcntl(p[0], F_DUPFD, 3);
    ::close(p[0]);
    if (fd < 0) return -1;
    std::string fdarg = std::to_string(fd);
    const char* p9use = p9use_path ? p9use_path : p9auth::paths::kP9use;
    std::vector<char*> args{const_cast<char*>(p9use), const_cast<char*>("--fd"), fdarg.data()};
    if (dir) args.insert(args.end(), {const_cast<char*>("--chdir"), const_cast<char*>(dir)});
    if (argv0) args.insert(args.end(), {const_cast<char*>("--argv0"), const_cast<char*>(argv0)});
    args.push_back(const_cast<char*>("--"));
    for (char* const* a = argv; *a; ++a) args.push_back(*a);
    args.push_back(nullptr);
    ::execv(p9use, args.data());
    saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
}

long p9auth_request(const char* socket_path, const char* user, p9auth_converse_fn converse, void* ctx, char* cap,
                    size_t cap_len, char* err, size_t err_len) {
    if (!user || !converse || !cap) {
        errno = EINVAL;
        return -1;
    }
    std::string sock;
    if (socket_path) {
        sock = socket_path;
    } else {
        auto cfg = p9auth::load_config();
        if (!cfg) {
            copy_message(err, err_len, cfg.error().message);
            errno = cfg.error().errnum;
            return -1;
        }
        sock = cfg->factotum_socket;
    }
    CallbackConversation conv(converse, ctx);
    auto got = p9auth::request_capability(sock, user, conv);
    if (!got) {
        copy_message(err, err_len, got.error().message);
        errno = got.error().errnum;
        return -1;
    }
    if (got->size() + 1 > cap_len) {
        errno = ERANGE;
        return -1;
    }
    std::memcpy(cap, got->data(), got->size());
    cap[got->size()] = '\0';
    return static_cast<long>(got->size());
}

}  // extern "C"
