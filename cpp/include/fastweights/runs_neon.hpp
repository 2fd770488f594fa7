// The blocks of the run kernel (runs.hpp) compared with NEON, for every label width: the variant of
// aarch64 (every aarch64 CPU has NEON). No Python here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runs.hpp"

#if defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
#define FASTWEIGHTS_NEON 1
#include <arm_neon.h>

namespace fastweights::detail {

// NEON has no movemask: each comparison is masked with its lane's bit within a byte, and pairwise adds gather
// the 64 lanes' bits into one word, bit k for byte k.
template <class T>
struct NeonBlocks : ByteMaskBlocks<T> {
    FASTWEIGHTS_ALWAYS_INLINE static std::uint64_t starts(const T* block) noexcept {
        static constexpr std::uint8_t lane_bits[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
        const uint8x16_t lane_bit = vld1q_u8(lane_bits);
        const auto* bytes = reinterpret_cast<const std::uint8_t*>(block);
        uint8x16_t equal[4];
        for (unsigned v = 0; v < 4; ++v) {
            equal[v] = vandq_u8(vceqq_u8(vld1q_u8(bytes + 16 * v), vld1q_u8(bytes + 16 * v - sizeof(T))), lane_bit);
        }
        uint8x16_t sums = vpaddq_u8(vpaddq_u8(equal[0], equal[1]), vpaddq_u8(equal[2], equal[3]));
        sums = vpaddq_u8(sums, sums);
        return ByteMaskBlocks<T>::starts_of(~vgetq_lane_u64(vreinterpretq_u64_u8(sums), 0));
    }

    FASTWEIGHTS_ALWAYS_INLINE static unsigned lowest(std::uint64_t bits) noexcept {
        return static_cast<unsigned>(__builtin_ctzll(bits | (std::uint64_t{1} << 63)));  // defined for 0
    }
    FASTWEIGHTS_ALWAYS_INLINE static int count(std::uint64_t bits) noexcept { return __builtin_popcountll(bits); }
    FASTWEIGHTS_ALWAYS_INLINE static void prefetch(const void* p) noexcept { __builtin_prefetch(p); }
};

}  // namespace fastweights::detail

#endif
