// factotum-test-syslog SOCKET LOG: a syslog daemon for one test. Binds a
// datagram socket at SOCKET (e.g. /dev/log in a private /dev) and appends
// each message to LOG, one a line. Not installed.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
    if (argc != 3) return 2;
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, argv[1], sizeof a.sun_path - 1);
    ::unlink(argv[1]);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        std::perror("factotum-test-syslog: bind");
        return 1;
    }
    ::chmod(argv[1], 0666);
    std::FILE* log = std::fopen(argv[2], "a");
    if (!log) return 1;
    char buf[65536];
    for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) continue;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\0')) --n;
        std::fwrite(buf, 1, static_cast<std::size_t>(n), log);
        std::fputc('\n', log);
        std::fflush(log);
    }
}
