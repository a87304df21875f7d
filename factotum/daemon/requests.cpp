#include "requests.hpp"

namespace p9auth::factotum {

const RequestRule* admit(const wire::Header& h, Phase phase, std::string* why) {
    for (const RequestRule& r : kRequestTable) {
        if (r.type != h.type) continue;
        bool now = ((r.flags & kFirst) && phase == Phase::first) ||
                   ((r.flags & kPrompted) && phase == Phase::prompted) ||
                   ((r.flags & kAfterOrigin) && phase == Phase::origin);
        if (!now) {
            *why = std::string("'") + r.name + "' not allowed now";
            return nullptr;
        }
        if (h.length < r.min_len || h.length > r.max_len) {
            *why = std::string("'") + r.name + "' of " + std::to_string(h.length) + " bytes, allowed " +
                   std::to_string(r.min_len) + ".." + std::to_string(r.max_len);
            return nullptr;
        }
        return &r;
    }
    *why = "unknown message type " + std::to_string(static_cast<unsigned>(h.type));
    return nullptr;
}

}  // namespace p9auth::factotum
