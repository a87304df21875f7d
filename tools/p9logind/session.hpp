// One login on one connection: the login name and the password through
// PAM (pam_p9auth), then the user's shell on a pseudo-terminal through
// p9use, relayed until the shell ends or the connection goes idle.
#pragma once

#include <string>

#include "throttle.hpp"

namespace p9logind {

struct Settings {
    std::string service = "p9logind";         // PAM service
    std::string p9use;                        // empty: libp9auth's installed path
    int auth_timeout = 60;                    // seconds for login name and password
    int idle_timeout = 900;                   // seconds without a byte either way
    std::string peer = "stdin";               // for the log
    std::string rhost;                        // the peer's address, PAM_RHOST and utmp's host ("" unknown: local)
    std::string state_dir = "/run/p9logind";  // failed logins per source (throttle.hpp)
    ThrottleLimits throttle;
    int authenticated_fd = -1;  // the listener's pipe: one byte once the login is authenticated
};

// The address of the peer on a connected socket ("" when fd is not an
// IPv4/IPv6 socket), as text; an IPv4-mapped IPv6 address as IPv4.
std::string peer_address(int fd);

// Runs the session on in (read) and out (write); returns the exit status
// for the process that handled it (0 a session ran, 1 refused or failed).
int serve_connection(int in, int out, const Settings& s);

}  // namespace p9logind
