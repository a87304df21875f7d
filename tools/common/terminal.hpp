// The terminal and conversation rules p9su, p9auth-request and p9logind
// share: one answer limit, one way to read an answer, one user-name check.
// No privilege; no state beyond the descriptors it is given.
#pragma once

#include <termios.h>

#include <string>
#include <string_view>

#include "error.hpp"
#include "secret.hpp"
#include "wire.hpp"

namespace p9auth::term {

// The protocol's bound on one answer (docs/factotum-protocol.md). A longer
// answer is refused with this errno and never truncated, never sent.
inline constexpr std::size_t kMaxAnswer = wire::kMaxAnswer;
inline constexpr int kTooLong = EMSGSIZE;

// One answer from fd: the bytes before '\n'. '\r' and NUL are dropped, so
// a telnet's CR LF and CR NUL line ends and a terminal in raw mode read the
// same as a plain '\n'. deadline_ms is an absolute CLOCK_MONOTONIC time in
// milliseconds, or -1 for none. Errors, each with a message:
//   kTooLong   more than kMaxAnswer bytes (the rest of the line is read
//              and dropped, so the next answer does not start inside it)
//   ENODATA    end of input before a byte of the answer
//   ETIMEDOUT  the deadline passed
//   what read() or poll() said
Expected<SecretString> read_answer(int fd, long long deadline_ms = -1);

// Echo off on fd (a terminal) while it lives, ECHONL on so the user's Enter
// still moves the cursor; restored by the destructor. Not a terminal: a
// no-op. A terminal whose echo cannot be turned off is an error (fail
// closed: a password must never show).
class EchoOff {
public:
    explicit EchoOff(int fd);
    ~EchoOff();
    EchoOff(const EchoOff&) = delete;
    EchoOff& operator=(const EchoOff&) = delete;
    const Error& error() const { return error_; }

private:
    int fd_;
    bool restore_ = false;
    termios saved_{};
    Error error_;
};

// Shows text (made printable: show()) on out, then reads the answer from in
// with echo off when echo is false. Echo goes off before the prompt shows,
// so nothing typed after it is ever echoed.
Expected<SecretString> ask(int in, int out, std::string_view text, bool echo, long long deadline_ms = -1);

// PAM's and factotum's texts are untrusted: control characters (but '\n'
// and '\t') become '?', so that no module drives the terminal.
std::string printable(std::string_view text);

// "" when name is a user name factotum will look up (wire::valid_user_name),
// else what is wrong with it, for the message.
std::string check_user_name(std::string_view name);

// CLOCK_MONOTONIC in milliseconds, for deadline_ms.
long long now_ms();

// All of text to fd, across short writes and EINTR. false: the write failed
// (errno says why) or wrote nothing.
bool write_all(int fd, std::string_view text);

}  // namespace p9auth::term
