// Every request path ends in exactly one fuse_reply_*: each operation's body
// runs inside answer(), computes its result first and replies last, and
// answer() replies ENOMEM only when the body threw before its reply.
#include "fs_ops.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "capability.hpp"
#include "log.hpp"
#include "p9auth_spec.h"
#include "secret.hpp"
#include "status.hpp"

namespace p9authfs {

Filesystem::Filesystem(const p9auth::MountOptions& opts, UserNamespaceId ns)
    : options(opts),
      user_ns(ns),
      born([] {
          timespec t{};
          ::clock_gettime(CLOCK_REALTIME, &t);
          return t;
      }()),
      table(opts.table),
      gate(opts.grant) {}

enum class Node : fuse_ino_t { none = 0, root = FUSE_ROOT_ID, caphash = 2, capuse = 3, status = 4 };

// What an open file handle (fi->fh) points to; Filesystem::open_files owns it.
struct OpenFile {
    Node node;
    std::string snapshot;  // status: its text at open, so split reads agree
};

Filesystem::~Filesystem() = default;

namespace {

constexpr double kForever = 86400.0;                         // seconds; the tree never changes
constexpr unsigned kMaxWritePages = P9AUTH_MAX_WRITE_PAGES;  // docs/spec.md section 4, as p9auth.ko

// The three files of spec section 3; `direction` is the one open mode each allows.
struct FileSpec {
    Node node;
    const char* name;
    mode_t mode;
    int direction;  // O_WRONLY or O_RDONLY
};
constexpr FileSpec kFiles[] = {
    {Node::caphash, P9AUTH_FILE_CAPHASH, S_IFREG | P9AUTH_MODE_CAPHASH, O_WRONLY},
    {Node::capuse, P9AUTH_FILE_CAPUSE, S_IFREG | P9AUTH_MODE_CAPUSE, O_WRONLY},
    {Node::status, P9AUTH_FILE_STATUS, S_IFREG | P9AUTH_MODE_STATUS, O_RDONLY},
};

const FileSpec* file_spec(Node n) {
    for (const auto& f : kFiles)
        if (f.node == n) return &f;
    return nullptr;
}

Node node_of(fuse_ino_t ino) {
    if (ino == FUSE_ROOT_ID) return Node::root;
    return file_spec(static_cast<Node>(ino)) ? static_cast<Node>(ino) : Node::none;
}

Filesystem& fs_of(fuse_req_t req) { return *static_cast<Filesystem*>(fuse_req_userdata(req)); }

std::string status_text(Filesystem& fs) { return p9auth::format_status(fs.table.counters(), fs.table.limits()); }

struct stat attr_of(Filesystem& fs, Node n) {
    struct stat st {};
    st.st_ino = static_cast<ino_t>(n);
    st.st_atim = st.st_mtim = st.st_ctim = fs.born;
    st.st_blksize = 4096;
    if (n == Node::root) {
        st.st_mode = S_IFDIR | P9AUTH_MODE_ROOT;
        st.st_nlink = 2;
        return st;
    }
    st.st_mode = file_spec(n)->mode;
    st.st_nlink = 1;
    if (n == Node::caphash) {
        st.st_uid = fs.options.grant.grant_uid.value_or(0);
        st.st_gid = fs.options.grant.grant_gid.value_or(0);
    }
    if (n == Node::status) st.st_size = static_cast<off_t>(status_text(fs).size());
    return st;
}

// The status file's size changes with every grant: its attributes are never cached.
double attr_timeout(Node n) { return n == Node::status ? 0.0 : kForever; }

void forget(Filesystem& fs, const OpenFile* f) {
    std::unique_ptr<OpenFile> gone;  // freed outside the lock
    std::lock_guard lock(fs.open_mu);
    if (auto it = fs.open_files.find(f); it != fs.open_files.end()) {
        gone = std::move(it->second);
        fs.open_files.erase(it);
    }
}

// FUSE's file handle is a uint64_t by its API; it holds our pointer.
OpenFile* open_file(const fuse_file_info* fi) {
    return reinterpret_cast<OpenFile*>(fi->fh);  // NOLINT(performance-no-int-to-ptr)
}

template <class Body>
void answer(fuse_req_t req, const char* op, Body&& body) noexcept {
    try {
        body();
    } catch (const std::exception& e) {
        log(LOG_ERR, "%s: %s", op, e.what());
        fuse_reply_err(req, ENOMEM);
    }
}

void reply_entry(fuse_req_t req, Filesystem& fs, Node n) {
    fuse_entry_param e{};
    e.ino = static_cast<fuse_ino_t>(n);
    e.attr = attr_of(fs, n);
    e.attr_timeout = attr_timeout(n);
    e.entry_timeout = kForever;
    fuse_reply_entry(req, &e);
}

// Who may open caphash or capuse (spec section 5), judged with the
// opener's credentials: never a process acting for another (a set-uid
// mount helper would otherwise open capuse as its caller and mount over
// it), and caphash only with the grant privilege.
p9auth::Error admit_opener(fuse_req_t req, Filesystem& fs, Node n) {
    auto opener = inspect_opener(req, fs.user_ns);
    if (!opener) return opener.error();
    if (p9auth::Error e = refuse_acting_for_another(*opener)) return e;
    if (n != Node::caphash) return p9auth::Error::ok();
    auto who = opener_creds(req, *opener);
    if (!who) return who.error();
    return fs.gate.open(*who);
}

// truncate(2) to 0 and open(O_TRUNC) on a file without atomic_o_trunc: the
// size, plus the times the kernel updates along with it.
bool truncates_to_zero_only(const struct stat* attr, int to_set) {
    constexpr int with_truncate = FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW |
                                  FUSE_SET_ATTR_CTIME | FUSE_SET_ATTR_KILL_SUID | FUSE_SET_ATTR_KILL_SGID;
    return (to_set & FUSE_SET_ATTR_SIZE) && attr->st_size == 0 && (to_set & ~with_truncate) == 0;
}

// --- operations ---------------------------------------------------------

void op_init(void*, fuse_conn_info* conn) {
    // Every write must reach us, whole and at once, from the writer itself.
    conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
    // The kernel splits a write whose buffers span more pages than one
    // message carries (max_pages, which libfuse derives from max_write);
    // the spec's limit is kMaxWritePages, so ask for exactly that many
    // (the kernel module refuses larger writes: docs/spec.md section 4).
    const auto page = static_cast<unsigned>(::sysconf(_SC_PAGESIZE));
    conn->max_write = std::min(conn->max_write, kMaxWritePages * page);
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    answer(req, "lookup", [&] {
        if (node_of(parent) != Node::root) return (void)fuse_reply_err(req, ENOTDIR);
        for (const auto& f : kFiles)
            if (std::strcmp(name, f.name) == 0) return reply_entry(req, fs_of(req), f.node);
        fuse_reply_err(req, ENOENT);
    });
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
    answer(req, "getattr", [&] {
        const Node n = node_of(ino);
        if (n == Node::none) return (void)fuse_reply_err(req, ENOENT);
        const struct stat st = attr_of(fs_of(req), n);
        fuse_reply_attr(req, &st, attr_timeout(n));
    });
}

void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info*) {
    answer(req, "setattr", [&] {
        const Node n = node_of(ino);
        if (n == Node::none) return (void)fuse_reply_err(req, ENOENT);
        if ((n == Node::caphash || n == Node::capuse) && truncates_to_zero_only(attr, to_set)) {
            const struct stat st = attr_of(fs_of(req), n);  // nothing to truncate: a no-op
            return (void)fuse_reply_attr(req, &st, attr_timeout(n));
        }
        fuse_reply_err(req, EPERM);
    });
}

// Answers for the direction each file can be opened in (spec section 5);
// the grant privilege is decided at open only.
void op_access(fuse_req_t req, fuse_ino_t ino, int mask) {
    const Node n = node_of(ino);
    if (n == Node::none) return (void)fuse_reply_err(req, ENOENT);
    int allowed = R_OK | X_OK;
    if (n != Node::root) allowed = file_spec(n)->direction == O_WRONLY ? W_OK : R_OK;
    fuse_reply_err(req, (mask & ~allowed) ? EACCES : 0);
}

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    answer(req, "open", [&] {
        const Node n = node_of(ino);
        if (n == Node::root) return (void)fuse_reply_err(req, EISDIR);
        if (n == Node::none) return (void)fuse_reply_err(req, ENOENT);
        if ((fi->flags & O_ACCMODE) != file_spec(n)->direction) return (void)fuse_reply_err(req, EACCES);
        Filesystem& fs = fs_of(req);
        const fuse_ctx* ctx = fuse_req_ctx(req);
        if (n == Node::caphash || n == Node::capuse) {
            if (p9auth::Error e = admit_opener(req, fs, n)) {
                // Any user can try: rate-limited, so nobody floods the log.
                log_limited(LOG_WARNING, "%s: open refused: %s (uid %u, pid %d)", file_spec(n)->name, e.message.c_str(),
                            ctx->uid, ctx->pid);
                return (void)fuse_reply_err(req, EPERM);
            }
            if (n == Node::caphash)
                log(LOG_NOTICE, "caphash: opened for granting (uid %u, pid %d)", ctx->uid, ctx->pid);
        }
        auto file = std::make_unique<OpenFile>(OpenFile{n, n == Node::status ? status_text(fs) : std::string()});
        const OpenFile* handle = file.get();
        {
            std::lock_guard lock(fs.open_mu);
            fs.open_files.emplace(handle, std::move(file));
        }
        fi->direct_io = 1;  // each write reaches us with its writer's credentials
        fi->keep_cache = 0;
        fi->fh = reinterpret_cast<std::uint64_t>(handle);
        // Non-zero: the opener is gone, and no release will follow.
        if (fuse_reply_open(req, fi) != 0) forget(fs, handle);
    });
}

