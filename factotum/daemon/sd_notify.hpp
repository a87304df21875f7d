// The service manager's notification protocol (sd_notify(3)), by hand: no
// libsystemd in a process that holds caphash. One datagram to
// $NOTIFY_SOCKET, descriptors riding along as SCM_RIGHTS.
#pragma once

#include <string>
#include <vector>

namespace p9auth::factotum {

// Sends state ("READY=1\nSTATUS=serving", "FDSTORE=1\nFDNAME=caphash")
// with fds attached. 0 when sent, or when NOTIFY_SOCKET is not set (not
// under systemd: nothing to tell); otherwise an errno.
int sd_notify_send(const std::string& state, const std::vector<int>& fds = {});

}  // namespace p9auth::factotum
