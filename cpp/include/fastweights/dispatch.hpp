// Which kernel counts: the instruction-set variant, chosen at run time, and the label type, from
// the one a caller names. Each is decided here, once per call, and nowhere else. No Python here.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "runs.hpp"
#include "runs_avx2.hpp"
#include "runs_neon.hpp"

namespace fastweights {

// The label types the kernels count, for a caller that knows its labels' type only at run time.
enum class LabelType : int { uint8, int8, uint16, int16, uint32, int32, int64 };

// Calls body(T{}) with T the label type `type` names: `using T = decltype(tag);` in the body.
template <class Body>
decltype(auto) with_label_type(LabelType type, Body&& body) {
    switch (type) {
        case LabelType::uint8: return body(std::uint8_t{});
        case LabelType::int8: return body(std::int8_t{});
        case LabelType::uint16: return body(std::uint16_t{});
        case LabelType::int16: return body(std::int16_t{});
        case LabelType::uint32: return body(std::uint32_t{});
        case LabelType::int32: return body(std::int32_t{});
        case LabelType::int64: break;
    }
    return body(std::int64_t{});
}

namespace detail {

// The kernel variants, chosen at run time: the best the CPU has, unless one is forced
// (tests force each in turn; FASTWEIGHTS_KERNEL lets a user do the same).
enum class KernelVariant : int { automatic = -1, portable = 0, avx2 = 1, neon = 2 };
inline constexpr int kernel_variant_count = 3;
inline constexpr const char* kernel_variant_names[kernel_variant_count] = {"portable", "avx2", "neon"};

inline std::atomic<int>& forced_kernel_variant() noexcept {
    static std::atomic<int> forced{static_cast<int>(KernelVariant::automatic)};
    return forced;
}

inline bool kernel_variant_available(KernelVariant kernel) noexcept {
#ifdef FASTWEIGHTS_X86_DISPATCH
    if (kernel == KernelVariant::avx2) return cpu_has_avx2();
#endif
#ifdef FASTWEIGHTS_NEON
    if (kernel == KernelVariant::neon) return true;  // part of every aarch64 CPU
#endif
    return kernel == KernelVariant::portable;
}

inline KernelVariant kernel_variant() noexcept {
    const auto forced = static_cast<KernelVariant>(forced_kernel_variant().load(std::memory_order_relaxed));
    if (forced != KernelVariant::automatic) return forced;
    for (const KernelVariant best : {KernelVariant::avx2, KernelVariant::neon}) {
        if (kernel_variant_available(best)) return best;
    }
    return KernelVariant::portable;
}

// The variant called `name` ("auto" for the automatic choice); false for an unknown name.
inline bool kernel_variant_named(const std::string& name, KernelVariant& kernel) noexcept {
    if (name == "auto") {
        kernel = KernelVariant::automatic;
        return true;
    }
    for (int k = 0; k < kernel_variant_count; ++k) {
        if (name == kernel_variant_names[k]) {
            kernel = static_cast<KernelVariant>(k);
            return true;
        }
    }
    return false;
}

// The run kernel (runs.hpp) of the variant in use, over any `Tables`. Always inlined, so that a
// caller compiles as it did when it spelled this dispatch out itself.
template <class T, class Tables>
FASTWEIGHTS_ALWAYS_INLINE void count_runs_dispatched(const T* data, std::size_t n, Tables& tables) noexcept {
#ifdef FASTWEIGHTS_X86_DISPATCH
    if (kernel_variant() == KernelVariant::avx2) {
        if constexpr (sizeof(T) == 4) {
            count_runs_avx2<T, FourVectorBlocks<T>>(data, n, tables);
        } else {
            count_runs_avx2<T, TwoVectorBlocks<T>>(data, n, tables);
        }
        return;
    }
#endif
#ifdef FASTWEIGHTS_NEON
    if (kernel_variant() == KernelVariant::neon) {
        count_runs<T, NeonBlocks<T>>(data, n, tables);
        return;
    }
#endif
    count_runs<T, PortableBlocks<T>>(data, n, tables);
}

}  // namespace detail
}  // namespace fastweights
