// The blocks of the run kernel (runs.hpp) compared with AVX2, for every label width: the variant
// picked at run time on CPUs that have it. Compiled with target attributes, so the extension itself
// stays baseline x86-64. No Python here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runs.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FASTWEIGHTS_X86_DISPATCH 1
#include <immintrin.h>

namespace fastweights::detail {

inline bool cpu_has_avx2() noexcept {
    static const bool has = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt") &&
               __builtin_cpu_supports("bmi");
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

template <class T>
__attribute__((target("avx2"))) inline __m256i load_avx2(const T* p) noexcept {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// Byte mask of the lanes of `size` bytes where a and b are equal.
template <std::size_t size>
__attribute__((target("avx2"))) inline std::uint32_t equal_lanes_avx2(__m256i a, __m256i b) noexcept {
    if constexpr (size == 1) return static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, b)));
    if constexpr (size == 2) return static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi16(a, b)));
    if constexpr (size == 4) return static_cast<std::uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(a, b))));
    if constexpr (size == 8) return static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi64(a, b)));
}

// The bit operations of the run kernel, as single instructions.
struct Avx2Bits {
    __attribute__((target("bmi"))) static unsigned lowest(std::uint64_t bits) noexcept {
        return static_cast<unsigned>(_tzcnt_u64(bits));
    }
    __attribute__((target("popcnt"))) static int count(std::uint64_t bits) noexcept {
        return static_cast<int>(_mm_popcnt_u64(bits));
    }
    FASTWEIGHTS_ALWAYS_INLINE static void prefetch(const void* p) noexcept { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }
};

// How a block is loaded and compared. `starts(block)` has a bit for each label of the block that
// differs from the one before it (block[-1] is always readable); label k of the block is bit
// k << label_shift.

// Labels of 1, 2 or 8 bytes: blocks of two vectors (64 bytes), one mask bit per byte, the lowest
// byte of each label standing for it.
template <class T>
struct TwoVectorBlocks : Avx2Bits {
    static_assert(sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 8);
    static constexpr std::size_t labels = 64 / sizeof(T);
    static constexpr unsigned label_shift = byte_mask_shift<T>;

    __attribute__((target("avx2"))) static std::uint64_t starts(const T* block) noexcept {
        constexpr std::size_t per_vector = labels / 2;
        const std::uint64_t unchanged =
            equal_lanes_avx2<sizeof(T)>(load_avx2(block), load_avx2(block - 1)) |
            std::uint64_t{equal_lanes_avx2<sizeof(T)>(load_avx2(block + per_vector), load_avx2(block + per_vector - 1))}
                << 32;
        return ~unchanged & label_bits<T>;
    }
};

// Labels of 4 bytes: blocks of four vectors (128 bytes, 32 labels), one mask bit per label. The
// block's fixed costs are paid over twice as many labels as with two vectors: 15-21 % faster on
// blocky int32 masks here. (On int64 the same, 16 labels a block, was 1.6x slower.)
template <class T>
struct FourVectorBlocks : Avx2Bits {
    static_assert(sizeof(T) == 4);
    static constexpr std::size_t labels = 32;
    static constexpr unsigned label_shift = 0;

    __attribute__((target("avx2"))) static std::uint64_t starts(const T* block) noexcept {
        std::uint32_t unchanged = 0;
        for (std::size_t v = 0; v < 4; ++v) {
            unchanged |= equal_lanes_avx2<4>(load_avx2(block + 8 * v), load_avx2(block + 8 * v - 1)) << (8 * v);
        }
        return ~unchanged;
    }
};

template <class T, class Blocks, class Tables>
__attribute__((target("avx2,popcnt,bmi"))) void count_runs_avx2(const T* data, std::size_t n,
                                                                Tables& tables) noexcept {
    count_runs<T, Blocks>(data, n, tables);
}

}  // namespace fastweights::detail

#endif
