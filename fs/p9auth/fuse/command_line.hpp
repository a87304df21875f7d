// p9authfs's command line: our mount options (through the core's
// MountOptions) and the standard FUSE flags -f, -d, -s.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "error.hpp"
#include "mount_options.hpp"

namespace p9authfs {

struct CommandLine {
    enum class Action { mount, help, version };
    Action action = Action::mount;
    std::string mountpoint;
    p9auth::MountOptions options;
    bool foreground = false;     // -f
    bool debug = false;          // -d: libfuse traces every request; implies -f
    bool single_thread = false;  // -s
};

// args: argv without argv[0]. EINVAL with a message for a person on any
// usage error (unknown flag or option, bad value, not exactly one mount point).
p9auth::Expected<CommandLine> parse_command_line(std::span<const char* const> args);

std::string usage_text(std::string_view program);

}  // namespace p9authfs
