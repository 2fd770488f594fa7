// Labels with NEON (every aarch64 CPU has it): single bytes in two steps, {0,1} bytes summed while
// they last, then run by run (runs.hpp), as wider labels are. No Python here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "runs.hpp"

#if defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
#define FASTWEIGHTS_NEON 1
#include <arm_neon.h>

namespace fastweights::detail {

template <class T>
std::size_t count_binary_prefix_neon(const T* data, std::size_t n, std::uint32_t* t0) noexcept {
    constexpr unsigned flip = std::is_signed_v<T> ? 0x80u : 0u;
    constexpr std::size_t block = 4096;
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(data);
    std::size_t i = 0;
    for (; i + block <= n; i += block) {
        uint8x16_t largest = vdupq_n_u8(0);
        uint16x8_t sums = vdupq_n_u16(0);  // at most 4096 / 8 ones per lane: no overflow
        for (std::size_t k = 0; k < block; k += 32) {
            const uint8x16_t a = vld1q_u8(bytes + i + k);
            const uint8x16_t b = vld1q_u8(bytes + i + k + 16);
            largest = vmaxq_u8(largest, vmaxq_u8(a, b));
            sums = vpadalq_u8(vpadalq_u8(sums, a), b);
        }
        if (vmaxvq_u8(largest) > 1) break;
        const std::uint32_t ones = vaddlvq_u16(sums);
        t0[1u ^ flip] += ones;
        t0[0u ^ flip] += static_cast<std::uint32_t>(block) - ones;
    }
    return i;
}

// The blocks of the run kernel (runs.hpp) compared with NEON, for every label width. NEON has no
// movemask: each comparison is masked with its lane's bit within a byte, and pairwise adds gather
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

template <class T>
void count_bytes_neon(const T* data, std::size_t n, std::uint32_t* tables) noexcept {
    const std::size_t done = count_binary_prefix_neon(data, n, tables);
    ByteTables<T> byte_tables{tables};
    count_runs<T, NeonBlocks<T>>(data + done, n - done, byte_tables);
}

}  // namespace fastweights::detail

#endif
