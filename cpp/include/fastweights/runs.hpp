// Labels counted run by run, for every label width and every instruction set: the algorithm, with
// the comparison of a block with itself shifted by one label left to a `Blocks` policy (AVX2 in
// runs_avx2.hpp, NEON in runs_neon.hpp, the portable variant's here). No Python here.
//
// Runs are counted late. The scan compares each block of labels with itself shifted by one label,
// and records where runs start (the labels that differ from the one before), a batch at a time;
// `count_run_starts` then adds each run's length to its label's counter. The scan branches on a
// block's run count only at thresholds most blocks of a mask fall below: the per-block loop over
// runs that this replaced mispredicted its exit on most blocks of a mask, and that cost more than
// everything else.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "platform.hpp"

namespace fastweights::detail {

// A `Blocks` policy: `labels` per block; `starts(block)` has a bit for each label of the block that
// differs from the one before it (block[-1] is always readable), label k being bit k << label_shift;
// `lowest(bits)` is the index of the lowest set bit (any value for 0); `count(bits)` the number set;
// `prefetch(p)` a hint that p is read soon. A prefetch is always inlined: GCC takes a function that
// does nothing else for one without effects, and deletes its calls before it would inline them.

// Bit operations in plain C++, for the baseline of every CPU.
struct PortableBits {
    FASTWEIGHTS_ALWAYS_INLINE static unsigned lowest(std::uint64_t bits) noexcept {
#if defined(__GNUC__) || defined(__clang__)
        return static_cast<unsigned>(__builtin_ctzll(bits | (std::uint64_t{1} << 63)));  // defined for 0
#else
        // De Bruijn: the lowest bit times this sequence has distinct top six bits for each index.
        static constexpr unsigned char index[64] = {
            0,  1,  48, 2,  57, 49, 28, 3,  61, 58, 50, 42, 38, 29, 17, 4,  62, 55, 59, 36, 53, 51,
            43, 22, 45, 39, 33, 30, 24, 18, 12, 5,  63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21,
            44, 32, 23, 11, 46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9,  13, 8,  7,  6};
        return index[((bits & (~bits + 1)) * 0x03f79d71b4cb0a89ull) >> 58];
#endif
    }

    FASTWEIGHTS_ALWAYS_INLINE static int count(std::uint64_t bits) noexcept {
        // Not __builtin_popcountll: without the POPCNT instruction (baseline x86-64) it is a call.
        bits -= (bits >> 1) & 0x5555555555555555ull;
        bits = (bits & 0x3333333333333333ull) + ((bits >> 2) & 0x3333333333333333ull);
        bits = (bits + (bits >> 4)) & 0x0f0f0f0f0f0f0f0full;
        return static_cast<int>((bits * 0x0101010101010101ull) >> 56);
    }

    FASTWEIGHTS_ALWAYS_INLINE static void prefetch(const void* p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
        __builtin_prefetch(p);
#else
        (void)p;
#endif
    }
};

// A bit for each of the 64 bytes at `bytes` that differs from the byte `distance` before it. With
// SSE2, which every x86-64 CPU has (MSVC's builds too); otherwise eight bytes at a time in a 64-bit
// word: a byte of word ^ word-before is non-zero where the bytes differ, and a multiply gathers the
// top bits of the bytes into one byte.
inline std::uint64_t differing_bytes(const unsigned char* bytes, std::size_t distance) noexcept {
    std::uint64_t bits = 0;
#if defined(FASTWEIGHTS_SSE2)
    for (unsigned v = 0; v < 4; ++v) {
        const __m128i now = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes + 16 * v));
        const __m128i before = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes + 16 * v - distance));
        bits |= std::uint64_t{static_cast<std::uint16_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(now, before)))} << (16 * v);
    }
    return ~bits;
#else
    constexpr std::uint64_t low7 = 0x7f7f7f7f7f7f7f7full;
    for (unsigned w = 0; w < 8; ++w) {
        std::uint64_t now, before;
        std::memcpy(&now, bytes + 8 * w, 8);
        std::memcpy(&before, bytes + 8 * w - distance, 8);
        std::uint64_t differ = now ^ before;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        differ = __builtin_bswap64(differ);  // byte k of memory as byte k of the word
#endif
        const std::uint64_t nonzero = (((differ & low7) + low7) | differ) & ~low7;
        bits |= ((nonzero >> 7) * 0x0102040810204080ull) >> 56 << (8 * w);
    }
    return bits;