void op_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
    answer(req, "read", [&] {
        const OpenFile* f = open_file(fi);
        if (!f || f->node != Node::status) return (void)fuse_reply_err(req, EBADF);
        const std::string& s = f->snapshot;
        if (off < 0 || static_cast<std::size_t>(off) >= s.size()) return (void)fuse_reply_buf(req, nullptr, 0);
        // Reply from a copy: once the kernel has the reply, the reader may
        // close, and the release (on another thread) frees the snapshot
        // while fuse_reply_buf is still returning.
        const std::string chunk = s.substr(static_cast<std::size_t>(off), size);
        fuse_reply_buf(req, chunk.data(), chunk.size());
    });
}

void grant(fuse_req_t req, Filesystem& fs, const char* buf, size_t size) {
    const fuse_ctx* ctx = fuse_req_ctx(req);
    if (p9auth::Error e = fs.table.grant({reinterpret_cast<const std::uint8_t*>(buf), size})) {
        log_limited(LOG_WARNING, "caphash: %s (uid %u, pid %d)", e.message.c_str(), ctx->uid, ctx->pid);
        return (void)fuse_reply_err(req, e.errnum);
    }
    fuse_reply_write(req, size);
}

void use(fuse_req_t req, Filesystem& fs, const char* buf, size_t size) {
    const fuse_ctx* ctx = fuse_req_ctx(req);
    p9auth::Capability cap;
    if (p9auth::Error e = fs.table.use(std::string_view(buf, size), ctx->uid, &cap)) {
        log_limited(LOG_NOTICE, "capuse: %s (uid %u, pid %d)", e.message.c_str(), ctx->uid, ctx->pid);
        return (void)fuse_reply_err(req, e.errnum);
    }
    log(LOG_INFO, "capuse: capability accepted for uid %u to become %s (pid %d)", ctx->uid,
        p9auth::format_target(cap.to).c_str(), ctx->pid);
    fuse_reply_write(req, size);
}

