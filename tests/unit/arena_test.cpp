// The table's arena: blocks are aligned, distinct, reused after free, and
// large blocks are mappings of their own; the memory is usable throughout.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <unordered_map>
#include <vector>

#include "arena.hpp"

namespace p9auth {
namespace {

TEST(Arena, SmallBlocksAreAlignedDistinctAndReused) {
    Arena a;
    std::vector<void*> blocks;
    // More than one chunk's worth of 72-byte blocks (a table node's size).
    const std::size_t n = 2 * Arena::kChunk / 72;
    for (std::size_t i = 0; i < n; ++i) {
        void* p = a.allocate(72);
        ASSERT_EQ(reinterpret_cast<std::uintptr_t>(p) % Arena::kAlign, 0u);
        std::memset(p, static_cast<int>(i), 72);
        blocks.push_back(p);
    }
    EXPECT_EQ(std::set<void*>(blocks.begin(), blocks.end()).size(), n);
    for (std::size_t i = 0; i < n; ++i)
        ASSERT_EQ(static_cast<unsigned char*>(blocks[i])[71], static_cast<unsigned char>(i)) << "block " << i;
    void* last = blocks.back();
    a.deallocate(last, 72);
    EXPECT_EQ(a.allocate(72), last);        // the free list first
    EXPECT_NE(a.allocate(200), nullptr);    // another size: its own list
}

TEST(Arena, LargeBlocksAreMappedAndReturned) {
    Arena a;
    const std::size_t big = 3 * Arena::kChunk + 8;  // a bucket array of a large table
    auto* p = static_cast<unsigned char*>(a.allocate(big));
    p[0] = 1;
    p[big - 1] = 2;
    EXPECT_EQ(p[0] + p[big - 1], 3);
    a.deallocate(p, big);
}

TEST(Arena, BacksAnUnorderedMapThroughManyRehashes) {
    Arena a;
    std::unordered_map<std::uint64_t, std::uint64_t, std::hash<std::uint64_t>, std::equal_to<>,
                       ArenaAllocator<std::pair<const std::uint64_t, std::uint64_t>>>
        m(0, std::hash<std::uint64_t>(), std::equal_to<>(), ArenaAllocator<std::pair<const std::uint64_t, std::uint64_t>>(&a));
    for (std::uint64_t i = 0; i < 200000; ++i) m.emplace(i, i * 3);
    for (std::uint64_t i = 0; i < 200000; i += 2) m.erase(i);
    for (std::uint64_t i = 0; i < 200000; ++i) {
        auto it = m.find(i);
        if (i % 2) {
            ASSERT_NE(it, m.end());
            ASSERT_EQ(it->second, i * 3);
        } else {
            ASSERT_EQ(it, m.end());
        }
    }
}

}  // namespace
}  // namespace p9auth