#endif
}

// Blocks masked with a bit per byte, whatever the label width: a label's lowest byte's bit stands
// for it. `byte_mask_shift<T>` takes a label's bit to its index; `label_bits<T>` are those bits.
template <class T>
inline constexpr unsigned byte_mask_shift = sizeof(T) == 1 ? 0 : sizeof(T) == 2 ? 1 : sizeof(T) == 4 ? 2 : 3;
template <class T>
inline constexpr std::uint64_t label_bits = sizeof(T) == 1   ? ~std::uint64_t{0}
                                            : sizeof(T) == 2 ? 0x5555555555555555ull
                                            : sizeof(T) == 4 ? 0x1111111111111111ull
                                                             : 0x0101010101010101ull;

// Blocks of 64 bytes compared byte by byte: a label starts a run where any of its bytes differs from
// the label before.
template <class T>
struct ByteMaskBlocks {
    static constexpr std::size_t labels = 64 / sizeof(T);
    static constexpr unsigned label_shift = byte_mask_shift<T>;

    // From a bit per byte that differs from the byte sizeof(T) before it, to a bit per label.
    FASTWEIGHTS_ALWAYS_INLINE static std::uint64_t starts_of(std::uint64_t bytes) noexcept {
        for (unsigned half = sizeof(T) / 2; half > 0; half /= 2) bytes |= bytes >> half;
        return bytes & label_bits<T>;
    }
};

// The blocks of the portable variant.
template <class T>
struct PortableBlocks : ByteMaskBlocks<T>, PortableBits {
    FASTWEIGHTS_ALWAYS_INLINE static std::uint64_t starts(const T* block) noexcept {
        return ByteMaskBlocks<T>::starts_of(differing_bytes(reinterpret_cast<const unsigned char*>(block), sizeof(T)));
    }
};

// The byte kernel's four replicated tables of 256 counters: every label has one.
template <class T>
struct ByteTables {
    static_assert(sizeof(T) == 1);
    std::uint32_t* tables;

    static unsigned index(T label) noexcept {
        return static_cast<unsigned char>(label) ^ (std::is_signed_v<T> ? 0x80u : 0u);  // value - min
    }

