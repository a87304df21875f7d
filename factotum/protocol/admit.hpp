// The one rule of factotum's two request tables (requests.hpp: client to
// front; monitor_wire.hpp: front to monitor): a message is admitted when
// its type has a row, the row allows it now, and its length is within the
// row's bounds. Each table adds its own checks to the row this returns.
#pragma once

#include <cstddef>
#include <string>

namespace p9auth::factotum {

// The row for type, or nullptr with *why saying what was wrong (for the
// log; never the payload). allowed_now(row) says whether the row admits
// its message in the connection's present state.
template <class Row, std::size_t N, class Type, class AllowedNow>
const Row* admit_row(const Row (&table)[N], Type type, std::size_t length, AllowedNow allowed_now, std::string* why) {
    for (const Row& r : table) {
        if (r.type != type) continue;
        if (!allowed_now(r)) {
            *why = std::string("'") + r.name + "' not allowed now";
            return nullptr;
        }
        if (length < r.min_len || length > r.max_len) {
            *why = std::string("'") + r.name + "' of " + std::to_string(length) + " bytes, allowed " +
                   std::to_string(r.min_len) + ".." + std::to_string(r.max_len);
            return nullptr;
        }
        return &r;
    }
    *why = "unknown message type " + std::to_string(static_cast<unsigned>(type));
    return nullptr;
}

}  // namespace p9auth::factotum
