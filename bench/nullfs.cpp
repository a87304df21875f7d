// The baseline for fs_bench: a FUSE filesystem with p9authfs's three files
// (caphash, capuse, status) that accepts every open and every write and does
// nothing. Same mount options, same direct_io, same multi-threaded loop, so
// the difference to p9authfs is the capability work alone.
//
//   p9auth-nullfs [-s] MOUNTPOINT     (always in the foreground)
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

#include <fuse_lowlevel.h>

namespace {

constexpr double kForever = 86400.0;
constexpr const char* kNames[] = {"caphash", "capuse", "status"};  // inodes 2, 3, 4
constexpr mode_t kModes[] = {S_IFREG | 0200, S_IFREG | 0222, S_IFREG | 0444};

struct stat attr_of(fuse_ino_t ino) {
    struct stat st {};
    st.st_ino = ino;
    st.st_nlink = 1;
    st.st_mode = ino == FUSE_ROOT_ID ? (S_IFDIR | 0555) : kModes[ino - 2];
    return st;
}

bool valid(fuse_ino_t ino) { return ino >= FUSE_ROOT_ID && ino <= 4; }

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    if (parent != FUSE_ROOT_ID) return (void)fuse_reply_err(req, ENOTDIR);
    for (fuse_ino_t i = 0; i < 3; ++i) {
        if (std::strcmp(name, kNames[i]) != 0) continue;
        fuse_entry_param e{};
        e.ino = i + 2;
        e.attr = attr_of(e.ino);
        e.attr_timeout = e.entry_timeout = kForever;
        return (void)fuse_reply_entry(req, &e);
    }
    fuse_reply_err(req, ENOENT);
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
    if (!valid(ino)) return (void)fuse_reply_err(req, ENOENT);
    const struct stat st = attr_of(ino);
    fuse_reply_attr(req, &st, kForever);
}

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    if (!valid(ino) || ino == FUSE_ROOT_ID) return (void)fuse_reply_err(req, ENOENT);
    fi->direct_io = 1;
    fuse_reply_open(req, fi);
}

void op_read(fuse_req_t req, fuse_ino_t, size_t, off_t, fuse_file_info*) { fuse_reply_buf(req, nullptr, 0); }

void op_write(fuse_req_t req, fuse_ino_t, const char*, size_t size, off_t, fuse_file_info*) {
    fuse_reply_write(req, size);
}

void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info*) { fuse_reply_err(req, 0); }

void op_init(void*, fuse_conn_info* conn) { conn->want &= ~FUSE_CAP_WRITEBACK_CACHE; }

fuse_lowlevel_ops operations() {
    fuse_lowlevel_ops o{};
    o.init = op_init;
    o.lookup = op_lookup;
    o.getattr = op_getattr;
    o.open = op_open;
    o.read = op_read;
    o.write = op_write;
    o.release = op_release;
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    bool single = false;
    const char* mountpoint = nullptr;
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "-s")
            single = true;
        else if (!mountpoint && argv[i][0] != '-')
            mountpoint = argv[i];
        else {
            std::fprintf(stderr, "usage: %s [-s] MOUNTPOINT\n", argv[0]);
            return 2;
        }
    }
    if (!mountpoint) {
        std::fprintf(stderr, "usage: %s [-s] MOUNTPOINT\n", argv[0]);
        return 2;
    }
    const char* fargv[] = {argv[0], "-o", "allow_other,fsname=nullfs,subtype=p9auth-nullfs,noexec"};
    fuse_args args = FUSE_ARGS_INIT(3, const_cast<char**>(fargv));
    const fuse_lowlevel_ops ops = operations();
    fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, nullptr);
    if (!se) return 1;
    int rc = 1;
    if (fuse_set_signal_handlers(se) == 0) {
        if (fuse_session_mount(se, mountpoint) == 0) {
            if (single) {
                rc = fuse_session_loop(se);
            } else {
                fuse_loop_config* cfg = fuse_loop_cfg_create();
                rc = fuse_session_loop_mt(se, cfg);
                fuse_loop_cfg_destroy(cfg);
            }
            fuse_session_unmount(se);
        }
        fuse_remove_signal_handlers(se);
    }
    fuse_session_destroy(se);
    return rc < 0 ? 1 : 0;
}
