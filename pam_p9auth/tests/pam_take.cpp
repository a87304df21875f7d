// The test's PAM application: pam_start(SERVICE, USER), one line of standard
// input answers each echo-off prompt, authenticate and account, then takes
// the capability (twice: the second must find nothing) and runs PROGRAM as
// the user through p9use. Prints what happened on standard error.
#include <security/pam_appl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "p9auth.h"

namespace {

std::string read_line() {
    std::string s;
    char c;
    while (::read(0, &c, 1) == 1 && c != '\n') s.push_back(c);
    return s;
}

int converse(int n, const struct pam_message** msg, struct pam_response** resp, void*) {
    auto* r = static_cast<pam_response*>(std::calloc(n, sizeof(pam_response)));
    for (int i = 0; i < n; ++i) {
        if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON) {
            std::string line = read_line();
            r[i].resp = strdup(line.c_str());
            p9auth_zero(line.data(), line.size());
        } else {
            std::fprintf(stderr, "message: %s\n", msg[i]->msg);
        }
    }
    *resp = r;
    return PAM_SUCCESS;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 5) return std::fprintf(stderr, "usage: pam_take SERVICE USER P9USE PROGRAM [ARG...]\n"), 2;
    struct pam_conv conv = {converse, nullptr};
    pam_handle_t* pamh = nullptr;
    if (pam_start(argv[1], argv[2], &conv, &pamh) != PAM_SUCCESS) return 3;
    int rc = pam_authenticate(pamh, 0);
    std::fprintf(stderr, "authenticate: %s\n", pam_strerror(pamh, rc));
    if (rc == PAM_SUCCESS) {
        rc = pam_acct_mgmt(pamh, 0);
        std::fprintf(stderr, "acct_mgmt: %s\n", pam_strerror(pamh, rc));
    }
    static char cap[P9AUTH_CAPABILITY_MAX + 1];
    long n = p9auth_pam_take_capability(pamh, cap, sizeof cap);
    int take_errno = n < 0 ? errno : 0;
    char again[16];
    long n2 = p9auth_pam_take_capability(pamh, again, sizeof again);
    std::fprintf(stderr, "take: %s; again: %s\n", n < 0 ? std::strerror(take_errno) : "ok",
                 n2 < 0 ? std::strerror(errno) : "ok");
    pam_end(pamh, rc);
    if (rc != PAM_SUCCESS || n < 0) return 1;
    std::fprintf(stderr, "from: %.*s\n", static_cast<int>(std::strchr(cap, '@') - cap), cap);
    p9auth_exec_as(argv[3], cap, static_cast<std::size_t>(n), argv + 4);
    std::perror("exec p9use");
    return 126;
}
