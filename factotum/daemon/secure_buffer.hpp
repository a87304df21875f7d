// A fixed-size buffer for secrets in libsodium's guarded memory: locked in
// RAM (sodium_malloc mlocks it), guard pages on both sides, zeroed when freed.
#pragma once

#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <string_view>

namespace p9auth::factotum {

class SecureBuffer {
public:
    explicit SecureBuffer(std::size_t capacity)
        : p_(static_cast<std::uint8_t*>(sodium_malloc(capacity ? capacity : 1))), cap_(capacity) {
        if (!p_) throw std::bad_alloc();
    }
    SecureBuffer(const SecureBuffer&) = delete;
    SecureBuffer& operator=(const SecureBuffer&) = delete;
    ~SecureBuffer() { sodium_free(p_); }  // zeroes, then frees

    std::span<std::uint8_t> writable(std::size_t n) {
        len_ = n <= cap_ ? n : cap_;
        return {p_, len_};
    }
    std::string_view view() const { return {reinterpret_cast<const char*>(p_), len_}; }
    std::size_t size() const { return len_; }
    void wipe() {
        sodium_memzero(p_, cap_);
        len_ = 0;
    }

private:
    std::uint8_t* p_;
    std::size_t cap_;
    std::size_t len_ = 0;
};

}  // namespace p9auth::factotum
