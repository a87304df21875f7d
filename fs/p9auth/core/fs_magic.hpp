// Which filesystem a descriptor is on: the one judgement of "is this a
// p9auth mount" by filesystem type that p9grant, p9use and factotum share.
#pragma once

#include <sys/vfs.h>

#include <cerrno>

#include "p9auth_spec.h"

namespace p9auth {

inline constexpr long kFuseSuperMagic = P9AUTH_FUSE_SUPER_MAGIC;  // p9authfs
inline constexpr long kP9authSuperMagic = P9AUTH_SUPER_MAGIC;     // p9auth.ko

// 0 when fd is on a filesystem of either p9auth type; EPERM when on
// another; fstatfs's errno when it cannot be asked.
inline int p9auth_filesystem_check(int fd) {
    struct statfs sfs {};
    if (::fstatfs(fd, &sfs) != 0) return errno;
    const long type = static_cast<long>(sfs.f_type);
    return type == kFuseSuperMagic || type == kP9authSuperMagic ? 0 : EPERM;
}

}  // namespace p9auth
