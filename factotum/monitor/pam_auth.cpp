#include "pam_auth.hpp"

#include <security/pam_appl.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace p9auth::factotum {
namespace {

struct ConvState {
    PromptChannel* channel;
    SecureBuffer answer{wire::kMaxAnswer};
    Error broke{};  // what ended the conversation, if anything did
    unsigned answers = 0;
};

void drop_responses(pam_response* r, int n) {
    if (!r) return;
    for (int i = 0; i < n; ++i)
        if (r[i].resp) {
            sodium_memzero(r[i].resp, std::strlen(r[i].resp));
            std::free(r[i].resp);
        }
    std::free(r);
}

// PAM's conversation function: each message goes to the client as it is;
// echo-off stays echo-off. PAM frees the responses (after overwriting them).
int converse(int n, const pam_message** msg, pam_response** out, void* data) {
    auto* st = static_cast<ConvState*>(data);
    *out = nullptr;
    if (n <= 0 || n > PAM_MAX_NUM_MSG) return PAM_CONV_ERR;
    auto* resp = static_cast<pam_response*>(std::calloc(static_cast<std::size_t>(n), sizeof(pam_response)));
    if (!resp) return PAM_BUF_ERR;
    for (int i = 0; i < n; ++i) {
        const char* text = msg[i]->msg ? msg[i]->msg : "";
        std::string_view t(text, std::min(std::strlen(text), wire::kMaxText));
        Error e;
        switch (msg[i]->msg_style) {
            case PAM_PROMPT_ECHO_OFF:
            case PAM_PROMPT_ECHO_ON: {
                auto type =
                    msg[i]->msg_style == PAM_PROMPT_ECHO_OFF ? wire::Msg::prompt_echo_off : wire::Msg::prompt_echo_on;
                e = st->channel->ask(type, t, st->answer);
                if (e) break;
                auto a = st->answer.view();
                if (a.find('\0') != std::string_view::npos) {
                    // PAM's strings end at NUL: an answer must not hide one
                    e = fail(EPROTO, "an answer holding a NUL byte");
                    st->answer.wipe();
                    break;
                }
                ++st->answers;
                resp[i].resp = static_cast<char*>(std::malloc(a.size() + 1));
                if (!resp[i].resp) {
                    st->answer.wipe();
                    drop_responses(resp, n);
                    return PAM_BUF_ERR;
                }
                std::memcpy(resp[i].resp, a.data(), a.size());
                resp[i].resp[a.size()] = '\0';
                st->answer.wipe();
                break;
            }
            case PAM_ERROR_MSG: e = st->channel->tell(wire::Msg::error_msg, t); break;
            case PAM_TEXT_INFO: e = st->channel->tell(wire::Msg::text_info, t); break;
            default:  // binary prompts and the like: the protocol has no frame for them
                e = fail(EPROTO, "PAM message style " + std::to_string(msg[i]->msg_style) + " cannot be relayed");
                break;
        }
        if (e) {
            st->broke = std::move(e);
            drop_responses(resp, n);
            return PAM_CONV_ERR;
        }
    }
    *out = resp;
    return PAM_SUCCESS;
}

PamResult result(PamOutcome outcome, const char* step, int code, std::string message) {
    PamResult r;
    r.outcome = outcome;
    r.step = step;
    r.pam_code = code;
    r.message = std::move(message);
    return r;
}

PamResult finish(pam_handle_t* pamh, int rc, PamResult r) {
    ::pam_end(pamh, rc);
    return r;
}

}  // namespace

PamResult pam_check(const std::string& service, const std::string& user, const std::string& client_name,
                    const wire::Origin& origin, PromptChannel& channel) {
    ConvState st{&channel};
    pam_conv conv{&converse, &st};
    pam_handle_t* pamh = nullptr;
    int rc = ::pam_start(service.c_str(), user.c_str(), &conv, &pamh);
    if (rc != PAM_SUCCESS) return result(PamOutcome::error, "pam_start", rc, ::pam_strerror(pamh, rc));
    // Items the stack may decide by: fail closed if one cannot be set.
    const std::pair<int, const std::string*> items[] = {
        {PAM_RUSER, &client_name}, {PAM_TTY, &origin.tty}, {PAM_RHOST, &origin.rhost}};
    for (auto [item, value] : items)
        if (!value->empty() && (rc = ::pam_set_item(pamh, item, value->c_str())) != PAM_SUCCESS)
            return finish(pamh, rc, result(PamOutcome::error, "pam_set_item", rc, ::pam_strerror(pamh, rc)));

    auto broken = [&](const char* step, int code) {
        PamResult r;
        if (st.broke) {
            r = result(PamOutcome::client_error, step, code, "conversation: " + st.broke.message);
            r.conversation = st.broke;
            r.answers = st.answers;
        }
        return r;
    };

    rc = ::pam_authenticate(pamh, PAM_DISALLOW_NULL_AUTHTOK);
    if (rc != PAM_SUCCESS) {
        if (auto b = broken("pam_authenticate", rc); b.conversation) return finish(pamh, rc, b);
        const std::string why = ::pam_strerror(pamh, rc);
        switch (rc) {
            case PAM_AUTH_ERR:
            case PAM_USER_UNKNOWN:
            case PAM_MAXTRIES:
            case PAM_CRED_INSUFFICIENT:
                return finish(pamh, rc, result(PamOutcome::auth_failed, "pam_authenticate", rc, why));
            case PAM_AUTHINFO_UNAVAIL:
                return finish(pamh, rc, result(PamOutcome::unavailable, "pam_authenticate", rc, why));
            default: return finish(pamh, rc, result(PamOutcome::error, "pam_authenticate", rc, why));
        }
    }
    rc = ::pam_acct_mgmt(pamh, PAM_DISALLOW_NULL_AUTHTOK);
    if (rc != PAM_SUCCESS) {
        if (auto b = broken("pam_acct_mgmt", rc); b.conversation) return finish(pamh, rc, b);
        const std::string why = ::pam_strerror(pamh, rc);
        if (rc == PAM_USER_UNKNOWN) return finish(pamh, rc, result(PamOutcome::auth_failed, "pam_acct_mgmt", rc, why));
        return finish(pamh, rc, result(PamOutcome::account, "pam_acct_mgmt", rc, why));
    }
    // A module may map the name; factotum grants only the user it was asked for.
    const void* item = nullptr;
    if (::pam_get_item(pamh, PAM_USER, &item) != PAM_SUCCESS || !item || user != static_cast<const char*>(item))
        return finish(
            pamh, PAM_PERM_DENIED,
            result(PamOutcome::error, "pam_get_item", PAM_PERM_DENIED, "PAM changed the user name; refusing"));
    return finish(pamh, PAM_SUCCESS, result(PamOutcome::ok, "pam", PAM_SUCCESS, "success"));
}

}  // namespace p9auth::factotum
