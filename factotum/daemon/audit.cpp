#include "audit.hpp"

#include <syslog.h>

#include <cstdarg>

namespace p9auth::factotum {

void audit_open(bool also_stderr) {
    // LOG_NDELAY: connect now, while the start-up still may; glibc reconnects
    // later if the log daemon restarts (the seccomp filter allows it).
    ::openlog("factotum", LOG_PID | LOG_NDELAY | (also_stderr ? LOG_PERROR : 0), LOG_AUTHPRIV);
}

void vaudit(int priority, const char* fmt, va_list ap) { ::vsyslog(LOG_AUTHPRIV | priority, fmt, ap); }

void audit(int priority, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vaudit(priority, fmt, ap);
    va_end(ap);
}

}  // namespace p9auth::factotum
