#include "requests.hpp"

#include "admit.hpp"

namespace p9auth::factotum {

const RequestRule* admit(const wire::Header& h, Phase phase, std::string* why) {
    auto now = [phase](const RequestRule& r) {
        return ((r.flags & kFirst) && phase == Phase::first) || ((r.flags & kPrompted) && phase == Phase::prompted) ||
               ((r.flags & kAfterOrigin) && phase == Phase::origin);
    };
    return admit_row(kRequestTable, h.type, h.length, now, why);
}

}  // namespace p9auth::factotum
