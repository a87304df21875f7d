// Every program's fatal error, one way: "PROGRAM: message" on standard
// error, then the program's exit status. The statuses follow one
// convention: 2 is a usage error in every program; the others are each
// program's own, in its man page (1 a refusal for p9grant, p9use, p9su,
// p9logind and p9auth-request; factotum's sysexits 71 and 78).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

namespace p9auth {

// The message, with control characters but '\n' and '\t' shown as '?': it
// may quote what a user typed, which must not drive the terminal. ('\n'
// stays: a usage error carries the usage text on lines of its own.)
inline void complain(const char* program, std::string_view message) {
    std::string line = std::string(program) + ": ";
    for (char c : message)
        line.push_back((static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') || c == 0x7f ? '?' : c);
    line.push_back('\n');
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
}

// For main() to return: destructors (secrets zeroed) still run.
inline int fatal(const char* program, int status, std::string_view message) {
    complain(program, message);
    return status;
}

// Where nothing on the stack holds a secret.
[[noreturn]] inline void die(const char* program, int status, std::string_view message) {
    complain(program, message);
    std::exit(status);
}

// main()'s body under one catch. An exception that reaches main (bad_alloc
// above all) is reported and ends the program with `status`, having
// unwound the stack: without a catch the runtime may abort without
// unwinding, and a secret's destructor would not wipe it. fprintf, not
// complain(): reporting must not allocate. The statuses are each
// program's failure status, so an internal error fails closed.
template <class Body>
int run_main(const char* program, int status, Body&& body) noexcept {
    try {
        return body();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: internal error: %s\n", program, e.what());
    } catch (...) {
        std::fprintf(stderr, "%s: internal error\n", program);
    }
    return status;
}

}  // namespace p9auth
