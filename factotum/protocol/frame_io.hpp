// Frames over a non-blocking stream socket, every step under a deadline.
// Shared by the daemon's workers and the client; no privilege.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>

#include "wire.hpp"

namespace p9auth::wire {

using Deadline = std::chrono::steady_clock::time_point;

// 0, or an errno: ETIMEDOUT when the deadline passed, ECONNRESET when the
// peer closed, or what send/recv/poll reported.
int send_all(int fd, std::span<const std::uint8_t> bytes, Deadline deadline);
int recv_exact(int fd, std::span<std::uint8_t> bytes, Deadline deadline);

int send_frame(int fd, Msg type, std::span<const std::uint8_t> payload, Deadline deadline);

// Waits until fd is readable or writable (events as for poll) or the deadline passes.
int wait_fd(int fd, short events, Deadline deadline);

}  // namespace p9auth::wire
