// Splitting a range of elements across OpenMP threads. No Python in here.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fastweights {

inline bool openmp_enabled() noexcept {
#ifdef _OPENMP
    return true;
#else
    return false;
#endif
}

// Below this many elements per thread, starting a thread costs more than it saves.
constexpr std::size_t min_elements_per_thread = std::size_t{1} << 16;

inline int threads_for(std::size_t n, int requested) noexcept {
    if (!openmp_enabled() || requested < 2) return 1;
    const std::size_t useful = std::max<std::size_t>(1, n / min_elements_per_thread);
    return static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(requested), useful));
}

// Calls body(thread_index, begin, end) once per thread on contiguous, disjoint slices that
// cover [0, n). body must not throw: exceptions cannot cross an OpenMP region.
template <class Body>
void for_each_slice(std::size_t n, int threads, Body&& body) noexcept {
#ifdef _OPENMP
    if (threads > 1) {
#pragma omp parallel num_threads(threads)
        {
            const auto t = static_cast<std::size_t>(omp_get_thread_num());
            const auto nt = static_cast<std::size_t>(omp_get_num_threads());
            const std::size_t base = n / nt, extra = n % nt;
            const std::size_t begin = t * base + std::min(t, extra);
            body(static_cast<int>(t), begin, begin + base + (t < extra ? 1 : 0));
        }
        return;
    }
#endif
    (void)threads;
    body(0, std::size_t{0}, n);
}

// Copies n bytes with up to `threads` threads: one thread cannot fill a GPU's pinned staging buffer
// as fast as the bus drains it.
inline void parallel_copy(void* target, const void* source, std::size_t n, int threads) noexcept {
    auto* to = static_cast<unsigned char*>(target);
    const auto* from = static_cast<const unsigned char*>(source);
    for_each_slice(n, threads_for(n, threads), [&](int, std::size_t begin, std::size_t end) {
        std::memcpy(to + begin, from + begin, end - begin);
    });
}

}  // namespace fastweights
