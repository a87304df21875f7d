// The text of the status file (docs/spec.md, section 7).
#pragma once

#include <string>

#include "cap_table.hpp"

namespace p9auth {

std::string format_status(const TableCounters& c, const TableLimits& limits);

}  // namespace p9auth
