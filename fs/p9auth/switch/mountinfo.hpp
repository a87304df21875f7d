// Reading /proc/self/mountinfo, and judging the line of one mount: pure
// functions of the text, so every refusal can be tested without a mount.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "error.hpp"

namespace p9use {

enum class Mode { fuse, kernel };

struct MountLine {
    std::string root, mountpoint, fstype, superopts;  // root and mountpoint unescaped
};

// The line of mount `id` in mountinfo text ("ID PARENT MAJ:MIN ROOT
// MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS"). EPERM when it
// is missing or cannot be parsed.
p9auth::Expected<MountLine> find_mount(std::string_view mountinfo, std::uint64_t id);

// Which p9auth implementation the mount is (type p9auth: the kernel module;
// fuse.p9authfs with user_id=0 among its super options: FUSE mounted by
// the root of its user namespace), or EPERM saying why it is neither.
p9auth::Expected<Mode> mode_of(const MountLine& m, const std::string& mountpoint);

}  // namespace p9use
