#include "frame_io.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

namespace p9auth::wire {

int wait_fd(int fd, short events, Deadline deadline) {
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return ETIMEDOUT;
        pollfd p{fd, events, 0};
        int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count() + 1, 60'000)));
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (n > 0) return 0;  // readable, writable, or an error the next call reports
    }
}

int send_all(int fd, std::span<const std::uint8_t> bytes, Deadline deadline) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) {
            done += static_cast<std::size_t>(n);
            continue;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return errno;
        if (int e = wait_fd(fd, POLLOUT, deadline)) return e;
    }
    return 0;
}

int recv_exact(int fd, std::span<std::uint8_t> bytes, Deadline deadline) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::recv(fd, bytes.data() + done, bytes.size() - done, MSG_DONTWAIT);
        if (n > 0) {
            done += static_cast<std::size_t>(n);
            continue;
        }
        if (n == 0) return ECONNRESET;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return errno;
        if (int e = wait_fd(fd, POLLIN, deadline)) return e;
    }
    return 0;
}

int send_frame(int fd, Msg type, std::span<const std::uint8_t> payload, Deadline deadline) {
    if (payload.size() > kMaxServerPayload) return EMSGSIZE;
    auto h = encode_header(type, payload.size());
    if (int e = send_all(fd, h, deadline)) return e;
    return send_all(fd, payload, deadline);
}

}  // namespace p9auth::wire
