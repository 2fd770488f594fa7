// Every kernel variant the CPU runs against a plain loop, through the public count_dense: runs of
// every length, {0,1} masks with a stray label, random bytes, lengths and starts that are not
// multiples of a block, every label value. Built and run by tests/kernels/test_kernel_variants.py, natively and
// (where a cross compiler and qemu are installed) for aarch64, whose NEON variant this machine lacks.
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "fastweights/dispatch.hpp"
#include "fastweights/histogram.hpp"

namespace {

using fastweights::detail::KernelVariant;

std::mt19937_64 rng(20240601);

std::size_t below(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); }

// Bytes made of runs: short (block edges), medium and long (whole blocks), of random labels.
std::vector<std::uint8_t> runs(std::size_t n, unsigned labels) {
    std::vector<std::uint8_t> out;
    while (out.size() < n) {
        const std::size_t kind = below(3);
        const std::size_t length = kind == 0 ? 1 + below(3) : kind == 1 ? 4 + below(70) : 60 + below(400);
        out.insert(out.end(), length, static_cast<std::uint8_t>(below(labels)));
    }
    out.resize(n);
    return out;
}

std::vector<std::uint8_t> binary(std::size_t n, bool stray) {
    std::vector<std::uint8_t> out(n);
    const std::size_t ones = below(101);
    for (auto& v : out) v = below(100) < ones ? 1 : 0;
    if (stray && n) out[below(n)] = static_cast<std::uint8_t>(2 + below(254));
    return out;
}

std::vector<std::uint8_t> random_bytes(std::size_t n) {
    std::vector<std::uint8_t> out(n);
    for (auto& v : out) v = static_cast<std::uint8_t>(below(256));
    return out;
}

template <class T>
bool check_bytes(const char* variant, const std::vector<std::uint8_t>& bytes, std::size_t start, int threads) {
    std::vector<std::uint8_t> buffer(bytes.size() + start + 1);
    std::copy(bytes.begin(), bytes.end(), buffer.begin() + static_cast<std::ptrdiff_t>(start));
    const T* data = reinterpret_cast<const T*>(buffer.data() + start);
    const std::int64_t lo = std::is_signed_v<T> ? -128 : 0;
    std::vector<std::uint64_t> got(256, 0), expected(256, 0);
    for (std::size_t i = 0; i < bytes.size(); ++i) ++expected[static_cast<std::size_t>(data[i] - lo)];
    const auto outside = fastweights::count_dense(data, bytes.size(), lo, 256, got.data(), threads);
    if (got != expected || outside.below || outside.above) {
        std::printf("MISMATCH variant=%s n=%zu start=%zu threads=%d signed=%d\n", variant, bytes.size(), start,
                    threads, int(std::is_signed_v<T>));
        return false;
    }
    return true;
}

template <class T>
bool check_wide(const char* variant, std::size_t n, int threads) {
    std::vector<T> labels(n);
    const auto runs_of = runs(n, 256);
    for (std::size_t i = 0; i < n; ++i) labels[i] = static_cast<T>(static_cast<T>(runs_of[i]) * 97 - 5);
    const std::int64_t lo = -100;
    const std::size_t size = 30000;
    std::vector<std::uint64_t> got(size, 0), expected(size, 0);
    std::uint64_t below_expected = 0, above_expected = 0;
    for (const T v : labels) {
        const auto value = static_cast<std::int64_t>(v);
        if (value < lo) {
            ++below_expected;
        } else if (value >= lo + static_cast<std::int64_t>(size)) {
            ++above_expected;
        } else {
            ++expected[static_cast<std::size_t>(value - lo)];
        }
    }
    const auto outside = fastweights::count_dense(labels.data(), n, lo, size, got.data(), threads);
    if (got != expected || outside.below != below_expected || outside.above != above_expected) {
        std::printf("MISMATCH wide variant=%s n=%zu bytes=%zu threads=%d\n", variant, n, sizeof(T), threads);
        return false;
    }
    return true;
}

}  // namespace

int main() {
    int cases = 0;
    bool ok = true;
    std::printf("variants:");
    for (int k = 0; k < fastweights::detail::kernel_variant_count; ++k) {
        const auto variant = static_cast<KernelVariant>(k);
        if (!fastweights::detail::kernel_variant_available(variant)) continue;
        const char* name = fastweights::detail::kernel_variant_names[k];
        std::printf(" %s", name);
        fastweights::detail::forced_kernel_variant().store(k);
        const std::size_t lengths[] = {0, 1, 63, 64, 65, 127, 128, 129, 4095, 4096, 4097, 8192 + 77, 100000};
        for (const std::size_t n : lengths) {
            for (int threads = 1; threads <= 2; ++threads) {
                for (int repeat = 0; repeat < 4; ++repeat) {
                    const std::size_t start = below(64);
                    const auto a = runs(n, 256), b = runs(n, 3), c = binary(n, repeat % 2), d = random_bytes(n);
                    for (const auto* bytes : {&a, &b, &c, &d}) {
                        ok &= check_bytes<std::uint8_t>(name, *bytes, start, threads);
                        ok &= check_bytes<std::int8_t>(name, *bytes, start, threads);
                        cases += 2;
                    }
                }
                ok &= check_wide<std::uint16_t>(name, n, threads);
                ok &= check_wide<std::int32_t>(name, n, threads);
                ok &= check_wide<std::int64_t>(name, n, threads);
                cases += 3;
            }
        }
    }
    std::printf("\n%s: %d cases\n", ok ? "ok" : "FAILED", cases);
    return ok ? 0 : 1;
}
