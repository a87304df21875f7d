#include "terminal.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>

namespace p9auth::term {

long long now_ms() {
    timespec t{};
    ::clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<long long>(t.tv_sec) * 1000 + t.tv_nsec / 1'000'000;
}

bool write_all(int fd, std::string_view text) {
    while (!text.empty()) {
        ssize_t w = ::write(fd, text.data(), text.size());
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        text.remove_prefix(static_cast<std::size_t>(w));
    }
    return true;
}

namespace {

// 0 when fd is readable, else an errno (ETIMEDOUT at the deadline).
int wait_readable(int fd, long long deadline_ms) {
    if (deadline_ms < 0) return 0;
    for (;;) {
        const long long left = deadline_ms - now_ms();
        if (left <= 0) return ETIMEDOUT;
        pollfd p{fd, POLLIN, 0};
        const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 60'000)));
        if (r > 0) return 0;
        if (r < 0 && errno != EINTR) return errno;
    }
}

}  // namespace

Expected<SecretString> read_answer(int fd, long long deadline_ms) {
    SecretString line;
    bool too_long = false, any = false;
    // One byte at a time: what follows the line belongs to whoever reads next (a shell).
    for (;;) {
        if (const int e = wait_readable(fd, deadline_ms))
            return fail(e, e == ETIMEDOUT ? std::string("no answer in time")
                                          : std::string("waiting for an answer: ") + std::strerror(e));
        char c;
        const ssize_t n = ::read(fd, &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(errno, std::string("reading an answer: ") + std::strerror(errno));
        if (n == 0 && !any) return fail(ENODATA, "no answer: end of input");
        if (n == 0 || c == '\n') break;
        any = true;
        if (c == '\r' || c == '\0') continue;
        if (line.size() >= kMaxAnswer) {
            too_long = true;  // keep reading to the line's end, keep nothing
            line.clear();
            continue;
        }
        if (!too_long) line.push_back(c);
    }
    if (too_long)
        return fail(kTooLong, "answer longer than " + std::to_string(kMaxAnswer) + " bytes: refused, not sent");
    return line;
}

EchoOff::EchoOff(int fd) : fd_(fd) {
    if (!::isatty(fd)) return;
    if (::tcgetattr(fd, &saved_) != 0) {
        error_ = fail(errno, std::string("cannot read the terminal's modes: ") + std::strerror(errno));
        return;
    }
    termios quiet = saved_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    // TCSAFLUSH drops what was typed before the prompt, never after it.
    if (::tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
        error_ = fail(errno, std::string("cannot turn the terminal's echo off: ") + std::strerror(errno));
        return;
    }
    restore_ = true;
}

EchoOff::~EchoOff() {
    if (restore_) ::tcsetattr(fd_, TCSAFLUSH, &saved_);
}

std::string printable(std::string_view text) {
    std::string s(text);
    for (char& c : s)
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') || c == 0x7f) c = '?';
    return s;
}

Expected<SecretString> ask(int in, int out, std::string_view text, bool echo, long long deadline_ms) {
    std::optional<EchoOff> quiet;
    if (!echo) {
        quiet.emplace(in);
        if (quiet->error()) return quiet->error();
    }
    const std::string shown = printable(text);
    std::size_t off = 0;
    while (off < shown.size()) {
        const ssize_t n = ::write(out, shown.data() + off, shown.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            return fail(n < 0 ? errno : EIO, std::string("showing a prompt: ") + std::strerror(n < 0 ? errno : EIO));
        off += static_cast<std::size_t>(n);
    }
    return read_answer(in, deadline_ms);
}

std::string check_user_name(std::string_view name) {
    if (wire::valid_user_name(name)) return "";
    if (name.empty()) return "the user name is empty";
    if (name.size() > wire::kMaxUserName)
        return "the user name is longer than " + std::to_string(wire::kMaxUserName) + " bytes";
    return "'" + printable(name) +
           "' is not a user name (printable ASCII without spaces, ':' or '/', not starting with '-')";
}

}  // namespace p9auth::term
