// p9auth-conformance: docs/spec.md checked against a live mount, the same
// cases for the FUSE daemon and the kernel module. Run as root in a private
// mount namespace; every case mounts and unmounts its own filesystem.
//
//   p9auth-conformance --impl fuse|kernel --mount /run/p9auth --p9use PATH
//                      [--p9authfs PATH] [--filter SUBSTR]
//
// Hidden modes used by the suite and the integration tests:
//   --report-creds                 print this process's credentials, argv[0] and cwd
//   --grant MOUNT FROM TO [--sha1] grant with the core, print the capability
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "registry.hpp"
#include "support.hpp"

namespace conformance {

std::vector<Case>& cases() {
    static std::vector<Case> v;
    return v;
}

}  // namespace conformance

namespace {

using namespace conformance;

int usage() {
    std::fprintf(stderr,
                 "usage: p9auth-conformance --impl fuse|kernel --mount DIR [--p9use PATH] "
                 "[--p9authfs PATH] [--filter SUBSTR] [--list]\n");
    return 2;
}

// The credentials, then how the program was started (argv[0], the
// working directory: what p9use --argv0 and --chdir set).
int report_creds(const char* argv0) {
    const std::string s = format_creds(read_creds());
    std::fwrite(s.data(), 1, s.size(), stdout);
    char cwd[4096];
    std::printf("argv0 %s\ncwd %s\n", argv0, ::getcwd(cwd, sizeof cwd) ? cwd : "?");
    return 0;
}

int grant_mode(int argc, char** argv) {
    if (argc < 5) return usage();
    const std::string mount = argv[2];
    const auto from = p9auth::parse_target(argv[3]);
    const auto to = p9auth::parse_target(argv[4]);
    if (!from || !from->bare() || !to) {
        std::fprintf(stderr, "p9auth-conformance --grant: bad FROM or TO\n");
        return 2;
    }
    const bool sha1 = argc > 5 && std::string_view(argv[5]) == "--sha1";
    p9auth::core_init();
    const auto g = p9auth::make_grant(from->uid, *to, sha1 ? p9auth::HashKind::sha1 : p9auth::HashKind::sha256);
    const int fd = ::open((mount + "/caphash").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        std::fprintf(stderr, "p9auth-conformance --grant: open %s/caphash: %s\n", mount.c_str(), std::strerror(errno));
        return 1;
    }
    const auto b = g.hash.bytes();
    if (::write(fd, b.data(), b.size()) != static_cast<ssize_t>(b.size())) {
        std::fprintf(stderr, "p9auth-conformance --grant: write %s/caphash: %s\n", mount.c_str(), std::strerror(errno));
        return 1;
    }
    ::close(fd);
    std::printf("%.*s\n", static_cast<int>(g.capability.size()), g.capability.data());
    return 0;
}

std::string self_path() {
    char buf[4096];
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return "";
    return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 2 && std::string_view(argv[1]) == "--report-creds") return report_creds(argv[0]);
    if (argc >= 2 && std::string_view(argv[1]) == "--grant") return grant_mode(argc, argv);

    Config& cfg = mutable_config();
    std::string filter;
    bool have_impl = false, list = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
        const char* v = nullptr;
        if (a == "--list") {
            list = true;
        } else if (a == "--impl" && (v = value())) {
            if (std::string_view(v) == "fuse")
                cfg.impl = Impl::fuse;
            else if (std::string_view(v) == "kernel")
                cfg.impl = Impl::kernel;
            else
                return usage();
            have_impl = true;
        } else if (a == "--mount" && (v = value())) {
            cfg.mount = v;
        } else if (a == "--p9use" && (v = value())) {
            cfg.p9use = v;
        } else if (a == "--p9authfs" && (v = value())) {
            cfg.p9authfs = v;
        } else if (a == "--filter" && (v = value())) {
            filter = v;
        } else {
            return usage();
        }
    }
    if (list) {
        for (const auto& c : cases()) std::printf("%s\n", c.name);
        return 0;
    }
    if (!have_impl || cfg.mount.empty()) return usage();
    if (cfg.impl == Impl::fuse && (cfg.p9use.empty() || cfg.p9authfs.empty())) {
        std::fprintf(stderr, "p9auth-conformance: --impl fuse needs --p9use and --p9authfs\n");
        return 2;
    }
    if (::geteuid() != 0) {
        std::fprintf(stderr, "p9auth-conformance: run as root, in a private mount namespace\n");
        return 2;
    }
    cfg.self = self_path();
    p9auth::core_init();
    ::setvbuf(stdout, nullptr, _IOLBF, 0);

    const unsigned mine = cfg.impl == Impl::fuse ? kFuseOnly : kKernelOnly;
    int passed = 0, failed = 0;
    for (const auto& c : cases()) {
        if (!(c.applies & mine)) continue;
        if (!filter.empty() && std::string_view(c.name).find(filter) == std::string_view::npos) continue;
        std::string why;
        deferred_failures().clear();
        try {
            c.run();
        } catch (const Failure& f) {
            why = f.why;
        } catch (const std::exception& e) {
            why = std::string("exception: ") + e.what();
        }
        for (const auto& d : deferred_failures()) why += (why.empty() ? "" : "; ") + d;
        if (why.empty()) {
            ++passed;
            std::printf("PASS %s\n", c.name);
        } else {
            ++failed;
            std::printf("FAIL %s: %s\n", c.name, why.c_str());
        }
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}