    void add(std::size_t replica, T label, std::uint64_t count) noexcept {
        tables[256 * replica + index(label)] += static_cast<std::uint32_t>(count);
    }

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

inline constexpr std::size_t run_batch = 256;

// The block's next run start (its labels from `base`), cleared from `changes`.
template <class Blocks>
FASTWEIGHTS_ALWAYS_INLINE std::uint32_t take_run_start(std::uint32_t base, std::uint64_t& changes) noexcept {
    const auto start = base + static_cast<std::uint32_t>(Blocks::lowest(changes) >> Blocks::label_shift);
    changes &= changes - 1;
    return start;
}

// Writes the next `count` run starts of a block to out[0, count), and clears them from `changes`. The empty asm statement keeps the compiler from assembling the stores into one
// vector through the stack, which made the AVX2 scan a third slower.
template <class Blocks, int count>
FASTWEIGHTS_ALWAYS_INLINE void write_run_starts(std::uint32_t* out, std::uint32_t base, std::uint64_t& changes) noexcept {
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC unroll 8
#endif
    for (int k = 0; k < count; ++k) {
        out[k] = take_run_start<Blocks>(base, changes);
#if defined(__GNUC__) || defined(__clang__)
        __asm__("" : "+r"(out));
#endif
    }
}

// Adds the length of each run recorded in [starts, end) to its label, the j-th run of a batch to
// replica j % 4, so that two labels alternating do not wait on one counter. Returns where the last
// run starts (its length is not known yet).
template <class T, class Tables>
FASTWEIGHTS_ALWAYS_INLINE std::uint32_t count_run_starts(const T* data, const std::uint32_t* starts,
                                                         const std::uint32_t* end, std::uint32_t run_start,
                                                         Tables& tables) noexcept {
    const std::uint32_t* p = starts;
    for (; p + 4 <= end; p += 4) {
        const std::uint32_t p0 = p[0], p1 = p[1], p2 = p[2], p3 = p[3];
        tables.add(0, data[run_start], p0 - run_start);
        tables.add(1, data[p0], p1 - p0);
        tables.add(2, data[p1], p2 - p1);
        tables.add(3, data[p2], p3 - p2);
        run_start = p3;
    }
    for (; p < end; ++p) {
        tables.add(0, data[run_start], *p - run_start);
        run_start = *p;
    }
    return run_start;
}

// `Tables` counts: add(replica, label, count) adds to one of four replicated tables, modulo 2^32
// (they are summed so when flushed, so that adding a negated count takes it back); add_each(labels,
// len) counts len labels (a multiple of four) one by one.
//
// A block's first three run starts are written whether or not it has that many (see the scan). A
// block with more than 3/8 of its labels starting a run begins a span of four blocks counted label
// by label: for random labels, recording every label costs more than counting it. Prefetching 4 KiB
// ahead keeps memory reads in flight while the scan is busy: without it the AVX2 byte kernel ran from
// memory at 60-85 % of its in-cache speed, with it about as fast.
// Every cache line is prefetched: prefetching every other one (int32 blocks span two) made the
// AVX2 int32 kernel 1.5x slower than none at all.
//
// Always inlined into a function per instruction set (count_runs_avx2 is compiled for AVX2), so
// that the policy's instructions are those of the caller.
template <class T, class Blocks, class Tables>
FASTWEIGHTS_ALWAYS_INLINE void count_runs(const T* data, std::size_t n, Tables& tables) noexcept {
    constexpr std::size_t per_block = Blocks::labels;
    constexpr auto dense_starts = static_cast<int>(per_block * 3 / 8);
    constexpr std::size_t dense_span = 4 * per_block;
    constexpr std::size_t prefetch_bytes = 4096;
    if (n == 0) return;
    // Positions fit in uint32: a call counts at most a flush block (2^31 labels).
    std::uint32_t starts[run_batch + 64];
    std::uint32_t* out = starts;
    std::uint32_t run_start = 0;
    std::size_t i = 1;
    for (; i + per_block <= n; i += per_block) {
        const T* block = data + i;
        for (std::size_t line = 0; line < sizeof(T) * per_block; line += 64) {
            Blocks::prefetch(reinterpret_cast<const char*>(block) + prefetch_bytes + line);
        }
        std::uint64_t changes = Blocks::starts(block);
        const int count = Blocks::count(changes);
        const auto base = static_cast<std::uint32_t>(i);
        if (FASTWEIGHTS_UNLIKELY(count > dense_starts)) {
            // Runs are recorded at both ends of the span, so the span also counts as the first
            // label's run: its length is taken back.
            const std::size_t len = std::min(dense_span, (n - i) / per_block * per_block);
            tables.add(0, block[0], std::uint64_t{0} - len);
            tables.add_each(block, len);
            *out++ = base;
            if (i + len < n) *out++ = static_cast<std::uint32_t>(i + len);
            i += len - per_block;
        } else {
            // Three run starts are written unconditionally (a block of one label writes three that
            // are not kept), three more if there are more than three, and a loop runs only past
            // six. Two thirds of the blocks of the benchmark masks hold at most two run starts.
            // Measured with AVX2 in a C++ harness against four unconditional writes and a loop past
            // four: the masks within noise of it (0.97-1.3x, most runs 1.0-1.05x), CamVid's labels
            // 1.04-1.09x faster; eight unconditional writes took 1.3-1.6x longer. One write, then a
            // branch before each next one, was 1.1-1.3x faster on data in cache, and 1.05-1.45x
            // slower counting from memory (the benchmarks' case), likely because a branch on the
            // count waits for the block's load, and a mispredicted one discards the loads past it.
            write_run_starts<Blocks, 3>(out, base, changes);
            if (count > 3) {
                write_run_starts<Blocks, 3>(out + 3, base, changes);
                if (count > 6) {
                    std::uint32_t* o = out + 6;
                    do {
                        *o++ = take_run_start<Blocks>(base, changes);
                    } while (changes);
                }
            }
            out += count;
        }
        if (FASTWEIGHTS_UNLIKELY(out >= starts + run_batch)) {
            run_start = count_run_starts(data, starts, out, run_start, tables);
            out = starts;
        }
    }
    for (; i < n; ++i) {
        if (data[i] != data[i - 1]) *out++ = static_cast<std::uint32_t>(i);
        if (out >= starts + run_batch) {
            run_start = count_run_starts(data, starts, out, run_start, tables);
            out = starts;
        }
    }
    run_start = count_run_starts(data, starts, out, run_start, tables);
    tables.add(0, data[run_start], static_cast<std::uint32_t>(n - run_start));
}

}  // namespace fastweights::detail
