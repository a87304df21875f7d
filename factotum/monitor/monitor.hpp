// factotum's monitor: the privileged half (uid 0 without capabilities, or
// --user). It holds caphash, the policy, PAM and NSS, and nothing that
// talks to a client: the front (front.hpp) accepts, frames, schedules and
// throttles, and asks the monitor through kMonitorTable, one channel per
// front worker. The monitor trusts nothing the front says about who the
// client is: the front passes the client's connection itself, and the
// monitor reads SO_PEERCRED and SO_PEERGROUPS from it, and judges the
// policy, the target and PAM's answer itself. A front that breaks the
// table ends factotum. See factotum(8), "PRIVILEGE SEPARATION".
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "policy.hpp"

namespace p9auth::factotum {

struct MonitorSettings {
    std::string pam_service = "p9auth";
    int caphash_fd = -1;
    // The addresses (getsockname) of factotum's listening sockets: a
    // connection the front passes must have been accepted on one of them.
    std::vector<std::string> socket_addresses;
};

// The local address of a Unix socket as raw bytes (a path, or an abstract
// name with its leading NUL), for MonitorSettings::socket_addresses.
std::string unix_address_of(int fd);

class Monitor {
public:
    Monitor(MonitorSettings settings, Policy policy);
    Monitor(const Monitor&) = delete;
    Monitor& operator=(const Monitor&) = delete;

    // Serves logins on one channel until the front closes it (0) or breaks
    // kMonitorTable (EPROTO, logged at LOG_CRIT). Runs in its own thread;
    // several channels are served at once.
    int serve(int chan);

    // SIGHUP: a login decides with the policy in force when it began.
    void set_policy(Policy policy);
    std::size_t policy_rules();

private:
    std::shared_ptr<const Policy> current_policy();

    const MonitorSettings settings_;
    std::mutex policy_mu_;
    std::shared_ptr<const Policy> policy_;
    std::mutex grant_mu_;  // one grant write at a time on the shared caphash descriptor
};

}  // namespace p9auth::factotum
