// The mount options of docs/spec.md section 6, parsed in one place.
#pragma once

#include <string>
#include <string_view>

#include "cap_table.hpp"
#include "error.hpp"
#include "grant_policy.hpp"

namespace p9auth {

struct MountOptions {
    TableLimits table;
    GrantPolicy grant;

    // Applies one option ("timeout", "30"; "grant_once", ""). Sets *known to
    // false and succeeds for a name that is not ours (a caller may pass it on),
    // EINVAL with a message naming the option for a bad value.
    Error set(std::string_view name, std::string_view value, bool* known);

    // Applies a comma-separated list; every name must be ours.
    Error parse(std::string_view list);

    std::string describe() const;  // "timeout=120,maxcaps=16384,..." for logs
};

}  // namespace p9auth
