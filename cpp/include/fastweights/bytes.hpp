// Single-byte labels over all 256 values, in the four replicated tables of the run kernel: {0,1}
// masks summed while they last, then run by run, with the variant in use (bytes_avx2.hpp,
// bytes_neon.hpp, the portable one here). What the dense histogram counts uint8 and int8 arrays
// with, and the PNG reader its rows of 8-bit and packed samples. No Python here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "bytes_avx2.hpp"
#include "bytes_neon.hpp"
#include "dispatch.hpp"
#include "runs.hpp"

namespace fastweights::detail {

// {0,1} masks, portable: see count_binary_prefix_avx2. A word of bytes that are each 0 or 1 holds
// as many ones as the top byte of its product with 0x0101...01.
template <class T>
std::size_t count_binary_prefix_portable(const T* data, std::size_t n, std::uint32_t* t0) noexcept {
    constexpr unsigned flip = std::is_signed_v<T> ? 0x80u : 0u;
    constexpr std::uint64_t ones_mask = 0x0101010101010101ull;
    constexpr std::size_t block = 4096;
    const auto* bytes = reinterpret_cast<const unsigned char*>(data);
    std::size_t i = 0;
    for (; i + block <= n; i += block) {
        std::uint64_t high_bits = 0;
        std::uint64_t ones = 0;
        for (std::size_t k = 0; k < block; k += 8) {
            std::uint64_t w;
            std::memcpy(&w, bytes + i + k, 8);
            high_bits |= w & ~ones_mask;
            ones += (w * ones_mask) >> 56;
        }
        if (high_bits != 0) break;
        t0[1u ^ flip] += static_cast<std::uint32_t>(ones);
        t0[0u ^ flip] += static_cast<std::uint32_t>(block - ones);
    }
    return i;
}

template <class T>
void count_bytes_portable(const T* data, std::size_t n, std::uint32_t* tables) noexcept {
    const std::size_t done = count_binary_prefix_portable(data, n, tables);
    ByteTables<T> byte_tables{tables};
    count_runs<T, PortableBlocks<T>>(data + done, n - done, byte_tables);
}

// Adds the counts of data[0, n) to tables[256 * r + (label - min)], r the replica (0 to 3), each
// modulo 2^32 (so the four replicas of a label are summed modulo 2^32 before widening).
template <class T>
void count_bytes(const T* data, std::size_t n, std::uint32_t* tables) noexcept {
#ifdef FASTWEIGHTS_X86_DISPATCH
    if (kernel_variant() == KernelVariant::avx2) {
        count_bytes_avx2(data, n, tables);
        return;
    }
#endif
#ifdef FASTWEIGHTS_NEON
    if (kernel_variant() == KernelVariant::neon) {
        count_bytes_neon(data, n, tables);
        return;
    }
#endif
    count_bytes_portable(data, n, tables);
}

}  // namespace fastweights::detail
