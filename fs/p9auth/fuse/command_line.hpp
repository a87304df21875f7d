// p9authfs's command line: our mount options (through the core's
// MountOptions), the standard FUSE flags -f, -d, -s, and the operands of
// both calling conventions: "p9authfs MOUNTPOINT" and the mount helper's
// "p9authfs SOURCE MOUNTPOINT -o OPTIONS" (mount.fuse3, mount -t fuse.p9authfs).
#pragma once

#include <string>
#include <string_view>

#include "error.hpp"
#include "mount_options.hpp"

namespace p9authfs {

struct CommandLine {
    enum class Action { mount, help, version };
    Action action = Action::mount;
    std::string fsname = "p9authfs";  // the mount's source, from SOURCE
    std::string mountpoint;
    p9auth::MountOptions options;
    bool foreground = false;     // -f
    bool debug = false;          // -d: libfuse traces every request; implies -f
    bool single_thread = false;  // -s
};

// getopt_long over argv (which it may permute). EINVAL with a message for a
// person on any usage error: unknown flag or option, bad value, an operand
// count other than one or two, a SOURCE that is not a plain name.
p9auth::Expected<CommandLine> parse_command_line(int argc, char** argv);

std::string usage_text(std::string_view program);

}  // namespace p9authfs
