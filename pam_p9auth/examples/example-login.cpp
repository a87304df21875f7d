// A login service that holds no privilege, in twenty lines: pam_p9auth
// (service "example-login") asks factotum; p9use makes us the user.
#include <security/pam_misc.h>

#include <cstdio>

#include "p9auth.hpp"

int main(int argc, char** argv) {
    if (argc < 2) return std::fprintf(stderr, "usage: example-login USER\n"), 2;
    struct pam_conv conv = {misc_conv, nullptr};
    pam_handle_t* pamh = nullptr;
    if (pam_start("example-login", argv[1], &conv, &pamh) != PAM_SUCCESS) return 1;
    int rc = pam_authenticate(pamh, 0);
    if (rc == PAM_SUCCESS) rc = pam_acct_mgmt(pamh, 0);
    p9auth::login::Capability cap;
    bool ok = rc == PAM_SUCCESS && cap.take(pamh);
    const char* why = ok ? "" : rc == PAM_SUCCESS ? "no capability" : pam_strerror(pamh, rc);
    pam_end(pamh, rc);
    if (!ok) return std::fprintf(stderr, "example-login: %s\n", why), 1;
    cap.exec_as({"/bin/sh", "-l"});
    return std::perror("example-login: p9use"), 126;
}
