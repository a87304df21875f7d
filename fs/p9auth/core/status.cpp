#include "status.hpp"

#include "p9auth_spec.h"

namespace p9auth {

std::string format_status(const TableCounters& c, const TableLimits& limits) {
    std::string s;
    auto line = [&s](const char* name, std::uint64_t v) {
        s += name;
        s += ' ';
        s += std::to_string(v);
        s += '\n';
    };
    line("outstanding", c.outstanding);
    line("granted", c.granted);
    line("used", c.used);
    line("expired", c.expired);
    line("refused", c.refused);
    line(P9AUTH_OPT_MAXCAPS, limits.maxcaps);
    line(P9AUTH_OPT_TIMEOUT, static_cast<std::uint64_t>(limits.timeout.count()));
    return s;
}

}  // namespace p9auth
