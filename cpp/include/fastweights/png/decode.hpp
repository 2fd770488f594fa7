// PNG, last stage for decoding: every kind, as the samples in raster order (what a caller needs
// for a colour mask or for slicing an image). Sixteen-bit samples stay 16-bit: general decoders
// such as Pillow reduce 16-bit RGB, RGBA and gray + alpha to 8 bits, which would merge labels.
// No Python in here.
#pragma once

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "chunks.hpp"
#include "inflate.hpp"
#include "unfilter.hpp"

namespace fastweights::png {

struct DecodeResult {
    Status status = Status::ok;
    std::string message;
    Header header;
    // height x width x channels samples in raster order: one byte each for bit depths up to 8
    // (1, 2 and 4-bit samples unpacked to a byte each), two big-endian bytes each for 16.
    // Empty unless status is ok.
    std::vector<unsigned char> samples;
};

namespace detail {

// Places the unfiltered rows in raster order: whole rows when not interlaced, pixel by pixel
// otherwise; samples of less than 8 bits unpacked to a byte each.
inline DecodeResult decode(const unsigned char* data, std::size_t size, std::uint64_t max_pixels) {
    Outcome out;
    Stream stream;
    DecodeResult r;
    const auto done = [&]() -> DecodeResult {
        r.status = out.status;
        r.message = std::move(out.message);
        r.header = out.header;
        if (r.status != Status::ok) r.samples = std::vector<unsigned char>();
        return std::move(r);
    };
    if (!read_chunks(data, size, max_pixels, out, stream)) return done();
    const Header& h = out.header;
    const Layout layout = layout_of(h);
    Scratch image;
    if (!inflate_for_us(stream, layout, out, image)) return done();
    const std::size_t width = h.width;
    const std::size_t sample_bytes = h.bit_depth == 16 ? 2 : 1;
    const std::size_t pixel_bytes = layout.channels * sample_bytes;
    r.samples.resize(width * h.height * pixel_bytes);
    unsigned char* samples = r.samples.data();
    const Pass* passes = layout.pass;
    if (h.bit_depth < 8) {
        const unsigned depth = h.bit_depth, mask = (1u << depth) - 1;
        unfilter_passes<1>(
            image.get(), layout,
            [&](const unsigned char* row, int p, std::size_t y) {
                const Pass& pass = passes[p];
                unsigned char* target = samples + (pass.y0 + y * pass.dy) * width + pass.x0;
                for (std::size_t x = 0; x < pass.width; ++x) {
                    const std::size_t bit = x * depth;
                    const unsigned shift = 8 - depth - static_cast<unsigned>(bit % 8);
                    target[x * pass.dx] = static_cast<unsigned char>((row[bit / 8] >> shift) & mask);
                }
            },
            out);
    } else {
        unfilter_any(
            image.get(), layout,
            [&](const unsigned char* row, int p, std::size_t y) {
                const Pass& pass = passes[p];
                unsigned char* target = samples + ((pass.y0 + y * pass.dy) * width + pass.x0) * pixel_bytes;
                if (pass.dx == 1) {
                    std::memcpy(target, row, pass.rowbytes);
                    return;
                }
                for (std::size_t x = 0; x < pass.width; ++x) {
                    std::memcpy(target + x * pass.dx * pixel_bytes, row + x * pixel_bytes, pixel_bytes);
                }
            },
            out);
    }
    return done();
}

}  // namespace detail

// Decodes a PNG of any kind held in memory to its samples in raster order (see DecodeResult).
inline DecodeResult decode_png(const unsigned char* data, std::size_t size, std::uint64_t max_pixels) noexcept {
    return detail::guarded<DecodeResult>([&] { return detail::decode(data, size, max_pixels); });
}

}  // namespace fastweights::png
