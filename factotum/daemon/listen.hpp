// The listening socket: handed over by systemd (LISTEN_FDS/LISTEN_PID, read
// by hand, no libsystemd), or bound here.
#pragma once

#include <string>
#include <vector>

#include "error.hpp"

namespace p9auth::factotum {

// The sockets systemd passed us, checked to be listening Unix stream
// sockets; empty when we were not socket-activated. Unsets the variables.
Expected<std::vector<int>> sockets_from_systemd();

// Binds path (mode 0666: anyone may ask; the policy decides), replacing a
// stale socket but nothing else. A socket that answers a connect() is a
// running factotum's: EADDRINUSE ("factotum already serving on PATH"), and
// the socket stays.
Expected<int> bind_socket(const std::string& path);

}  // namespace p9auth::factotum
