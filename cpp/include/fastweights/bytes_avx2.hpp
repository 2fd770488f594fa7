// Single-byte labels with AVX2: the variant picked at run time on CPUs that have it. {0,1} bytes are
// summed while they last, then masks of at most eight labels are counted by comparison while they
// last, then labels are counted run by run (runs.hpp). Compiled with target attributes, so the
// extension itself stays baseline x86-64. No Python here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "runs_avx2.hpp"

#ifdef FASTWEIGHTS_X86_DISPATCH

namespace fastweights::detail {

// {0,1} masks (and all-zero ones) at memory speed: 4 KiB at a time, the byte sum is the count of
// ones, as long as the block's largest byte is at most 1. Returns how many leading bytes it counted:
// all of them for a binary array, fewer where a larger label first appears (the caller counts the
// rest with the general kernel, so other masks pay for one 4 KiB block).
inline constexpr std::size_t prefix_block = 4096;  // also the few-label path's block

template <class T>
__attribute__((target("avx2"))) std::size_t count_binary_prefix_avx2(const T* data, std::size_t n,
                                                                    std::uint32_t* t0) noexcept {
    constexpr unsigned flip = std::is_signed_v<T> ? 0x80u : 0u;
    const auto* bytes = reinterpret_cast<const unsigned char*>(data);
    const __m256i zero = _mm256_setzero_si256();
    const __m256i one = _mm256_set1_epi8(1);
    std::size_t i = 0;
    for (; i + prefix_block <= n; i += prefix_block) {
        __m256i largest = zero;
        __m256i sums = zero;
        for (std::size_t k = 0; k < prefix_block; k += 64) {
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
        t0[0u ^ flip] += static_cast<std::uint32_t>(prefix_block) - ones;
    }
    return i;
}

// Masks of at most eight labels ({0, 255} masks, {0, 1, 255}, a few organs), however noisy: 4 KiB at
// a time, every vector is compared with every label and the matches summed (a compare and a
// subtract per label per 32 bytes), with no branch on the data. A block whose matches do not add up
// to its length holds another label, which is then looked up (with the same comparisons, not byte
// by byte: a mask's labels appear one after another, and a per-byte scan for each cost more than the
// count of a whole image); once there would be more than eight, the prefix ends. Returns how many
// leading bytes it counted (the caller counts the rest run by run).
inline constexpr int few_labels = 8;

// Where in block[from, prefix_block) the first byte that is none of labels[0, count) is (from a
// multiple of 32); prefix_block if there is none.
__attribute__((target("avx2"))) inline std::size_t first_other_label_avx2(const unsigned char* block, std::size_t from,
                                                                         const unsigned char* labels,
                                                                         int count) noexcept {
    __m256i wanted[few_labels];
    for (int k = 0; k < count; ++k) wanted[k] = _mm256_set1_epi8(static_cast<char>(labels[k]));
    for (std::size_t q = from; q < prefix_block; q += 32) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + q));
        __m256i known = _mm256_setzero_si256();
        for (int k = 0; k < count; ++k) known = _mm256_or_si256(known, _mm256_cmpeq_epi8(v, wanted[k]));
        const auto other = ~static_cast<std::uint32_t>(_mm256_movemask_epi8(known));
        if (other != 0) return q + static_cast<std::size_t>(__builtin_ctz(other));
    }
    return prefix_block;
}

// Whole blocks of bytes[0, n) while every byte is one of labels[0, K): adds to counts[0, K) and
// returns how many bytes it counted. A byte lane counts at most 128 matches a block: no overflow.
template <int K>
__attribute__((target("avx2"))) std::size_t count_known_labels_avx2(const unsigned char* bytes, std::size_t n,
                                                                   const unsigned char* labels,
                                                                   std::uint64_t* counts) noexcept {
    __m256i wanted[K];
    for (int k = 0; k < K; ++k) wanted[k] = _mm256_set1_epi8(static_cast<char>(labels[k]));
    const __m256i zero = _mm256_setzero_si256();
    std::size_t i = 0;
    for (; i + prefix_block <= n; i += prefix_block) {
        __m256i matches[K];
        for (int k = 0; k < K; ++k) matches[k] = zero;
        for (std::size_t q = 0; q < prefix_block; q += 32) {
            const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bytes + i + q));
            for (int k = 0; k < K; ++k) matches[k] = _mm256_sub_epi8(matches[k], _mm256_cmpeq_epi8(v, wanted[k]));
        }
        std::uint64_t found[K];
        std::uint64_t total = 0;
        for (int k = 0; k < K; ++k) {
            alignas(32) std::uint64_t lanes[4];
            _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), _mm256_sad_epu8(matches[k], zero));
            found[k] = lanes[0] + lanes[1] + lanes[2] + lanes[3];
            total += found[k];
        }
        if (total != prefix_block) break;
        for (int k = 0; k < K; ++k) counts[k] += found[k];
    }
    return i;
}

template <int... K>
std::size_t count_known_labels_any(std::integer_sequence<int, K...>, int count, const unsigned char* bytes,
                                   std::size_t n, const unsigned char* labels, std::uint64_t* counts) noexcept {
    std::size_t done = 0;
    ((count == K + 1 ? (done = count_known_labels_avx2<K + 1>(bytes, n, labels, counts), 0) : 0), ...);
    return done;
}

template <class T>
std::size_t count_few_labels_prefix_avx2(const T* data, std::size_t n, std::uint32_t* t0) noexcept {
    constexpr unsigned flip = std::is_signed_v<T> ? 0x80u : 0u;
    const auto* bytes = reinterpret_cast<const unsigned char*>(data);
    unsigned char labels[few_labels];
    std::uint64_t counts[few_labels] = {};
    int count = 0;
    std::size_t i = 0;
    std::size_t known = 0;  // the block at i holds only known labels before this (labels only grow)
    while (i + prefix_block <= n) {
        const std::size_t other = first_other_label_avx2(bytes + i, known, labels, count);
        if (other != prefix_block) {
            if (count == few_labels) break;
            labels[count++] = bytes[i + other];
            known = other / 32 * 32;
            continue;
        }
        known = 0;
        // The block at i holds only known labels, so at least it is counted; were it not, the run
        // kernel would count the rest rather than this loop spin.
        const std::size_t counted = count_known_labels_any(std::make_integer_sequence<int, few_labels>{}, count,
                                                           bytes + i, n - i, labels, counts);
        if (counted == 0) break;
        i += counted;
    }
    for (int k = 0; k < count; ++k) t0[labels[k] ^ flip] += static_cast<std::uint32_t>(counts[k]);
    return i;
}

template <class T>
void count_bytes_avx2(const T* data, std::size_t n, std::uint32_t* tables) noexcept {
    std::size_t done = count_binary_prefix_avx2(data, n, tables);
    done += count_few_labels_prefix_avx2(data + done, n - done, tables);
    ByteTables<T> byte_tables{tables};
    count_runs_avx2<T, TwoVectorBlocks<T>>(data + done, n - done, byte_tables);
}

}  // namespace fastweights::detail

#endif
