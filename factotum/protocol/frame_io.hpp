// Frames over a non-blocking stream socket, every step under a deadline.
// Shared by the daemon's workers and the client; no privilege.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>

#include "error.hpp"
#include "wire.hpp"

namespace p9auth::wire {

using Deadline = std::chrono::steady_clock::time_point;

// Each gives Error::ok(), or an Error (error.hpp) whose errnum a caller
// acts on: ETIMEDOUT when the deadline passed, ECONNRESET when the peer
// closed, EMSGSIZE for a payload over kMaxServerPayload, or what
// send/recv/poll reported; and whose message says it for a person
// (strerror's words, or the sizes), for the caller to put in context.
Error send_all(int fd, std::span<const std::uint8_t> bytes, Deadline deadline);
Error recv_exact(int fd, std::span<std::uint8_t> bytes, Deadline deadline);

Error send_frame(int fd, Msg type, std::span<const std::uint8_t> payload, Deadline deadline);

// Waits until fd is readable or writable (events as for poll) or the deadline passes.
Error wait_fd(int fd, short events, Deadline deadline);

}  // namespace p9auth::wire
