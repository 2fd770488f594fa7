// Single-byte labels with NEON (every aarch64 CPU has it): the same two steps as the AVX2 variant
// (bytes_avx2.hpp), {0,1} bytes summed while they last, then run-aware counting. No Python here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

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

// Four bits per byte lane of a comparison (NEON has no movemask): lane k is bits 4k..4k+3.
inline std::uint64_t nibble_mask(uint8x16_t lanes) noexcept {
    return vget_lane_u64(vreinterpret_u64_u8(vshrn_n_u16(vreinterpretq_u16_u8(lanes), 4)), 0);
}

// Run-aware: the current run's label and start are kept in registers; a 64-byte block without a
// label change (found by comparing it with itself shifted by one byte) costs nothing else; a block
// with a few changes closes one run per change; a block with many goes label by label over the
// four replicas.
template <class T>
void count_runs_neon(const T* data, std::size_t n, std::uint32_t* tables) noexcept {
    static_assert(sizeof(T) == 1);
    constexpr unsigned flip = std::is_signed_v<T> ? 0x80u : 0u;
    constexpr int many_changes = 16;
    std::uint32_t* t0 = tables;
    std::uint32_t* t1 = tables + 256;
    std::uint32_t* t2 = tables + 512;
    std::uint32_t* t3 = tables + 768;
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(data);
    if (n == 0) return;
    unsigned run_label = bytes[0];
    std::size_t run_start = 0;
    const auto change_at = [&](std::size_t at) {
        t0[run_label ^ flip] += static_cast<std::uint32_t>(at - run_start);
        run_label = bytes[at];
        run_start = at;
    };
    std::size_t i = 1;
    for (; i < n && i < 64; ++i) {  // the first block has no byte before it
        if (bytes[i] != run_label) change_at(i);
    }
    for (; i + 64 <= n; i += 64) {
        const std::uint8_t* block = bytes + i;
        std::uint64_t changed[4];
        std::uint64_t any = 0;
        for (int k = 0; k < 4; ++k) {
            const uint8x16_t same = vceqq_u8(vld1q_u8(block + 16 * k), vld1q_u8(block + 16 * k - 1));
            changed[k] = ~nibble_mask(same);
            any |= changed[k];
        }
        if (any == 0) continue;
        const int changes = (__builtin_popcountll(changed[0]) + __builtin_popcountll(changed[1]) +
                             __builtin_popcountll(changed[2]) + __builtin_popcountll(changed[3])) /
                            4;
        if (changes > many_changes) {
            change_at(i);
            for (std::size_t k = 0; k < 60; k += 4) {
                ++t0[block[k] ^ flip];
                ++t1[block[k + 1] ^ flip];
                ++t2[block[k + 2] ^ flip];
                ++t3[block[k + 3] ^ flip];
            }
            ++t0[block[60] ^ flip];
            ++t1[block[61] ^ flip];
            ++t2[block[62] ^ flip];
            // The run goes on from the block's last byte, so that nothing is counted twice.
            run_label = block[63];
            run_start = i + 63;
            continue;
        }
        for (int k = 0; k < 4; ++k) {
            std::uint64_t bits = changed[k];
            while (bits) {
                const auto lane = static_cast<std::size_t>(__builtin_ctzll(bits)) / 4;
                change_at(i + 16 * static_cast<std::size_t>(k) + lane);
                bits &= ~(std::uint64_t{0xf} << (4 * lane));
            }
        }
    }
    for (; i < n; ++i) {
        if (bytes[i] != run_label) change_at(i);
    }
    t0[run_label ^ flip] += static_cast<std::uint32_t>(n - run_start);
}

template <class T>
void count_bytes_neon(const T* data, std::size_t n, std::uint32_t* tables) noexcept {
    const std::size_t done = count_binary_prefix_neon(data, n, tables);
    count_runs_neon(data + done, n - done, tables);
}

}  // namespace fastweights::detail

#endif
