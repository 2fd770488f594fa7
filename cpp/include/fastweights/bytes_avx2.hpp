// Single-byte labels with AVX2: the variant picked at run time on CPUs that have it. {0,1} bytes are
// summed while they last, then labels are counted run by run (runs_avx2.hpp). Compiled with target
// attributes, so the extension itself stays baseline x86-64. No Python here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "runs_avx2.hpp"

#ifdef FASTWEIGHTS_X86_DISPATCH

namespace fastweights::detail {

// {0,1} masks (and all-zero ones) at memory speed: 4 KiB at a time, the byte sum is the count of
// ones, as long as the block's largest byte is at most 1. Returns how many leading bytes it counted:
// all of them for a binary array, fewer where a larger label first appears (the caller counts the
// rest with the general kernel, so other masks pay for one 4 KiB block).
inline constexpr std::size_t binary_block = 4096;

template <class T>
__attribute__((target("avx2"))) std::size_t count_binary_prefix_avx2(const T* data, std::size_t n,
                                                                    std::uint32_t* t0) noexcept {
    constexpr unsigned flip = std::is_signed_v<T> ? 0x80u : 0u;
    const auto* bytes = reinterpret_cast<const unsigned char*>(data);
    const __m256i zero = _mm256_setzero_si256();
    const __m256i one = _mm256_set1_epi8(1);
    std::size_t i = 0;
    for (; i + binary_block <= n; i += binary_block) {
        __m256i largest = zero;
        __m256i sums = zero;
        for (std::size_t k = 0; k < binary_block; k += 64) {
            const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bytes + i + k));
            const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bytes + i + k + 32));
            largest = _mm256_max_epu8(largest, _mm256_max_epu8(a, b));
            sums = _mm256_add_epi64(sums, _mm256_add_epi64(_mm256_sad_epu8(a, zero), _mm256_sad_epu8(b, zero)));
        }
        if (_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_min_epu8(largest, one), largest)) != -1) break;
        alignas(32) std::uint64_t lanes[4];
        _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), sums);
        const auto ones = static_cast<std::uint32_t>(lanes[0] + lanes[1] + lanes[2] + lanes[3]);
        t0[1u ^ flip] += ones;
        t0[0u ^ flip] += static_cast<std::uint32_t>(binary_block) - ones;
    }
    return i;
}

// The byte kernel's four replicated tables of 256 counters: every label has one.
template <class T>
struct ByteTables {
    static_assert(sizeof(T) == 1);
    std::uint32_t* tables;

    static unsigned index(T label) noexcept {
        return static_cast<unsigned char>(label) ^ (std::is_signed_v<T> ? 0x80u : 0u);  // value - min
    }

    void add(std::size_t replica, T label, std::uint32_t count) noexcept { tables[256 * replica + index(label)] += count; }

    void take_back(T label, std::uint32_t count) noexcept { tables[index(label)] -= count; }

    void add_each(const T* labels, std::size_t len) noexcept {
        for (std::size_t q = 0; q < len; q += 16) {
            std::uint64_t words[2];
            std::memcpy(words, labels + q, 16);
            for (int shift = 0; shift < 64; shift += 32) {
                for (const std::uint64_t w : words) {
                    for (std::size_t r = 0; r < 4; ++r) add(r, static_cast<T>((w >> (shift + 8 * r)) & 0xff), 1);
                }
            }
        }
    }
};

template <class T>
void count_bytes_avx2(const T* data, std::size_t n, std::uint32_t* tables) noexcept {
    const std::size_t done = count_binary_prefix_avx2(data, n, tables);
    ByteTables<T> byte_tables{tables};
    count_runs_avx2<T, TwoVectorBlocks<T>>(data + done, n - done, byte_tables);
}

}  // namespace fastweights::detail

#endif
