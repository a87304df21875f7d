// The list of cases: each cases_*.cpp file registers its cases here.
#pragma once

#include <vector>

namespace conformance {

enum Applies : unsigned { kFuseOnly = 1, kKernelOnly = 2, kBoth = 3 };

struct Case {
    const char* name;
    void (*run)();
    unsigned applies;
};

std::vector<Case>& cases();
inline int add_case(Case c) {
    cases().push_back(c);
    return 0;
}

}  // namespace conformance

// CONFORMANCE_CASE(fn, "name", kBoth) { ... body ... }
#define CONFORMANCE_CASE(fn, name, applies)                                 \
    static void fn();                                                       \
    [[maybe_unused]] static const int fn##_registered =                     \
        ::conformance::add_case(::conformance::Case{name, &(fn), applies}); \
    static void fn()