void op_write(fuse_req_t req, fuse_ino_t, const char* buf, size_t size, off_t, fuse_file_info* fi) {
    // buf is libfuse's receive buffer (malloc'd, reused, freed unzeroed;
    // no splice: FUSE_CAP_SPLICE_READ is never asked for). It holds a key or
    // a hash: zero it once the reply is sent, on every path.
    struct ZeroOnReturn {
        const char* p;
        size_t n;
        ~ZeroOnReturn() { p9auth::secure_zero(const_cast<char*>(p), n); }
    } zero{buf, size};
    answer(req, "write", [&] {
        const OpenFile* f = open_file(fi);
        if (!f) return (void)fuse_reply_err(req, EBADF);
        if (size == 0 && f->node != Node::status) return (void)fuse_reply_write(req, 0);  // changes nothing
        switch (f->node) {
            case Node::caphash: return grant(req, fs_of(req), buf, size);
            case Node::capuse: return use(req, fs_of(req), buf, size);
            default: return (void)fuse_reply_err(req, EBADF);
        }
    });
}

void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    forget(fs_of(req), open_file(fi));
    fuse_reply_err(req, 0);
}

void op_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    if (node_of(ino) != Node::root) return (void)fuse_reply_err(req, ENOTDIR);
    fi->cache_readdir = 1;
    fi->keep_cache = 1;
    fuse_reply_open(req, fi);
}

