// p9use's reading of /proc/self/mountinfo: which line, which fields, and
// which mounts it accepts as p9auth. Every refusal is EPERM.
#include "mountinfo.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

namespace p9use {
namespace {

// Lines as Linux 6.x writes them.
constexpr const char* kMountinfo =
    "21 1 0:20 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
    "40 25 0:45 / /run/p9auth rw,nosuid,nodev,relatime shared:30 - fuse.p9authfs p9authfs "
    "rw,user_id=0,group_id=0,default_permissions,allow_other\n"
    "41 25 0:46 / /run/p9\\040auth rw,relatime - fuse.p9authfs p9authfs rw,user_id=0,group_id=0\n"
    "42 25 0:47 / /home/alice/fake rw,nosuid,nodev,relatime - fuse.p9authfs p9authfs rw,user_id=1000,group_id=1000\n"
    "43 25 0:48 /sub /mnt/bind rw,relatime master:7 shared:31 - p9auth p9auth rw\n"
    "44 25 0:49 / /run/p9k rw,relatime - p9auth p9auth rw,timeout=120\n"
    "45 25 0:50 / /run/x rw,relatime - fuse.p9authfsx p9authfs rw,user_id=0\n"
    "46 25 0:51 / /run/y rw,relatime - fuse.p9authfs p9authfs rw,xuser_id=0,user_id=00,group_id=0\n"
    "47 25 0:52 / /run/broken rw,relatime shared:1 -\n";

MountLine line(std::uint64_t id) {
    auto m = find_mount(kMountinfo, id);
    EXPECT_TRUE(m) << "mount " << id << ": " << (m ? "" : m.error().message);
    return m ? *m : MountLine{};
}

TEST(Mountinfo, FindsTheLineByIdAndItsFields) {
    const MountLine m = line(40);
    EXPECT_EQ(m.root, "/");
    EXPECT_EQ(m.mountpoint, "/run/p9auth");
    EXPECT_EQ(m.fstype, "fuse.p9authfs");
    EXPECT_EQ(m.superopts, "rw,user_id=0,group_id=0,default_permissions,allow_other");
}

TEST(Mountinfo, UnescapesTheMountPoint) { EXPECT_EQ(line(41).mountpoint, "/run/p9 auth"); }

TEST(Mountinfo, SkipsAnyNumberOfOptionalFields) {
    const MountLine m = line(43);
    EXPECT_EQ(m.root, "/sub");
    EXPECT_EQ(m.fstype, "p9auth");
    EXPECT_EQ(m.superopts, "rw");
}

TEST(Mountinfo, AMissingOrTruncatedLineIsRefused) {
    auto missing = find_mount(kMountinfo, 99);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().errnum, EPERM);
    EXPECT_NE(missing.error().message.find("mount 99 is not in"), std::string::npos);
    // The id must match the whole first field, not its start.
    EXPECT_FALSE(find_mount(kMountinfo, 4));
    auto broken = find_mount(kMountinfo, 47);
    ASSERT_FALSE(broken);
    EXPECT_EQ(broken.error().errnum, EPERM);
    EXPECT_FALSE(find_mount("", 40));
}

TEST(Mountinfo, ModeOfTheTwoImplementations) {
    auto fuse = mode_of(line(40), "/run/p9auth");
    ASSERT_TRUE(fuse);
    EXPECT_EQ(*fuse, Mode::fuse);
    auto kernel = mode_of(line(44), "/run/p9k");
    ASSERT_TRUE(kernel);
    EXPECT_EQ(*kernel, Mode::kernel);
}

TEST(Mountinfo, AFuseMountNotMadeByRootIsRefused) {
    auto m = mode_of(line(42), "/home/alice/fake");
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().errnum, EPERM);
    EXPECT_NE(m.error().message.find("not made by root"), std::string::npos);
    // user_id=0 must be a whole option: not "xuser_id=0", not "user_id=00".
    EXPECT_FALSE(mode_of(line(46), "/run/y"));
}

TEST(Mountinfo, AnotherFilesystemTypeIsRefused) {
    auto m = mode_of(line(45), "/run/x");
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().errnum, EPERM);
    EXPECT_NE(m.error().message.find("fstype fuse.p9authfsx"), std::string::npos);
    EXPECT_FALSE(mode_of(line(21), "/proc"));
}

}  // namespace
}  // namespace p9use
