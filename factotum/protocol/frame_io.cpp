#include "frame_io.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace p9auth::wire {
namespace {

Error system_error(int e) { return fail(e, std::strerror(e)); }

}  // namespace

Error wait_fd(int fd, short events, Deadline deadline) {
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return system_error(ETIMEDOUT);
        pollfd p{fd, events, 0};
        int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count() + 1, 60'000)));
        if (n < 0) {
            if (errno == EINTR) continue;
            return system_error(errno);
        }
        if (n > 0) return Error::ok();  // readable, writable, or an error the next call reports
    }
}

Error send_all(int fd, std::span<const std::uint8_t> bytes, Deadline deadline) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) {
            done += static_cast<std::size_t>(n);
            continue;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return system_error(errno);
        if (Error e = wait_fd(fd, POLLOUT, deadline)) return e;
    }
    return Error::ok();
}

Error recv_exact(int fd, std::span<std::uint8_t> bytes, Deadline deadline) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::recv(fd, bytes.data() + done, bytes.size() - done, MSG_DONTWAIT);
        if (n > 0) {
            done += static_cast<std::size_t>(n);
            continue;
        }
        if (n == 0) return system_error(ECONNRESET);
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return system_error(errno);
        if (Error e = wait_fd(fd, POLLIN, deadline)) return e;
    }
    return Error::ok();
}

Error send_frame(int fd, Msg type, std::span<const std::uint8_t> payload, Deadline deadline) {
    if (payload.size() > kMaxServerPayload)
        return fail(EMSGSIZE, "a payload of " + std::to_string(payload.size()) + " bytes, above the frame bound of " +
                                  std::to_string(kMaxServerPayload));
    auto h = encode_header(type, payload.size());
    if (Error e = send_all(fd, h, deadline)) return e;
    return send_all(fd, payload, deadline);
}

}  // namespace p9auth::wire
