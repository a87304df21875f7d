// Finding the authentic p9auth mount and opening its capuse.
#pragma once

#include <string>

#include "error.hpp"
#include "mountinfo.hpp"

namespace p9use {

struct Capuse {
    int fd = -1;  // capuse, open for writing; the caller closes it
    Mode mode = Mode::fuse;
};

// Opens capuse of the mount at `mountpoint` only if that mount is a p9auth
// filesystem we can prove: the root of a mount at exactly that path, of
// type fuse.p9authfs mounted by the root of its user namespace (user_id=0)
// or of type p9auth (the kernel module), with capuse on that same mount.
p9auth::Expected<Capuse> open_authentic_capuse(const std::string& mountpoint);

}  // namespace p9use
