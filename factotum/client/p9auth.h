/* libp9auth: the C face of the client library, for login services that
 * hold no privilege. Link with `pkg-config --libs p9auth`.
 *
 *   pam_start("myservice", ...); pam_authenticate(); pam_acct_mgmt();
 *   p9auth_pam_take_capability(pamh, cap, sizeof cap);   // from pam_p9auth
 *   p9auth_exec_as(NULL, cap, len, argv);                  // becomes the user
 *
 * Capabilities are secrets: every function that is handed one leaves the
 * caller's buffer as it was; the caller zeroes it (p9auth_zero). */
#ifndef P9AUTH_H
#define P9AUTH_H

#include <stddef.h>

/* The library is built with hidden visibility and a version script
 * (P9AUTH_0): only what this header declares is exported. */
#if defined(__GNUC__)
#define P9AUTH_API __attribute__((visibility("default")))
#else
#define P9AUTH_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The PAM data item under which pam_p9auth keeps the capability: a
 * NUL-terminated string, zeroed when the handle ends. Other modules may read
 * it with pam_get_data; Linux-PAM does not let applications read PAM data,
 * so they use p9auth_pam_take_capability, which pam_p9auth makes possible
 * by registering its copy with libp9auth (p9auth_pam_register_, internal). */
#define P9AUTH_PAM_DATA_CAPABILITY "p9auth_capability"

/* The longest capability text (the protocol's bound), without the NUL. */
#define P9AUTH_CAPABILITY_MAX 16384

struct pam_handle;

/* Moves the capability pam_p9auth obtained out of the PAM handle into buf
 * (NUL-terminated) and zeroes and drops the handle's copy: a second call
 * finds nothing. Returns its length, or -1 with errno: ENOENT no capability
 * (pam_p9auth did not authenticate), ERANGE buf too small (the capability
 * stays in the handle). */
P9AUTH_API long p9auth_pam_take_capability(struct pam_handle* pamh, char* buf, size_t len);

/* Internal: pam_p9auth's registration of its copy (see above). */
P9AUTH_API void p9auth_pam_register_(struct pam_handle* pamh, char* cap);
P9AUTH_API void p9auth_pam_forget_(struct pam_handle* pamh, char* cap);

/* Runs argv[0] (searched in PATH) with argv as exactly the capability's
 * user, by exec'ing p9use (p9use_path, or the installed one when NULL) with
 * the capability on a pipe descriptor (--fd), never in argv or the
 * environment. Returns only on failure: -1 with errno. */
P9AUTH_API int p9auth_exec_as(const char* p9use_path, const char* cap, size_t cap_len, char* const argv[]);

/* As p9auth_exec_as, started the way a login starts a shell: in directory
 * dir (changed to as the user, after the switch; "/" with a warning when
 * the user cannot enter it) and with argv0 as the program's argv[0] (a
 * login shell's "-sh"), while argv[0] is still the program run. Either may
 * be NULL: unchanged. */
P9AUTH_API int p9auth_exec_as_login(const char* p9use_path, const char* cap, size_t cap_len, const char* dir,
                                    const char* argv0, char* const argv[]);

/* Asks factotum directly (without PAM) for a capability to become user.
 * converse is called for each prompt (echo 0/1; write the answer, NUL-
 * terminated, into answer, at most answer_len bytes with the NUL; return
 * 0, or -1 to abort) and with answer NULL for messages. An answer may hold
 * 1024 bytes (answer_len is larger): a longer one, or one with no NUL in
 * the buffer, is refused with EMSGSIZE, never cut and sent. socket_path NULL: the one in
 * /etc/p9auth/p9auth.conf. Returns the capability's length, or -1 with
 * errno (EACCES refused, EAGAIN throttled, ETIMEDOUT, EPROTO, EIO, ...);
 * the message for a person goes to err (may be NULL). */
typedef int (*p9auth_converse_fn)(void* ctx, const char* text, int echo, char* answer, size_t answer_len);
P9AUTH_API long p9auth_request(const char* socket_path, const char* user, p9auth_converse_fn converse, void* ctx,
                               char* cap, size_t cap_len, char* err, size_t err_len);

/* Zeroes memory that held a secret, in a way the compiler keeps. */
P9AUTH_API void p9auth_zero(void* p, size_t n);

#ifdef __cplusplus
}
#endif

#endif
