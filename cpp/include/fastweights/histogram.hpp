// Per-label counts of a contiguous array of integer labels. No Python in here.
//
// Dense path: a table over the label range [lo, lo + size). Up to 65,536 entries it keeps four
// replicated uint32 sub-histograms per thread, so that runs of one label (what masks are made of)
// do not serialise on a single counter, and flushes them to uint64 before they can overflow.
// Larger ranges use one uint64 table per thread. Labels outside the range are counted as
// below / above, never written out of bounds and never thrown.
//
// Sparse path: a hash map per thread for label spaces too wide for a table.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <new>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bytes.hpp"
#include "dispatch.hpp"
#include "parallel.hpp"
#include "runs.hpp"

namespace fastweights {

struct OutOfRange {
    std::uint64_t below = 0;
    std::uint64_t above = 0;
};

constexpr std::size_t replicated_table_limit = std::size_t{1} << 16;
constexpr int replicas = 4;
// The replicas of a table count at most this many labels between flushes, so their sum fits uint32.
constexpr std::size_t flush_block = std::size_t{1} << 31;

template <class T>
std::pair<T, T> min_max(const T* data, std::size_t n, int threads) {
    static_assert(std::is_integral_v<T>);
    const int nt = threads_for(n, threads);
    std::vector<T> mins(static_cast<std::size_t>(nt), std::numeric_limits<T>::max());
    std::vector<T> maxs(static_cast<std::size_t>(nt), std::numeric_limits<T>::lowest());
    for_each_slice(n, nt, [&](int t, std::size_t begin, std::size_t end) {
        T lo = std::numeric_limits<T>::max(), hi = std::numeric_limits<T>::lowest();
        for (std::size_t i = begin; i < end; ++i) {
            lo = std::min(lo, data[i]);
            hi = std::max(hi, data[i]);
        }
        mins[static_cast<std::size_t>(t)] = lo;
        maxs[static_cast<std::size_t>(t)] = hi;
    });
    return {*std::min_element(mins.begin(), mins.end()), *std::max_element(maxs.begin(), maxs.end())};
}

namespace detail {

template <class T>
constexpr bool covers_every_value(std::int64_t lo, std::size_t size) {
    if constexpr (sizeof(T) <= 2) {
        return lo == static_cast<std::int64_t>(std::numeric_limits<T>::min()) &&
               size == (std::size_t{1} << (8 * sizeof(T)));
    } else {
        (void)lo;
        (void)size;
        return false;
    }
}

// Offset of v in a table starting at lo, in unsigned arithmetic so that no label overflows.
template <class T>
inline std::uint64_t offset_of(T v, std::int64_t lo) noexcept {
    return static_cast<std::uint64_t>(static_cast<std::int64_t>(v)) - static_cast<std::uint64_t>(lo);
}

// `count` labels v outside the table: below or above it. (Counts are modulo 2^64: the run kernel
// takes a run back by adding its negation.)
template <class T>
inline void tally_outside(T v, std::int64_t lo, OutOfRange& outside, std::uint64_t count = 1) noexcept {
    if (static_cast<std::int64_t>(v) < lo) {
        outside.below += count;
    } else {
        outside.above += count;
    }
}

// Tables over [lo, lo + size) for the run kernel (runs.hpp): a run outside the range costs one
// check, and counts as below / above.
template <class T>
struct RangeTables {
    std::uint32_t* tables;  // four replicas of `size` counters
    std::int64_t lo;
    std::size_t size;
    OutOfRange& outside;

    void add(std::size_t replica, T label, std::uint64_t count) noexcept {
        const std::uint64_t k = offset_of(label, lo);
        if (k < size) {
            tables[replica * size + k] += static_cast<std::uint32_t>(count);
        } else {
            tally_outside(label, lo, outside, count);
        }
    }

