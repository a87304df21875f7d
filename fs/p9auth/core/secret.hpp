// Memory that holds secrets (keys, capability texts): zeroed when freed.
#pragma once

#include <cstddef>
#include <new>
#include <string>
#include <string_view>

namespace p9auth {

void secure_zero(void* p, std::size_t n);  // libsodium's sodium_memzero

// Zeroes every buffer before it goes back to the heap, including the ones a
// growing string leaves behind.
template <class T>
struct ZeroingAllocator {
    using value_type = T;
    ZeroingAllocator() noexcept = default;
    template <class U>
    ZeroingAllocator(const ZeroingAllocator<U>&) noexcept {}  // NOLINT
    T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
    void deallocate(T* p, std::size_t n) noexcept {
        secure_zero(p, n * sizeof(T));
        ::operator delete(p);
    }
    template <class U>
    bool operator==(const ZeroingAllocator<U>&) const noexcept {
        return true;
    }
};

// A string for secrets. Its short-string buffer is zeroed by the destructor;
// heap buffers by the allocator.
class SecretString {
public:
    SecretString() = default;
    explicit SecretString(std::string_view s) : s_(s.data(), s.size()) {}
    SecretString(const SecretString&) = default;
    SecretString(SecretString&& o) noexcept : s_(std::move(o.s_)) { o.wipe(); }
    SecretString& operator=(const SecretString&) = default;
    SecretString& operator=(SecretString&& o) noexcept {
        wipe();
        s_ = std::move(o.s_);
        o.wipe();
        return *this;
    }
    ~SecretString() { wipe(); }

    std::string_view view() const { return {s_.data(), s_.size()}; }
    const char* data() const { return s_.data(); }
    std::size_t size() const { return s_.size(); }
    bool empty() const { return s_.empty(); }
    void append(std::string_view s) { s_.append(s.data(), s.size()); }
    void push_back(char c) { s_.push_back(c); }
    void clear() { wipe(); }
    bool operator==(const SecretString&) const = delete;  // use a constant-time compare

private:
    void wipe() noexcept {
        if (!s_.empty()) secure_zero(s_.data(), s_.size());
        s_.clear();
    }
    std::basic_string<char, std::char_traits<char>, ZeroingAllocator<char>> s_;
};

}  // namespace p9auth
