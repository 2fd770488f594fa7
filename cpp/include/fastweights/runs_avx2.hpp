// Labels counted run by run with AVX2, for every label width: the variant picked at run time on
// CPUs that have it. Compiled with target attributes, so the extension itself stays baseline x86-64.
// No Python here.
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
#include <type_traits>

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

// How a block is loaded and compared. `starts(block)` has a bit for each label of the block that
// differs from the one before it (block[-1] is always readable); label k of the block is bit
// k << label_shift.

// Labels of 1, 2 or 8 bytes: blocks of two vectors (64 bytes), one mask bit per byte, the lowest
// byte of each label standing for it.
template <class T>
struct TwoVectorBlocks {
    static_assert(sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 8);
    static constexpr std::size_t labels = 64 / sizeof(T);
    static constexpr unsigned label_shift = sizeof(T) == 1 ? 0 : sizeof(T) == 2 ? 1 : 3;

    __attribute__((target("avx2"))) static std::uint64_t starts(const T* block) noexcept {
        constexpr std::size_t per_vector = labels / 2;
        constexpr std::uint64_t first_bytes = sizeof(T) == 1   ? ~std::uint64_t{0}
                                              : sizeof(T) == 2 ? 0x5555555555555555ull
                                                               : 0x0101010101010101ull;
        const std::uint64_t unchanged =
            equal_lanes_avx2<sizeof(T)>(load_avx2(block), load_avx2(block - 1)) |
            std::uint64_t{equal_lanes_avx2<sizeof(T)>(load_avx2(block + per_vector), load_avx2(block + per_vector - 1))}
                << 32;
        return ~unchanged & first_bytes;
    }
};

// Labels of 4 bytes: blocks of four vectors (128 bytes, 32 labels), one mask bit per label. The
// block's fixed costs are paid over twice as many labels as with two vectors: 15-21 % faster on
// blocky int32 masks here. (On int64 the same, 16 labels a block, was 1.6x slower.)
template <class T>
struct FourVectorBlocks {
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

inline constexpr std::size_t run_batch = 256;

// Writes the next `count` run starts of a block (labels from `base`) to out[0, count), and clears
// them from `changes`. The empty asm statement keeps the compiler from assembling the stores into one
// vector through the stack, which made the scan a third slower.
template <class Blocks, int count>
__attribute__((target("bmi"))) inline void write_run_starts(std::uint32_t* out, std::uint32_t base,
                                                           std::uint64_t& changes) noexcept {
#pragma GCC unroll 8
    for (int k = 0; k < count; ++k) {
        out[k] = base + static_cast<std::uint32_t>(_tzcnt_u64(changes) >> Blocks::label_shift);
        changes = _blsr_u64(changes);
        __asm__("" : "+r"(out));
    }
}

// Adds the length of each run recorded in [starts, end) to its label, the j-th run of a batch to
// replica j % 4, so that two labels alternating do not wait on one counter. Returns where the last
// run starts (its length is not known yet).
template <class T, class Tables>
inline std::uint32_t count_run_starts(const T* data, const std::uint32_t* starts, const std::uint32_t* end,
                                      std::uint32_t run_start, Tables& tables) noexcept {
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
// ahead keeps memory reads in flight while the scan is busy: without it the byte kernel ran from
// memory at 60-85 % of its in-cache speed, with it about as fast.
// Every cache line is prefetched: prefetching every other one (int32 blocks span two) made the
// int32 kernel 1.5x slower than none at all.
template <class T, class Blocks, class Tables>
__attribute__((target("avx2,popcnt,bmi"))) void count_runs_avx2(const T* data, std::size_t n,
                                                                Tables& tables) noexcept {
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
            _mm_prefetch(reinterpret_cast<const char*>(block) + prefetch_bytes + line, _MM_HINT_T0);
        }
        std::uint64_t changes = Blocks::starts(block);
        const auto count = static_cast<int>(_mm_popcnt_u64(changes));
        const auto base = static_cast<std::uint32_t>(i);
        if (__builtin_expect(count > dense_starts, 0)) {
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
            // Measured in a C++ harness against four unconditional writes and a loop past four:
            // the masks within noise of it (0.97-1.3x, most runs 1.0-1.05x), CamVid's labels
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
                        *o++ = base + static_cast<std::uint32_t>(_tzcnt_u64(changes) >> Blocks::label_shift);
                        changes = _blsr_u64(changes);
                    } while (changes);
                }
            }
            out += count;
        }
        if (__builtin_expect(out >= starts + run_batch, 0)) {
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

#endif