    void add_each(const T* labels, std::size_t len) noexcept {
        for (std::size_t q = 0; q < len; q += std::size_t{replicas}) {
            for (std::size_t r = 0; r < std::size_t{replicas}; ++r) add(r, labels[q + r], 1);
        }
    }
};

template <class T>
void count_replicated(const T* data, std::size_t n, std::int64_t lo, std::size_t size,
                      std::uint32_t* tables, OutOfRange& outside) noexcept {
    if constexpr (sizeof(T) == 1) {
        if (covers_every_value<T>(lo, size)) {
            count_bytes(data, n, tables);
            return;
        }
    }
    RangeTables<T> range_tables{tables, lo, size, outside};
    count_runs_dispatched(data, n, range_tables);
}

template <class T>
void count_slice(const T* data, std::size_t n, std::int64_t lo, std::size_t size,
                 std::uint32_t* scratch, std::uint64_t* table, OutOfRange& outside) noexcept {
    if (size > replicated_table_limit) {
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint64_t k = offset_of(data[i], lo);
            if (k < size) {
                ++table[k];
            } else {
                tally_outside(data[i], lo, outside);
            }
        }
        return;
    }
    for (std::size_t begin = 0; begin < n; begin += flush_block) {
        const std::size_t m = std::min(flush_block, n - begin);
        std::fill(scratch, scratch + replicas * size, 0u);
        count_replicated(data + begin, m, lo, size, scratch, outside);
        // Summed modulo 2^32 before widening: a replica may hold a count that went "below zero"
        // (the run kernel takes back a run's length from one replica while another holds
        // it), and the sum, at most a flush block, is exact.
        for (std::size_t k = 0; k < size; ++k) {
            const std::uint32_t sum = scratch[k] + scratch[size + k] + scratch[2 * size + k] + scratch[3 * size + k];
            table[k] += sum;
        }
    }
}

}  // namespace detail

// Adds the counts of data[0..n) over labels [lo, lo + size) to out[0..size).
template <class T>
OutOfRange count_dense(const T* data, std::size_t n, std::int64_t lo, std::size_t size,
                       std::uint64_t* out, int threads) {
    static_assert(std::is_integral_v<T>);
    const int nt = threads_for(n, threads);
    const auto nts = static_cast<std::size_t>(nt);
    // Every buffer is allocated here, outside the parallel region, so allocation failures throw
    // on the calling thread.
    const std::size_t scratch_size = size <= replicated_table_limit ? replicas * size : 0;
    std::vector<std::uint32_t> scratch(nts * scratch_size);
    std::vector<std::uint64_t> partial(nt > 1 ? nts * size : 0);
    std::vector<OutOfRange> outside(nts);
    for_each_slice(n, nt, [&](int t, std::size_t begin, std::size_t end) {
        const auto ts = static_cast<std::size_t>(t);
        std::uint64_t* table = nt > 1 ? partial.data() + ts * size : out;
        detail::count_slice(data + begin, end - begin, lo, size, scratch.data() + ts * scratch_size,
                            table, outside[ts]);
    });
    if (nt > 1) {
        for (std::size_t t = 0; t < nts; ++t) {
            const std::uint64_t* table = partial.data() + t * size;
            for (std::size_t k = 0; k < size; ++k) out[k] += table[k];
        }
    }
    OutOfRange total;
    for (const auto& o : outside) {
        total.below += o.below;
        total.above += o.above;
    }
    return total;
}

// Counts of every distinct label of data[0..n), sorted by label.
template <class T>
std::vector<std::pair<std::int64_t, std::uint64_t>> count_sparse(const T* data, std::size_t n,
                                                                  int threads) {
    static_assert(std::is_integral_v<T>);
    using Map = std::unordered_map<std::int64_t, std::uint64_t>;
    const int nt = threads_for(n, threads);
    std::vector<Map> maps(static_cast<std::size_t>(nt));
    std::vector<char> failed(static_cast<std::size_t>(nt), 0);
    for_each_slice(n, nt, [&](int t, std::size_t begin, std::size_t end) {
        if (begin == end) return;
        Map& map = maps[static_cast<std::size_t>(t)];
        try {
            // Masks are made of runs: count a run, then touch the map once.
            auto label = static_cast<std::int64_t>(data[begin]);
            std::uint64_t run = 0;
            for (std::size_t i = begin; i < end; ++i) {
                const auto v = static_cast<std::int64_t>(data[i]);
                if (v == label) {
                    ++run;
                } else {
                    map[label] += run;
                    label = v;
                    run = 1;
                }
            }
            map[label] += run;
        } catch (...) {
            failed[static_cast<std::size_t>(t)] = 1;
        }
    });
    if (std::find(failed.begin(), failed.end(), 1) != failed.end()) throw std::bad_alloc();
    Map& total = maps.front();
    for (std::size_t t = 1; t < maps.size(); ++t) {
        for (const auto& [label, count] : maps[t]) total[label] += count;
    }
    std::vector<std::pair<std::int64_t, std::uint64_t>> sorted(total.begin(), total.end());
    std::sort(sorted.begin(), sorted.end());
    return sorted;
}

}  // namespace fastweights
