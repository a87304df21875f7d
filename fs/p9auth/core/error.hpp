// Errors as values: an errno a caller can act on, a message a person can.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace p9auth {

struct Error {
    int errnum = 0;       // 0 means success
    std::string message;  // what failed and why; never contains a secret

    static Error ok() { return {}; }
    explicit operator bool() const { return errnum != 0; }  // true when failed
};

inline Error fail(int errnum, std::string message) { return Error{errnum, std::move(message)}; }

// A value or the error that prevented it.
template <class T>
class Expected {
public:
    Expected(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
    Expected(Error error) : v_(std::move(error)) {}  // NOLINT
    bool has_value() const { return v_.index() == 0; }
    explicit operator bool() const { return has_value(); }
    T& value() { return std::get<0>(v_); }
    const T& value() const { return std::get<0>(v_); }
    T& operator*() { return value(); }
    const T& operator*() const { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

}  // namespace p9auth
