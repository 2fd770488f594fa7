// Single-byte labels with NEON (every aarch64 CPU has it): {0,1} bytes summed while they last,
// then run by run (runs_neon.hpp), as wider labels are. No Python here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "runs_neon.hpp"

#ifdef FASTWEIGHTS_NEON

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

template <class T>
void count_bytes_neon(const T* data, std::size_t n, std::uint32_t* tables) noexcept {
    const std::size_t done = count_binary_prefix_neon(data, n, tables);
    ByteTables<T> byte_tables{tables};
    count_runs<T, NeonBlocks<T>>(data + done, n - done, byte_tables);
}

}  // namespace fastweights::detail

#endif
