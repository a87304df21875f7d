// The audit trail: every request, grant and denial, to syslog (LOG_AUTHPRIV,
// ident "factotum"). Lines carry uids, pids, target names, outcomes and
// reasons; never an answer, a key or a capability.
#pragma once

#include <cstdarg>

namespace p9auth::factotum {

void audit_open(bool also_stderr);
void audit(int priority, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void vaudit(int priority, const char* fmt, va_list ap) __attribute__((format(printf, 2, 0)));

}  // namespace p9auth::factotum
