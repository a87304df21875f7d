// Small helpers shared by the unit tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hmac.hpp"

namespace p9auth::test {

inline std::string hex(std::span<const std::uint8_t> b) {
    static const char* d = "0123456789abcdef";
    std::string s;
    for (auto c : b) {
        s.push_back(d[c >> 4]);
        s.push_back(d[c & 15]);
    }
    return s;
}

inline std::string hex(const Hash& h) { return hex(h.bytes()); }

inline std::string bytes(std::size_t n, char c) { return std::string(n, c); }

}  // namespace p9auth::test
