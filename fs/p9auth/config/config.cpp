#include "config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace p9auth {
namespace {

constexpr std::size_t kMaxConfig = 64 * 1024;

Error bad_line(int line, const std::string& what) {
    return fail(EINVAL, std::string(kConfigPath) + ":" + std::to_string(line) + ": " + what);
}

// Owned by root, writable by nobody else, and (for the file) not a link.
Error check_owner(const std::string& path, const struct stat& st) {
    if (st.st_uid != 0) return fail(EPERM, path + " is not owned by root: refusing to trust it");
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return fail(EPERM, path + " is writable by group or others: refusing to trust it");
    return Error::ok();
}

}  // namespace

bool is_clean_absolute_path(std::string_view p) {
    if (p.size() < 2 || p.size() > 1024 || p[0] != '/' || p.back() == '/') return false;
    for (char c : p)
        if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f || c == '\\') return false;
    std::size_t i = 1;
    while (i <= p.size()) {
        const std::size_t j = std::min(p.find('/', i), p.size());
        const std::string_view part = p.substr(i, j - i);
        if (part.empty() || part == "." || part == "..") return false;
        i = j + 1;
    }
    return true;
}

Expected<Config> parse_config(std::string_view text) {
    Config c;
    int lineno = 0;
    int mountpoint_line = 0, socket_line = 0;  // where each was set: twice is an error, not "last wins"
    while (!text.empty()) {
        ++lineno;
        const std::size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        if (const auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
        while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
        if (line.empty()) continue;
        const std::size_t sp = line.find_first_of(" \t");
        if (sp == std::string_view::npos) return bad_line(lineno, "expected 'name value'");
        const std::string_view name = line.substr(0, sp);
        std::string_view value = line.substr(sp);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        if (name == "mountpoint" || name == "factotum_socket") {
            int& seen = name == "mountpoint" ? mountpoint_line : socket_line;
            if (seen != 0)
                return bad_line(lineno, std::string(name) + " is already set on line " + std::to_string(seen));
            seen = lineno;
            if (!is_clean_absolute_path(value))
                return bad_line(lineno, std::string(name) + " must be an absolute, normalised path without spaces");
            (name == "mountpoint" ? c.mountpoint : c.factotum_socket) = std::string(value);
        } else {
            return bad_line(lineno, "unknown setting '" + std::string(name) + "'");
        }
    }
    return c;
}

Expected<Config> load_config(const char* path) {
    // O_NONBLOCK: a FIFO put there must not hang the reader before S_ISREG can refuse it.
    const int fd = ::open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT) return Config{};
        return fail(errno, std::string("cannot open ") + path + ": " + std::strerror(errno));
    }
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};

    struct stat st{};
    if (::fstat(fd, &st) != 0) return fail(errno, std::string("cannot stat ") + path);
    if (!S_ISREG(st.st_mode)) return fail(EPERM, std::string(path) + " is not a regular file");
    if (Error e = check_owner(path, st)) return e;
    // Every directory above it, up to /: whoever could rename them could swap the file.
    std::string dir(path);
    while (true) {
        const std::size_t slash = dir.rfind('/');
        if (slash == std::string::npos) break;
        dir = slash == 0 ? "/" : dir.substr(0, slash);
        struct stat ds{};
        if (::lstat(dir.c_str(), &ds) != 0 || !S_ISDIR(ds.st_mode))
            return fail(EPERM, "cannot check directory " + dir);
        if (Error e = check_owner(dir, ds)) return e;
        if (dir == "/") break;
    }
    if (st.st_size < 0 || static_cast<std::size_t>(st.st_size) > kMaxConfig)
        return fail(EFBIG, std::string(path) + " is larger than 64 KiB");
    std::string text(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t got = 0;
    while (got < text.size()) {
        const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return fail(EIO, std::string("cannot read ") + path);
        got += static_cast<std::size_t>(n);
    }
    return parse_config(text);
}

}  // namespace p9auth
