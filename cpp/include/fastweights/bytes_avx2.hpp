// Single-byte labels with AVX2, run-aware: the variant picked at run time on CPUs that have it.
// Compiled with a target attribute, so the extension itself stays baseline x86-64. No Python here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FASTWEIGHTS_X86_DISPATCH 1
#include <immintrin.h>

namespace fastweights::detail {

inline bool cpu_has_avx2() noexcept {
    static const bool has = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
    }();
    return has;
}

inline bool cpu_has_avx512bw() noexcept {
    static const bool has = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512bw") != 0;
    }();
    return has;
}

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

// Blocks of 64 labels: one of a single label (most of a mask) is one add; one with a few label
// changes (found by comparing the block with itself shifted by one label) is counted run by run;
// any other block label by label over the four replicas. Runs go to replica 0, which therefore
// counts at most one per label, like the others: none overflows within a flush block.
template <class T>
__attribute__((target("avx2,popcnt"))) void count_runs_avx2(const T* data, std::size_t n,
                                                            std::uint32_t* tables) noexcept {
    static_assert(sizeof(T) == 1);
    constexpr unsigned flip = std::is_signed_v<T> ? 0x80u : 0u;
    constexpr int few_changes = 8;
    std::uint32_t* t0 = tables;
    std::uint32_t* t1 = tables + 256;
    std::uint32_t* t2 = tables + 512;
    std::uint32_t* t3 = tables + 768;
    const auto* bytes = reinterpret_cast<const unsigned char*>(data);
    if (n == 0) return;
    ++t0[bytes[0] ^ flip];  // so that every block below has a label before it
    // Whole blocks of one label extend a run kept in a register, not a counter in memory: adding to
    // the same counter block after block would wait on its own previous store each time.
    unsigned run_label = bytes[0];
    std::uint32_t run = 0;
    std::size_t i = 1;
    for (; i + 64 <= n; i += 64) {
        const unsigned char* block = bytes + i;
        const __m256i low = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block));
        const __m256i high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 32));
        const __m256i first = _mm256_set1_epi8(static_cast<char>(block[0]));
        const auto same_low = static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(low, first)));
        const auto same_high = static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(high, first)));
        if ((same_low & same_high) == 0xffffffffu) {
            if (block[0] != run_label) {
                t0[run_label ^ flip] += run;
                run_label = block[0];
                run = 0;
            }
            run += 64;
            continue;
        }
        const __m256i before_low = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block - 1));
        const __m256i before_high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 31));
        const std::uint64_t unchanged =
            static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(low, before_low))) |
            std::uint64_t{static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(high, before_high)))}
                << 32;
        std::uint64_t changes = ~unchanged & ~std::uint64_t{1};  // where a new run starts, after the first
        if (__builtin_popcountll(changes) <= few_changes) {
            std::size_t start = 0;
            while (changes) {
                const auto next = static_cast<std::size_t>(__builtin_ctzll(changes));
                t0[block[start] ^ flip] += static_cast<std::uint32_t>(next - start);
                start = next;
                changes &= changes - 1;
            }
            t0[block[start] ^ flip] += static_cast<std::uint32_t>(64 - start);
            continue;
        }
        for (std::size_t k = 0; k < 64; k += 4) {
            ++t0[block[k] ^ flip];
            ++t1[block[k + 1] ^ flip];
            ++t2[block[k + 2] ^ flip];
            ++t3[block[k + 3] ^ flip];
        }
    }
    t0[run_label ^ flip] += run;
    for (; i < n; ++i) ++t0[bytes[i] ^ flip];
}

template <class T>
void count_bytes_avx2(const T* data, std::size_t n, std::uint32_t* tables) noexcept {
    const std::size_t done = count_binary_prefix_avx2(data, n, tables);
    count_runs_avx2(data + done, n - done, tables);
}

}  // namespace fastweights::detail

#endif
