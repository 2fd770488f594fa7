// What the compiler and the instruction set offer, named once for every kernel: the vector
// intrinsics of the baseline (SSE2 on x86-64, NEON on ARM where the compiler has it), and the hints
// GCC and Clang take. The variants picked at run time (AVX2, NEON's run kernel) define their own
// macros beside their code (runs_avx2.hpp, runs_neon.hpp). No Python in here.
#pragma once

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define FASTWEIGHTS_SSE2 1
#elif defined(__ARM_NEON) || defined(_M_ARM64)
#include <arm_neon.h>
#define FASTWEIGHTS_ARM_NEON 1
#endif

#if defined(__GNUC__) || defined(__clang__)
#define FASTWEIGHTS_ALWAYS_INLINE inline __attribute__((always_inline))
#define FASTWEIGHTS_LIKELY(condition) __builtin_expect(static_cast<bool>(condition), 1)
#define FASTWEIGHTS_UNLIKELY(condition) __builtin_expect(static_cast<bool>(condition), 0)
#else
#define FASTWEIGHTS_ALWAYS_INLINE inline
#define FASTWEIGHTS_LIKELY(condition) (condition)
#define FASTWEIGHTS_UNLIKELY(condition) (condition)
#endif
