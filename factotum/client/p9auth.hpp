// libp9auth's C++ face: the C API (p9auth.h) with owning types.
#pragma once

#include <security/pam_appl.h>

#include <cerrno>
#include <string>
#include <vector>

#include "p9auth.h"

namespace p9auth::login {

// A capability moved out of a PAM handle; zeroed when it goes.
class Capability {
public:
    Capability() = default;
    Capability(const Capability&) = delete;
    Capability& operator=(const Capability&) = delete;
    Capability(Capability&& o) noexcept : buf_(std::move(o.buf_)), len_(o.len_) { o.len_ = 0; }
    ~Capability() {
        if (!buf_.empty()) p9auth_zero(buf_.data(), buf_.size());
    }
    // From pam_p9auth's data; false (errno set) when there is none.
    bool take(pam_handle_t* pamh) {
        buf_.assign(P9AUTH_CAPABILITY_MAX + 1, '\0');
        long n = p9auth_pam_take_capability(pamh, buf_.data(), buf_.size());
        if (n < 0) return false;
        len_ = static_cast<std::size_t>(n);
        return true;
    }
    bool empty() const { return len_ == 0; }
    // Becomes the user and runs argv; returns only on failure (errno).
    int exec_as(std::vector<std::string> args, const char* p9use_path = nullptr) const {
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        return p9auth_exec_as(p9use_path, buf_.data(), len_, argv.data());
    }
    // The same, as a login: in dir, with argv0 as the program's argv[0].
    int exec_login(std::vector<std::string> args, const std::string& dir, const std::string& argv0,
                   const char* p9use_path = nullptr) const {
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        return p9auth_exec_as_login(p9use_path, buf_.data(), len_, dir.c_str(), argv0.c_str(), argv.data());
    }

private:
    std::vector<char> buf_;
    std::size_t len_ = 0;
};

}  // namespace p9auth::login
