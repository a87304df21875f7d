// pam_p9auth: a PAM module for services that hold no privilege. auth asks
// factotum for a capability to become the user, relaying factotum's prompts
// through the application's conversation; the capability stays in the PAM
// handle (P9AUTH_PAM_DATA_CAPABILITY) until the application takes it with
// p9auth_pam_take_capability. account reports factotum's verdict. See
// pam_p9auth(8).
#include <dlfcn.h>
#include <security/pam_appl.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <security/pam_modutil.h>
#include <syslog.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "client.hpp"
#include "config.hpp"
#include "p9auth.h"

namespace {

constexpr const char* kVerdictData = "p9auth_verdict";

struct Options {
    bool debug = false;
    bool try_first_pass = false;
    bool use_first_pass = false;
    std::string socket;  // empty: the one in /etc/p9auth/p9auth.conf
};

Options parse_options(pam_handle_t* pamh, int argc, const char** argv) {
    Options o;
    for (int i = 0; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "debug")
            o.debug = true;
        else if (a == "try_first_pass")
            o.try_first_pass = true;
        else if (a == "use_first_pass")
            o.use_first_pass = true;
        else if (a.starts_with("socket="))
            o.socket = std::string(a.substr(7));
        else
            pam_syslog(pamh, LOG_ERR, "unknown option '%s' ignored", argv[i]);
    }
    return o;
}

// factotum's prompts go to the application's conversation. The first
// echo-off prompt may be answered with PAM_AUTHTOK (try_/use_first_pass);
// an answer typed there becomes PAM_AUTHTOK for the modules after us.
class PamConversation final : public p9auth::Conversation {
public:
    PamConversation(pam_handle_t* pamh, const Options& o) : pamh_(pamh), o_(o) {}

    p9auth::Expected<p9auth::SecretString> prompt(std::string_view text, bool echo) override {
        if (!echo && !used_token_ && (o_.try_first_pass || o_.use_first_pass)) {
            used_token_ = true;
            const void* tok = nullptr;
            if (pam_get_item(pamh_, PAM_AUTHTOK, &tok) == PAM_SUCCESS && tok)
                return p9auth::SecretString(static_cast<const char*>(tok));
            if (o_.use_first_pass) return p9auth::fail(ENOKEY, "use_first_pass: no earlier password");
        }
        std::string t(text);
        char* resp = nullptr;
        int rc = pam_prompt(pamh_, echo ? PAM_PROMPT_ECHO_ON : PAM_PROMPT_ECHO_OFF, &resp, "%s", t.c_str());
        if (rc != PAM_SUCCESS || resp == nullptr) {
            conv_failed_ = true;
            return p9auth::fail(ECANCELED, "the conversation failed");
        }
        p9auth::SecretString answer(resp);
        p9auth::secure_zero(resp, std::strlen(resp));
        std::free(resp);
        if (!echo) pam_set_item(pamh_, PAM_AUTHTOK, answer.data());
        return answer;
    }
    void info(std::string_view text) override { pam_info(pamh_, "%s", std::string(text).c_str()); }
    void error(std::string_view text) override { pam_error(pamh_, "%s", std::string(text).c_str()); }
    bool conv_failed() const { return conv_failed_; }

private:
    pam_handle_t* pamh_;
    const Options& o_;
    bool used_token_ = false;
    bool conv_failed_ = false;
};

// libp9auth's registry, when the application links it (p9auth.h).
using RegisterFn = void (*)(pam_handle_t*, char*);
RegisterFn libp9auth(const char* name) { return reinterpret_cast<RegisterFn>(::dlsym(RTLD_DEFAULT, name)); }

void cleanup_secret(pam_handle_t* pamh, void* data, int) {
    if (!data) return;
    char* s = static_cast<char*>(data);
    if (auto forget = libp9auth("p9auth_pam_forget_")) forget(pamh, s);
    p9auth::secure_zero(s, std::strlen(s));
    std::free(s);
}

void cleanup_verdict(pam_handle_t*, void* data, int) { std::free(data); }

void set_verdict(pam_handle_t* pamh, int verdict) {
    int* v = static_cast<int*>(std::malloc(sizeof(int)));
    if (!v) return;
    *v = verdict;
    if (pam_set_data(pamh, kVerdictData, v, cleanup_verdict) != PAM_SUCCESS) std::free(v);
}

