// PNG, third stage: the row filters undone in place, row by row. row[i] holds the filtered byte;
// prev is the unfiltered row above (zeros for a pass's first row); Bpp is the filter's bytes per
// pixel; n, the row's length in bytes, is a multiple of Bpp. No Python in here.
//
// Sub and Paeth are serial: each pixel depends on the one to its left. They keep that pixel in
// registers (not re-read from the row just written, which costs a store-to-load round trip per
// byte) and skip a block at a time over what masks are mostly made of: filtered zeros where the
// row above is flat, which unfilter to copies of the left pixel.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../platform.hpp"
#include "inflate.hpp"

namespace fastweights::png::detail {

inline std::uint64_t load8(const unsigned char* p) noexcept {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
}

// Bytes in a skip block: a multiple of 8 and of the pixel size.
template <int Bpp>
constexpr std::size_t block_bytes = 8 % Bpp == 0 ? 8 : 24;

template <int Bpp>
inline bool zero_block(const unsigned char* p) noexcept {
    std::uint64_t any = 0;
    for (std::size_t w = 0; w < block_bytes<Bpp>; w += 8) any |= load8(p + w);
    return any == 0;
}

// Whether prev[i, i + block) repeats the pixel before it (the row above is flat there).
template <int Bpp>
inline bool flat_block(const unsigned char* prev, std::size_t i) noexcept {
    std::uint64_t diff = 0;
    for (std::size_t w = 0; w < block_bytes<Bpp>; w += 8) diff |= load8(prev + i + w) ^ load8(prev + i + w - Bpp);
    return diff == 0;
}

template <int Bpp>
inline void store_repeated(unsigned char* p, const unsigned (&pixel)[Bpp]) noexcept {
    unsigned char bytes[block_bytes<Bpp>];
    for (std::size_t k = 0; k < block_bytes<Bpp>; ++k) bytes[k] = static_cast<unsigned char>(pixel[k % Bpp]);
    std::memcpy(p, bytes, block_bytes<Bpp>);
}

template <int Bpp>
inline void unfilter_sub(unsigned char* row, std::size_t n) noexcept {
    constexpr std::size_t block = block_bytes<Bpp>;
    unsigned a[Bpp];
    for (int k = 0; k < Bpp; ++k) a[k] = row[k];
    std::size_t i = Bpp;
    for (; i + block <= n; i += block) {
        if (zero_block<Bpp>(row + i)) {
            store_repeated<Bpp>(row + i, a);
            continue;
        }
        for (std::size_t j = i; j < i + block; j += Bpp) {
            for (int k = 0; k < Bpp; ++k) {
                a[k] = (row[j + k] + a[k]) & 0xffu;
                row[j + k] = static_cast<unsigned char>(a[k]);
            }
        }
    }
    for (; i < n; i += Bpp) {
        for (int k = 0; k < Bpp; ++k) {
            a[k] = (row[i + k] + a[k]) & 0xffu;
            row[i + k] = static_cast<unsigned char>(a[k]);
        }
    }
}

// Up: a byte-wise add of the row above, 16 bytes at a time (written out: the auto-vectoriser gives
// up once this is inlined into the big decode function).
inline void unfilter_up(unsigned char* __restrict row, const unsigned char* __restrict prev,
                        std::size_t n) noexcept {
    std::size_t i = 0;
#if defined(FASTWEIGHTS_SSE2)
    for (; i + 16 <= n; i += 16) {
        const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + i));
        const __m128i y = _mm_loadu_si128(reinterpret_cast<const __m128i*>(prev + i));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(row + i), _mm_add_epi8(x, y));
    }
#elif defined(FASTWEIGHTS_ARM_NEON)
    for (; i + 16 <= n; i += 16) vst1q_u8(row + i, vaddq_u8(vld1q_u8(row + i), vld1q_u8(prev + i)));
#endif
    constexpr std::uint64_t high = 0x8080808080808080ull;
    for (; i + 8 <= n; i += 8) {  // eight byte-wise adds in one word, no carry from byte to byte
        const std::uint64_t x = load8(row + i), y = load8(prev + i);
        const std::uint64_t sum = ((x & ~high) + (y & ~high)) ^ ((x ^ y) & high);
        std::memcpy(row + i, &sum, 8);
    }
    for (; i < n; ++i) row[i] = static_cast<unsigned char>(row[i] + prev[i]);
}

template <int Bpp>
inline void unfilter_average(unsigned char* __restrict row, const unsigned char* __restrict prev,
                             std::size_t n) noexcept {
    unsigned a[Bpp];
    for (int k = 0; k < Bpp; ++k) {
        a[k] = (row[k] + (unsigned{prev[k]} >> 1)) & 0xffu;
        row[k] = static_cast<unsigned char>(a[k]);
    }
    for (std::size_t i = Bpp; i < n; i += Bpp) {
        for (int k = 0; k < Bpp; ++k) {
            a[k] = (row[i + k] + ((a[k] + prev[i + k]) >> 1)) & 0xffu;
            row[i + k] = static_cast<unsigned char>(a[k]);
        }
    }
}

// One Paeth byte: a left, b above, c above-left. Where the row above is flat (b == c) the
// predictor is a; the branch on that (which does not wait for a) predicts well in masks.
inline unsigned paeth_byte(unsigned filtered, unsigned a, unsigned b, unsigned c) noexcept {
    unsigned predictor;
    if (FASTWEIGHTS_LIKELY(b == c)) {
        predictor = a;
    } else {
        const int ia = static_cast<int>(a), ib = static_cast<int>(b), ic = static_cast<int>(c);
        const int pa = std::abs(ib - ic), pb = std::abs(ia - ic), pc = std::abs(ia + ib - 2 * ic);
        predictor = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
    }
    return (filtered + predictor) & 0xffu;
}

