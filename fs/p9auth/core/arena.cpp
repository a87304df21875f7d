#include "arena.hpp"

#include <sys/mman.h>

#include <cstdint>
#include <new>

namespace p9auth {
namespace {

constexpr std::size_t kPage = 4096;

std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

void* map(std::size_t bytes) {
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return p;
}

// Advice only: without transparent huge pages the memory works the same.
void want_huge_pages(void* p, std::size_t bytes) { (void)::madvise(p, bytes, MADV_HUGEPAGE); }

// A 2 MiB chunk at a 2 MiB boundary, which a huge page can back.
void* map_chunk() {
    char* raw = static_cast<char*>(map(2 * Arena::kChunk));
    const auto addr = reinterpret_cast<std::uintptr_t>(raw);
    char* aligned = raw + (round_up(addr, Arena::kChunk) - addr);
    if (aligned > raw) ::munmap(raw, static_cast<std::size_t>(aligned - raw));
    char* end = aligned + Arena::kChunk;
    if (end < raw + 2 * Arena::kChunk) ::munmap(end, static_cast<std::size_t>(raw + 2 * Arena::kChunk - end));
    want_huge_pages(aligned, Arena::kChunk);
    return aligned;
}

}  // namespace

Arena::~Arena() {
    for (void* c : chunks_) ::munmap(c, kChunk);
}

Arena::FreeBlock*& Arena::free_list(std::size_t size) {
    for (auto& [s, head] : free_)
        if (s == size) return head;
    free_.emplace_back(size, nullptr);
    return free_.back().second;
}

void* Arena::allocate(std::size_t bytes) {
    const std::size_t size = round_up(bytes == 0 ? 1 : bytes, kAlign);
    if (size >= kLarge) {
        const std::size_t len = round_up(size, kPage);
        void* p = map(len);
        if (len >= kChunk) want_huge_pages(p, len);
        return p;
    }
    FreeBlock*& head = free_list(size);
    if (head) {
        FreeBlock* b = head;
        head = b->next;
        return b;
    }
    if (left_ < size) {
        chunks_.reserve(chunks_.size() + 1);  // so that push_back cannot throw after the map
        cur_ = static_cast<char*>(map_chunk());
        chunks_.push_back(cur_);
        left_ = kChunk;  // the old chunk's rest (< size) is left unused
    }
    void* p = cur_;
    cur_ += size;
    left_ -= size;
    return p;
}

void Arena::deallocate(void* p, std::size_t bytes) noexcept {
    if (!p) return;
    const std::size_t size = round_up(bytes == 0 ? 1 : bytes, kAlign);
    if (size >= kLarge) {
        ::munmap(p, round_up(size, kPage));
        return;
    }
    // free_list finds the size: a block of it was allocated, so its list
    // exists and no allocation happens here.
    FreeBlock* b = static_cast<FreeBlock*>(p);
    FreeBlock*& head = free_list(size);
    b->next = head;
    head = b;
}

}  // namespace p9auth
