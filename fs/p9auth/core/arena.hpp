// Memory for the capability table's nodes and buckets.
//
// A table of a million hashes is ~90 MB of small nodes. Spread over 4 KiB
// pages, each use after a context switch (every FUSE request is one) walks
// the page tables for the bucket, the node and its neighbours in the expiry
// list: in a VM that made a use 1.4x slower with a full table than with an
// empty one (bench/README.md). The arena takes memory in 2 MiB aligned
// chunks that the kernel is asked to back with huge pages (MADV_HUGEPAGE;
// transparent huge pages in "madvise" or "always" mode), and carves them
// into blocks with a free list per block size. Large blocks (bucket arrays)
// get a mapping of their own, returned when freed.
//
// Not thread-safe: the table's mutex guards every call. Small blocks are
// reused, never returned to the system before the arena dies; what they
// held (hashes) zeroes itself before it is freed.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace p9auth {

class Arena {
public:
    Arena() = default;
    Arena(const Arena&) = delete;
    Arena& operator=(const Arena&) = delete;
    ~Arena();

    void* allocate(std::size_t bytes);                     // std::bad_alloc when out of memory
    void deallocate(void* p, std::size_t bytes) noexcept;  // bytes as given to allocate

    static constexpr std::size_t kChunk = std::size_t{2} << 20;  // one huge page
    static constexpr std::size_t kLarge = kChunk / 8;           // from here on, a mapping of its own
    static constexpr std::size_t kAlign = 16;

private:
    struct FreeBlock {
        FreeBlock* next;
    };
    FreeBlock*& free_list(std::size_t size);

    std::vector<void*> chunks_;                              // every 2 MiB chunk, unmapped at the end
    std::vector<std::pair<std::size_t, FreeBlock*>> free_;   // block size -> free blocks (few sizes)
    char* cur_ = nullptr;                                    // the unused rest of the newest chunk
    std::size_t left_ = 0;
};

// A standard allocator over an Arena, for the table's unordered_map.
template <class T>
struct ArenaAllocator {
    using value_type = T;
    Arena* arena;

    explicit ArenaAllocator(Arena* a) noexcept : arena(a) {}
    template <class U>
    ArenaAllocator(const ArenaAllocator<U>& o) noexcept : arena(o.arena) {}  // NOLINT: rebinding

    T* allocate(std::size_t n) {
        static_assert(alignof(T) <= Arena::kAlign);
        return static_cast<T*>(arena->allocate(n * sizeof(T)));
    }
    void deallocate(T* p, std::size_t n) noexcept { arena->deallocate(p, n * sizeof(T)); }

    template <class U>
    bool operator==(const ArenaAllocator<U>& o) const noexcept {
        return arena == o.arena;
    }
};

}  // namespace p9auth
