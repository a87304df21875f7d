// Every request's failure is a refusal, never a crash: an exception out of
// a worker's request or the event loop's handling of one connection
// (std::bad_alloc, std::system_error from a mutex, std::length_error...)
// is caught here and described for the log, and the daemon serves on.
// Nothing that is caught allocates: under bad_alloc the description must
// still be written.
#pragma once

#include <cstdio>
#include <exception>
#include <new>
#include <system_error>
#include <typeinfo>

namespace p9auth::factotum {

struct Caught {
    bool thrown = false;
    char what[192] = {};  // for the log: the exception's type and what(); never a payload
};

// Runs fn(); tells what it threw, if anything.
template <class F>
Caught catch_all(F&& fn) noexcept {
    Caught c;
    try {
        fn();
        return c;
    } catch (const std::bad_alloc&) {
        c.thrown = true;
        std::snprintf(c.what, sizeof c.what, "out of memory (std::bad_alloc)");
    } catch (const std::system_error& e) {
        c.thrown = true;
        std::snprintf(c.what, sizeof c.what, "std::system_error (%s: %d): %s", e.code().category().name(),
                      e.code().value(), e.what());
    } catch (const std::exception& e) {
        c.thrown = true;
        std::snprintf(c.what, sizeof c.what, "%s: %s", typeid(e).name(), e.what());
    } catch (...) {
        c.thrown = true;
        std::snprintf(c.what, sizeof c.what, "an exception of unknown type");
    }
    return c;
}

}  // namespace p9auth::factotum
