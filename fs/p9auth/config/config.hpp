// /etc/p9auth/p9auth.conf: the root-owned settings every program of the
// product shares. Nothing that matters to security comes from anywhere else.
#pragma once

#include <string>
#include <string_view>

#include "error.hpp"
#include "paths.hpp"

namespace p9auth {

inline constexpr const char* kConfigPath = paths::kConfig;  // /etc/p9auth/p9auth.conf on Debian
inline constexpr const char* kDefaultMountpoint = "/run/p9auth";
inline constexpr const char* kDefaultFactotumSocket = "/run/p9auth-factotum.sock";

struct Config {
    std::string mountpoint = kDefaultMountpoint;           // where the p9auth filesystem is mounted
    std::string factotum_socket = kDefaultFactotumSocket;  // where factotum listens
};

// Parses the text: "name value" lines, '#' comments, blank lines. Unknown
// names and bad values are errors (fail closed), with the line number.
Expected<Config> parse_config(std::string_view text);

// Reads kConfigPath (or path) through read_root_owned_file. A missing
// file means the defaults.
Expected<Config> load_config(const char* path = kConfigPath);

// The one loader of root-owned settings files (p9auth.conf, factotum's
// policy): the file's text, after checking that it is a regular file (not
// a link, not a FIFO), of at most max_bytes, owned by uid 0 and writable
// by nobody else, and that every directory above it, up to /, is owned by
// uid 0 and writable by nobody else, or is root's sticky directory (as
// /tmp: there only root and an entry's owner can rename the entry, and the
// entry below is checked in turn). Errors name what refused, prefixed by
// `what` ("policy", "p9auth.conf"): ENOENT when absent, EPERM for
// ownership and mode, ELOOP for a link, EFBIG when too large.
Expected<std::string> read_root_owned_file(const std::string& path, std::size_t max_bytes, const std::string& what);

// An absolute, normalised path without white space or control characters
// (so it reads the same in /proc/self/mountinfo).
bool is_clean_absolute_path(std::string_view p);

}  // namespace p9auth
