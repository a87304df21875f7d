// The records login(1) and sshd keep of a session: utmp (who is on now),
// wtmp (every login and logout, for last(1)) and lastlog. p9logind holds
// no privilege; it writes them as a member of group utmp, which owns
// Debian's files (root:utmp 0664). A record that cannot be written is a
// warning in the log, never a refused login: login(1) does the same.
#pragma once

#include <sys/types.h>

#include <string>

namespace p9logind {

struct LoginRecord {
    std::string line;  // the pty without "/dev/": "pts/3"
    std::string user;  // the target's name
    std::string host;  // the peer's address, "" for none
    pid_t pid = 0;     // the session leader (the shell, after p9use's exec)
    uid_t uid = 0;     // for lastlog's slot
};

// USER_PROCESS in utmp and wtmp; the time, line and host in lastlog.
void record_login(const LoginRecord& r);
// DEAD_PROCESS in utmp and wtmp for the same line.
void record_logout(const LoginRecord& r);

}  // namespace p9logind
