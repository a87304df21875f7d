// Logging for the daemon: stderr in the foreground, syslog (LOG_AUTHPRIV,
// ident "p9authfs") as a daemon. Callers never pass a key, a hash or a
// capability text; the core's error messages are safe by contract.
#pragma once

#include <syslog.h>

namespace p9authfs {

// Before the switch (and in the foreground) lines go to stderr.
void log_to_syslog();

void log(int priority, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// For events any user can provoke (a refused use): at most a burst of lines
// a second, then one line saying how many were left out, so that nobody can
// flood the authentication log.
void log_limited(int priority, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace p9authfs
