// p9authfs: options, mount, daemonize, serve, exit. The privilege this runs
// with is whatever mounting needs: root, or the owner of a user namespace.
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include <fuse_lowlevel.h>

#include "command_line.hpp"
#include "fs_ops.hpp"
#include "grant.hpp"
#include "log.hpp"
#include "opener_creds.hpp"
#include "p9auth_spec.h"
#include "die.hpp"

namespace p9authfs {
namespace {

constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;

// The arguments libfuse itself parses: what every p9authfs mount has.
class FuseArgs {
public:
    FuseArgs(const char* argv0, const std::string& fsname, bool debug) {
        // allow_other: every user must reach capuse. fsname/subtype: the mount
        // shows as SOURCE (p9authfs) of type fuse.p9authfs. No
        // default_permissions: the grant rules, not the mode bits, decide
        // (spec section 5). nosuid,nodev,noexec whatever the helper asked:
        // none of the files is a program or a device.
        add(argv0);
        add("-o");
        add(("allow_other,nosuid,nodev,noexec,subtype=" P9AUTH_FUSE_SUBTYPE ",fsname=" + fsname).c_str());
        if (debug) add("-d");
    }
    FuseArgs(const FuseArgs&) = delete;
    FuseArgs& operator=(const FuseArgs&) = delete;
    ~FuseArgs() { fuse_opt_free_args(&args_); }
    fuse_args* get() { return &args_; }

private:
    void add(const char* a) {
        if (fuse_opt_add_arg(&args_, a) != 0) throw std::bad_alloc();
    }
    fuse_args args_ = FUSE_ARGS_INIT(0, nullptr);
};

class Session {
public:
    Session(FuseArgs& args, Filesystem& fs)
        : se_(fuse_session_new(args.get(), &operations(), sizeof(fuse_lowlevel_ops), &fs)) {}
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    ~Session() {
        if (se_) fuse_session_destroy(se_);
    }
    fuse_session* get() const { return se_; }

private:
    fuse_session* se_;
};

// SIGTERM, SIGINT, SIGHUP end the loop; the mount is then taken down below.
class SignalHandlers {
public:
    explicit SignalHandlers(fuse_session* se) : se_(fuse_set_signal_handlers(se) == 0 ? se : nullptr) {}
    SignalHandlers(const SignalHandlers&) = delete;
    SignalHandlers& operator=(const SignalHandlers&) = delete;
    ~SignalHandlers() {
        if (se_) fuse_remove_signal_handlers(se_);
    }
    bool ok() const { return se_ != nullptr; }

private:
    fuse_session* se_;
};

class Mounted {
public:
    Mounted(fuse_session* se, const std::string& where)
        : se_(fuse_session_mount(se, where.c_str()) == 0 ? se : nullptr) {}
    Mounted(const Mounted&) = delete;
    Mounted& operator=(const Mounted&) = delete;
    ~Mounted() {
        if (se_) fuse_session_unmount(se_);
    }
    bool ok() const { return se_ != nullptr; }

private:
    fuse_session* se_;
};

class LoopConfig {
public:
    LoopConfig() : cfg_(fuse_loop_cfg_create()) {
        if (!cfg_) throw std::bad_alloc();
        fuse_loop_cfg_set_clone_fd(cfg_, 0);
    }
    LoopConfig(const LoopConfig&) = delete;
    LoopConfig& operator=(const LoopConfig&) = delete;
    ~LoopConfig() { fuse_loop_cfg_destroy(cfg_); }
    fuse_loop_config* get() const { return cfg_; }

private:
    fuse_loop_config* cfg_;
};

// 0 after an unmount, the signal number after SIGTERM & co., -errno on failure.
int serve(fuse_session* se, bool single_thread) {
    if (single_thread) return fuse_session_loop(se);
    LoopConfig cfg;
    return fuse_session_loop_mt(se, cfg.get());
}

// grant_uid=/grant_gid= hand the grant right to an identity that need not
// hold CAP_SETUID and CAP_SETGID, so only a mounter holding both may name
// them (no one can grant what they could not take; as p9auth.ko). The
// mount's user namespace is this process's own, where its effective set
// is what counts.
bool may_name_grant_options() {
    __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct d[2]{};
    if (::syscall(SYS_capget, &h, d) != 0) return false;
    const auto has = [&](int cap) { return (d[cap / 32].effective >> (cap % 32)) & 1u; };
    return has(CAP_SETUID) && has(CAP_SETGID);
}

int run(const CommandLine& cl, const char* argv0) {
    p9auth::core_init();
    auto ns = mount_user_namespace();
    if (!ns) {
        log(LOG_ERR, "%s", ns.error().message.c_str());
        return kExitFailure;
    }
    if ((cl.options.grant.grant_uid || cl.options.grant.grant_gid) && !may_name_grant_options()) {
        log(LOG_ERR, "grant_uid=/grant_gid= need CAP_SETUID and CAP_SETGID in the mount's user namespace");
        return kExitFailure;
    }
    Filesystem fs(cl.options, *ns);  // outlives the session, which points to it
    FuseArgs args(argv0, cl.fsname, cl.debug);
    Session se(args, fs);
    if (!se.get()) return kExitFailure;  // libfuse said why on stderr
    SignalHandlers signals(se.get());
    if (!signals.ok()) return kExitFailure;
    Mounted mounted(se.get(), cl.mountpoint);
    if (!mounted.ok()) return kExitFailure;  // libfuse said why on stderr

    // No core file may ever hold the table's hashes.
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    // The mount is in place: a script can use it as soon as we return.
    if (!cl.foreground) {
        if (fuse_daemonize(0) != 0) return kExitFailure;
        log_to_syslog();
    }
    log(LOG_NOTICE, "serving %s as %s (%s)", cl.mountpoint.c_str(), cl.fsname.c_str(), cl.options.describe().c_str());
    const int rc = serve(se.get(), cl.single_thread);
    if (rc < 0) {
        log(LOG_ERR, "stopped serving %s: %s", cl.mountpoint.c_str(), std::strerror(-rc));
        return kExitFailure;
    }
    if (rc > 0)
        log(LOG_NOTICE, "signal %d: unmounting %s", rc, cl.mountpoint.c_str());
    else
        log(LOG_NOTICE, "%s unmounted", cl.mountpoint.c_str());
    return 0;  // the table zeroes its hashes as fs goes
}

}  // namespace
}  // namespace p9authfs

static int main_body(int argc, char** argv) {
    using p9authfs::CommandLine;
    auto cl = p9authfs::parse_command_line(argc, argv);
    if (!cl) {
        std::fprintf(stderr, "p9authfs: %s\n%s", cl.error().message.c_str(), p9authfs::usage_text("p9authfs").c_str());
        return p9authfs::kExitUsage;
    }
    switch (cl->action) {
        case CommandLine::Action::help: std::fputs(p9authfs::usage_text("p9authfs").c_str(), stdout); return 0;
        case CommandLine::Action::version:
            std::printf("p9authfs %s (libfuse %s)\n", P9AUTH_VERSION, fuse_pkgversion());
            return 0;
        case CommandLine::Action::mount: break;
    }
    try {
        return p9authfs::run(*cl, argv[0]);
    } catch (const std::exception& e) {
        p9authfs::log(LOG_ERR, "%s", e.what());
        return p9authfs::kExitFailure;
    }
}

int main(int argc, char** argv) {
    return p9auth::run_main("p9authfs", p9authfs::kExitFailure, [&] { return main_body(argc, argv); });
}
