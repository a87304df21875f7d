// Fuzz target: whatever a user writes to capuse. The parser must never crash,
// must accept only texts that format back to themselves, and a refused use
// must leave the table as it was.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cap_table.hpp"
#include "capability.hpp"
#include "grant.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static bool init = (p9auth::core_init(), true);
    (void)init;
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    auto cap = p9auth::parse_capability(text);
    if (cap) {
        std::string_view canonical = text;
        if (!canonical.empty() && canonical.back() == '\n') canonical.remove_suffix(1);
        if (p9auth::format_capability(*cap).view() != canonical) std::abort();  // one text per meaning
    }

    static p9auth::CapTable table({});
    static const p9auth::NewGrant grant = [] {
        p9auth::NewGrant g = p9auth::make_grant(1, p9auth::Target{2, 2, {3}});
        if (table.grant(g.hash.bytes())) std::abort();
        return g;
    }();
    const auto before = table.counters();
    const p9auth::Error e = table.use(text, 1);
    const auto after = table.counters();
    if (!e) std::abort();  // a random input cannot be the outstanding capability
    if (after.outstanding != before.outstanding || after.used != before.used) std::abort();
    if (e.errnum != EINVAL && e.errnum != EPERM) std::abort();
    (void)grant;
    return 0;
}