// factotum's refusal as a PAM code (the client library's errno, from the
// protocol's reason byte).
int pam_code(const p9auth::Error& e) {
    switch (e.errnum) {
        case EACCES: return PAM_AUTH_ERR;
        case EKEYEXPIRED: return PAM_ACCT_EXPIRED;
        case EAGAIN: return PAM_MAXTRIES;
        case ECANCELED: return PAM_CONV_ERR;
        case ENOKEY: return PAM_AUTHTOK_RECOVERY_ERR;
        default: return PAM_AUTHINFO_UNAVAIL;
    }
}

}  // namespace

// Built with hidden visibility and a version script: the pam_sm_* entry
// points are all PAM may see (pam_p9auth.map).
#define P9AUTH_PAM_EXPORT extern __attribute__((visibility("default")))

extern "C" {

P9AUTH_PAM_EXPORT int pam_sm_authenticate(pam_handle_t* pamh, int, int argc, const char** argv) {
    Options o = parse_options(pamh, argc, argv);
    const char* user = nullptr;
    if (pam_get_user(pamh, &user, nullptr) != PAM_SUCCESS || !user || !*user) return PAM_USER_UNKNOWN;
    std::string socket = o.socket;
    if (socket.empty()) {
        auto cfg = p9auth::load_config();
        if (!cfg) {
            pam_syslog(pamh, LOG_ERR, "%s", cfg.error().message.c_str());
            return PAM_AUTHINFO_UNAVAIL;
        }
        socket = cfg->factotum_socket;
    }
    // A capability from an earlier auth in this handle goes (zeroed) first.
    pam_set_data(pamh, P9AUTH_PAM_DATA_CAPABILITY, nullptr, nullptr);
    PamConversation conv(pamh, o);
    // The application's PAM_TTY and PAM_RHOST go on to factotum's stack.
    p9auth::RequestOptions ro;
    for (auto [item, field] : {std::pair{PAM_TTY, &ro.tty}, std::pair{PAM_RHOST, &ro.rhost}}) {
        const void* v = nullptr;
        if (pam_get_item(pamh, item, &v) == PAM_SUCCESS && v) *field = static_cast<const char*>(v);
    }
    auto cap = p9auth::request_capability(socket, user, conv, ro);
    if (!cap) {
        int code = pam_code(cap.error());
        set_verdict(pamh, code);
        // The message is the client library's and holds no secret. A name
        // nobody has may be a password typed at the login prompt: not
        // logged (as factotum does not).
        const bool known = pam_modutil_getpwnam(pamh, user) != nullptr;
        pam_syslog(pamh, LOG_NOTICE, "no capability for %s: %s", known ? user : "?(unknown)",
                   cap.error().message.c_str());
        return code == PAM_ACCT_EXPIRED ? PAM_AUTH_ERR : code;
    }
    char* copy = static_cast<char*>(std::malloc(cap->size() + 1));
    if (!copy) return PAM_BUF_ERR;
    std::memcpy(copy, cap->data(), cap->size());
    copy[cap->size()] = '\0';
    if (pam_set_data(pamh, P9AUTH_PAM_DATA_CAPABILITY, copy, cleanup_secret) != PAM_SUCCESS) {
        cleanup_secret(pamh, copy, 0);
        return PAM_BUF_ERR;
    }
    if (auto reg = libp9auth("p9auth_pam_register_")) reg(pamh, copy);
    set_verdict(pamh, PAM_SUCCESS);
    if (o.debug) pam_syslog(pamh, LOG_DEBUG, "capability for %s kept for the application", user);
    return PAM_SUCCESS;
}

P9AUTH_PAM_EXPORT int pam_sm_setcred(pam_handle_t*, int, int, const char**) { return PAM_SUCCESS; }

// factotum ran the target's account stack before it granted; we report
// what it said. Without an auth through us in this handle there is no
// verdict, and we fail closed.
P9AUTH_PAM_EXPORT int pam_sm_acct_mgmt(pam_handle_t* pamh, int, int argc, const char** argv) {
    Options o = parse_options(pamh, argc, argv);
    const void* v = nullptr;
    if (pam_get_data(pamh, kVerdictData, &v) != PAM_SUCCESS || !v) {
        if (o.debug) pam_syslog(pamh, LOG_DEBUG, "account: no authentication through pam_p9auth");
        return PAM_PERM_DENIED;
    }
    int verdict = *static_cast<const int*>(v);
    return verdict == PAM_SUCCESS ? PAM_SUCCESS : verdict == PAM_ACCT_EXPIRED ? PAM_ACCT_EXPIRED : PAM_PERM_DENIED;
}

}  // extern "C"
