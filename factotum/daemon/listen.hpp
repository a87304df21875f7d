// The listening socket: handed over by systemd (LISTEN_FDS/LISTEN_PID, read
// by hand, no libsystemd), or bound here.
#pragma once

#include <string>
#include <vector>

#include "error.hpp"

namespace p9auth::factotum {

// What systemd passed us (LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES): the
// listening sockets, checked to be listening Unix stream sockets, and the
// descriptor factotum stored itself (FDSTORE=1, FDNAME=caphash), not yet
// checked (see check_stored_caphash). Unsets the variables.
struct SystemdFds {
    std::vector<int> sockets;  // empty: not socket-activated
    int caphash = -1;          // -1: none in the store
};
Expected<SystemdFds> fds_from_systemd();

// Whether fd, from the store, really is what factotum stored: open
// write-only, on a p9auth filesystem (p9auth_filesystem_check, as p9grant
// judges), and the same file as the caphash path now names.
Error check_stored_caphash(int fd, const std::string& caphash);

// Binds path (mode 0666: anyone may ask; the policy decides), replacing a
// stale socket but nothing else. A socket that answers a connect() is a
// running factotum's: EADDRINUSE ("factotum already serving on PATH"), and
// the socket stays.
Expected<int> bind_socket(const std::string& path);

}  // namespace p9auth::factotum