template <int Bpp>
inline void unfilter_paeth(unsigned char* __restrict row, const unsigned char* __restrict prev,
                           std::size_t n) noexcept {
    constexpr std::size_t block = block_bytes<Bpp>;
    unsigned a[Bpp], c[Bpp];
    for (int k = 0; k < Bpp; ++k) {  // no left pixel: the predictor is the pixel above
        a[k] = (row[k] + unsigned{prev[k]}) & 0xffu;
        row[k] = static_cast<unsigned char>(a[k]);
        c[k] = prev[k];
    }
    std::size_t i = Bpp;
    for (; i + block <= n; i += block) {
        // Filtered zeros under a flat row above: copies of the left pixel, and the above-left
        // pixel stays what it was.
        if (zero_block<Bpp>(row + i) && flat_block<Bpp>(prev, i)) {
            store_repeated<Bpp>(row + i, a);
            continue;
        }
        for (std::size_t j = i; j < i + block; j += Bpp) {
            for (int k = 0; k < Bpp; ++k) {
                const unsigned b = prev[j + k];
                a[k] = paeth_byte(row[j + k], a[k], b, c[k]);
                row[j + k] = static_cast<unsigned char>(a[k]);
                c[k] = b;
            }
        }
    }
    for (; i < n; i += Bpp) {
        for (int k = 0; k < Bpp; ++k) {
            const unsigned b = prev[i + k];
            a[k] = paeth_byte(row[i + k], a[k], b, c[k]);
            row[i + k] = static_cast<unsigned char>(a[k]);
            c[k] = b;
        }
    }
}

template <int Bpp>
inline bool unfilter(unsigned filter, unsigned char* row, const unsigned char* prev, std::size_t n) noexcept {
    switch (filter) {
        case 0: return true;
        case 1: unfilter_sub<Bpp>(row, n); return true;
        case 2: unfilter_up(row, prev, n); return true;
        case 3: unfilter_average<Bpp>(row, prev, n); return true;
        case 4: unfilter_paeth<Bpp>(row, prev, n); return true;
        default: return false;
    }
}

// The error of row y of pass p, whose filter type is unknown.
inline bool unknown_filter(const Layout& layout, int p, std::size_t y, unsigned type, Outcome& out) {
    std::string where = "row " + std::to_string(y);
    if (layout.passes > 1) where += " of interlace pass " + std::to_string(p + 1);
    return out.fail(Status::bad_filter, "corrupt image data: " + where + " has an unknown filter type " +
                                            std::to_string(type));
}

// Checks the filter type of every row of every pass without unfiltering: for a PNG left to a
// general decoder, which a lenient setting (Pillow's LOAD_TRUNCATED_IMAGES) lets keep the rows
// before a bad filter type and pad the rest. Returns false at the first unknown filter type.
inline bool check_filter_types(const unsigned char* image, const Layout& layout, Outcome& out) {
    std::size_t offset = 0;
    for (int p = 0; p < layout.passes; ++p) {
        const Pass& pass = layout.pass[p];
        for (std::size_t y = 0; y < pass.height; ++y, offset += pass.rowbytes + 1) {
            if (image[offset] > 4) return unknown_filter(layout, p, y, image[offset], out);
        }
    }
    return true;
}

// Inflates the image data, whole. A PNG with an unknown critical chunk is then left to a general
// decoder (status unsupported), but only once its data is known to be whole and its filter types
// valid: a decoder told to be lenient (Pillow's LOAD_TRUNCATED_IMAGES) would pad a short stream with
// zeros, and keep the rows before a bad filter type. Returns true when this decoder goes on.
inline bool inflate_for_us(const Stream& stream, const Layout& layout, Outcome& out, Scratch& image) {
    if (!inflate(stream, layout, out, image)) return false;
    if (!stream.unknown_critical) return true;
    if (check_filter_types(image.get(), layout, out)) {
        out.fail(Status::unsupported, "a PNG with an unknown critical chunk");
    }
    return false;
}

// Unfilters every row of every pass in place, handing each to sink(row, pass, y) as soon as it is
// done. Returns false at the first unknown filter type.
template <int Bpp, class Sink>
bool unfilter_passes(unsigned char* image, const Layout& layout, Sink&& sink, Outcome& out) {
    const std::vector<unsigned char> zeros(layout.widest_row, 0);
    std::size_t offset = 0;
    for (int p = 0; p < layout.passes; ++p) {
        const Pass& pass = layout.pass[p];
        const unsigned char* prev = zeros.data();
        for (std::size_t y = 0; y < pass.height; ++y) {
            unsigned char* line = image + offset;
            unsigned char* row = line + 1;
            if (!unfilter<Bpp>(line[0], row, prev, pass.rowbytes)) return unknown_filter(layout, p, y, line[0], out);
            sink(static_cast<const unsigned char*>(row), p, y);
            prev = row;
            offset += pass.rowbytes + 1;
        }
    }
    return true;
}

template <class Sink>
bool unfilter_any(unsigned char* image, const Layout& layout, Sink&& sink, Outcome& out) {
    switch (layout.bpp) {
        case 1: return unfilter_passes<1>(image, layout, sink, out);
        case 2: return unfilter_passes<2>(image, layout, sink, out);
        case 3: return unfilter_passes<3>(image, layout, sink, out);
        case 4: return unfilter_passes<4>(image, layout, sink, out);
        case 6: return unfilter_passes<6>(image, layout, sink, out);
        case 8: return unfilter_passes<8>(image, layout, sink, out);
        default: return out.fail(Status::internal_error, "internal error: unexpected pixel size");
    }
}

}  // namespace fastweights::png::detail