void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
    answer(req, "readdir", [&] {
        if (node_of(ino) != Node::root) return (void)fuse_reply_err(req, ENOTDIR);
        struct Dirent {
            const char* name;
            Node node;
            mode_t mode;
        };
        const Dirent all[] = {{".", Node::root, S_IFDIR},
                              {"..", Node::root, S_IFDIR},
                              {kFiles[0].name, kFiles[0].node, S_IFREG},
                              {kFiles[1].name, kFiles[1].node, S_IFREG},
                              {kFiles[2].name, kFiles[2].node, S_IFREG}};
        std::vector<char> buf(size);
        std::size_t used = 0;
        for (off_t i = std::max<off_t>(off, 0); i < static_cast<off_t>(std::size(all)); ++i) {
            struct stat st {};
            st.st_ino = static_cast<ino_t>(all[i].node);
            st.st_mode = all[i].mode;
            const std::size_t n = fuse_add_direntry(req, buf.data() + used, size - used, all[i].name, &st, i + 1);
            if (n > size - used) break;  // full: the kernel asks again from i
            used += n;
        }
        fuse_reply_buf(req, buf.data(), used);
    });
}

// Spec section 8: the tree is fixed.
void op_mknod(fuse_req_t req, fuse_ino_t, const char*, mode_t, dev_t) { fuse_reply_err(req, EPERM); }
void op_mkdir(fuse_req_t req, fuse_ino_t, const char*, mode_t) { fuse_reply_err(req, EPERM); }
void op_unlink(fuse_req_t req, fuse_ino_t, const char*) { fuse_reply_err(req, EPERM); }
void op_rmdir(fuse_req_t req, fuse_ino_t, const char*) { fuse_reply_err(req, EPERM); }
void op_symlink(fuse_req_t req, const char*, fuse_ino_t, const char*) { fuse_reply_err(req, EPERM); }
void op_rename(fuse_req_t req, fuse_ino_t, const char*, fuse_ino_t, const char*, unsigned) {
    fuse_reply_err(req, EPERM);
}
void op_link(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) { fuse_reply_err(req, EPERM); }
void op_create(fuse_req_t req, fuse_ino_t, const char*, mode_t, fuse_file_info*) { fuse_reply_err(req, EPERM); }

void op_setxattr(fuse_req_t req, fuse_ino_t, const char*, const char*, size_t, int) { fuse_reply_err(req, EOPNOTSUPP); }
void op_getxattr(fuse_req_t req, fuse_ino_t, const char*, size_t) { fuse_reply_err(req, EOPNOTSUPP); }
void op_listxattr(fuse_req_t req, fuse_ino_t, size_t) { fuse_reply_err(req, EOPNOTSUPP); }
void op_removexattr(fuse_req_t req, fuse_ino_t, const char*) { fuse_reply_err(req, EOPNOTSUPP); }

}  // namespace

const fuse_lowlevel_ops& operations() {
    // Operations left out get libfuse's ENOSYS, which the kernel reads as
    // "do it yourself" (flush, fsync, locks, statfs defaults) and which
    // never touches the table.
    static const fuse_lowlevel_ops ops = [] {
        fuse_lowlevel_ops o{};
        o.init = op_init;
        o.lookup = op_lookup;
        o.getattr = op_getattr;
        o.setattr = op_setattr;
        o.access = op_access;
        o.open = op_open;
        o.read = op_read;
        o.write = op_write;
        o.release = op_release;
        o.opendir = op_opendir;
        o.readdir = op_readdir;
        o.mknod = op_mknod;
        o.mkdir = op_mkdir;
        o.unlink = op_unlink;
        o.rmdir = op_rmdir;
        o.symlink = op_symlink;
        o.rename = op_rename;
        o.link = op_link;
        o.create = op_create;
        o.setxattr = op_setxattr;
        o.getxattr = op_getxattr;
        o.listxattr = op_listxattr;
        o.removexattr = op_removexattr;
        return o;
    }();
    return ops;
}

}  // namespace p9authfs
