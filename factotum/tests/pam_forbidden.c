/* pam_factotum_forbidden: a PAM module for factotum's tests that does what
 * factotum's confinement forbids, then claims success, as a careless module
 * might. Arguments: "personality" (a system call the seccomp filter traps),
 * "write=PATH" (a file opened for writing outside the tally directory,
 * which Landlock refuses). Not installed. */
#include <fcntl.h>
#include <security/pam_modules.h>
#include <string.h>
#include <sys/personality.h>
#include <unistd.h>

PAM_EXTERN int pam_sm_authenticate(pam_handle_t* pamh, int flags, int argc, const char** argv) {
    (void)pamh;
    (void)flags;
    for (int i = 0; i < argc; ++i) {
        if (strcmp(argv[i], "personality") == 0) (void)personality(0xffffffff); /* only asks */
        if (strncmp(argv[i], "write=", 6) == 0) {
            int fd = open(argv[i] + 6, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
            if (fd < 0) return PAM_AUTH_ERR;
            close(fd);
        }
    }
    return PAM_SUCCESS;
}

PAM_EXTERN int pam_sm_setcred(pam_handle_t* pamh, int flags, int argc, const char** argv) {
    (void)pamh;
    (void)flags;
    (void)argc;
    (void)argv;
    return PAM_SUCCESS;
}
