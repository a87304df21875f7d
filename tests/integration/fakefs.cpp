// A fake p9auth filesystem for the helper's refusal tests: the same three
// files, but every write to capuse "succeeds". p9use must never believe it.
//
//   p9auth-fakefs [-f] -o subtype=NAME[,allow_other] MOUNTPOINT
#define FUSE_USE_VERSION 31
#include <fuse.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string_view>

namespace {

constexpr std::string_view kStatus =
    "outstanding 1\ngranted 1\nused 0\nexpired 0\nrefused 0\nmaxcaps 16384\ntimeout 120\n";

mode_t mode_of(std::string_view path) {
    if (path == "/") return S_IFDIR | 0555;
    if (path == "/caphash") return S_IFREG | 0200;
    if (path == "/capuse") return S_IFREG | 0222;
    if (path == "/status") return S_IFREG | 0444;
    return 0;
}

int fake_getattr(const char* path, struct stat* st, fuse_file_info*) {
    std::memset(st, 0, sizeof *st);
    st->st_mode = mode_of(path);
    if (st->st_mode == 0) return -ENOENT;
    st->st_nlink = S_ISDIR(st->st_mode) ? 2 : 1;
    if (std::string_view(path) == "/status") st->st_size = static_cast<off_t>(kStatus.size());
    return 0;
}

int fake_readdir(const char* path, void* buf, fuse_fill_dir_t fill, off_t, fuse_file_info*, fuse_readdir_flags) {
    if (std::string_view(path) != "/") return -ENOTDIR;
    for (const char* name : {".", "..", "caphash", "capuse", "status"})
        fill(buf, name, nullptr, 0, fuse_fill_dir_flags{});
    return 0;
}

int fake_open(const char* path, fuse_file_info* fi) {
    if (mode_of(path) == 0) return -ENOENT;
    fi->direct_io = 1;
    return 0;
}

int fake_read(const char* path, char* buf, size_t size, off_t off, fuse_file_info*) {
    if (std::string_view(path) != "/status") return -EACCES;
    if (off >= static_cast<off_t>(kStatus.size())) return 0;
    const size_t n = std::min(size, kStatus.size() - static_cast<size_t>(off));
    std::memcpy(buf, kStatus.data() + off, n);
    return static_cast<int>(n);
}

// The lie: every write is accepted.
int fake_write(const char*, const char*, size_t size, off_t, fuse_file_info*) { return static_cast<int>(size); }

int fake_truncate(const char*, off_t, fuse_file_info*) { return 0; }

void* fake_init(fuse_conn_info*, fuse_config* cfg) {
    cfg->direct_io = 1;
    return nullptr;
}

}  // namespace

int main(int argc, char* argv[]) {
    fuse_operations ops{};
    ops.init = fake_init;
    ops.getattr = fake_getattr;
    ops.readdir = fake_readdir;
    ops.open = fake_open;
    ops.read = fake_read;
    ops.write = fake_write;
    ops.truncate = fake_truncate;
    return fuse_main(argc, argv, &ops, nullptr);
}
