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

constexpr std::size_t kMaxConfig = std::size_t{64} * 1024;

Error bad_line(int line, const std::string& what) {
    return fail(EINVAL, std::string(kConfigPath) + ":" + std::to_string(line) + ": " + what);
}

// Owned by root, writable by nobody else. A directory may instead be
// root's and sticky (/tmp): its entries can be renamed only by root and by
// their owners, and the entry below is checked in turn.
Error check_owner(const std::string& what, const std::string& path, const struct stat& st, bool dir) {
    if (st.st_uid != 0) return fail(EPERM, what + ": " + path + " is not owned by root: refusing to trust it");
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(dir && (st.st_mode & S_ISVTX)))
        return fail(EPERM, what + ": " + path + " is writable by group or others: refusing to trust it (chmod go-w)");
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

Expected<std::string> read_root_owned_file(const std::string& path, std::size_t max_bytes, const std::string& what) {
    if (path.empty() || path[0] != '/') return fail(EINVAL, what + ": " + path + " is not an absolute path");
    // O_NONBLOCK: a FIFO put there must not hang the reader before S_ISREG can refuse it.
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        const int e = errno;
        return fail(e, what + ": cannot open " + path + ": " + std::strerror(e));
    }
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};

    struct stat st {};
    if (::fstat(fd, &st) != 0) return fail(errno, what + ": cannot stat " + path + ": " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) return fail(EPERM, what + ": " + path + " is not a regular file");
    if (Error e = check_owner(what, path, st, false)) return e;
    // Every directory above it, up to /: whoever could rename them could swap the file.
    std::string dir(path);
    while (dir != "/") {
        const std::size_t slash = dir.rfind('/');
        dir = slash == 0 ? "/" : dir.substr(0, slash);
        struct stat ds {};
        if (::lstat(dir.c_str(), &ds) != 0 || !S_ISDIR(ds.st_mode))
            return fail(EPERM, what + ": cannot check directory " + dir + " above " + path);
        if (Error e = check_owner(what, dir, ds, true)) return e;
    }
    if (st.st_size < 0 || static_cast<std::size_t>(st.st_size) > max_bytes)
        return fail(EFBIG, what + ": " + path + " is larger than " + std::to_string(max_bytes / 1024) + " KiB");
    std::string text(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t got = 0;
    while (got < text.size()) {
        const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(errno, what + ": cannot read " + path + ": " + std::strerror(errno));
        if (n == 0) break;  // shrunk since fstat: what is there is the file
        got += static_cast<std::size_t>(n);
    }
    text.resize(got);
    return text;
}

Expected<Config> load_config(const char* path) {
    auto text = read_root_owned_file(path, kMaxConfig, "p9auth.conf");
    if (!text) {
        if (text.error().errnum == ENOENT) return Config{};
        return text.error();
    }
    return parse_config(*text);
}

}  // namespace p9auth
