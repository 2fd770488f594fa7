// PNG, last stage for counting: the mask kinds (gray and palette at every bit depth, gray + alpha
// by its gray channel), interlaced or not. Each unfiltered row is counted at once into a table by
// sample value. Palette images count indices, never colours. Counting ignores pixel positions, so
// an Adam7 image is counted pass by pass, never reassembled. Colour images (RGB, RGBA) give
// Status::unsupported: their colours need a colormap, which is the caller's business. No Python in
// here.
#pragma once

#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "../platform.hpp"
#include "chunks.hpp"
#include "inflate.hpp"
#include "unfilter.hpp"

namespace fastweights::png {

struct CountResult {
    Status status = Status::ok;
    std::string message;
    Header header;
    // Pixels per sample value (gray level, palette index, or the gray of gray + alpha): 256 entries
    // for bit depths up to 8, 65,536 for 16. Empty unless status is ok.
    std::vector<std::uint64_t> table;
};

namespace detail {

// Bytes of one row, counted run by run: an 8-byte word equal to the same word shifted by one byte
// continues the current run and costs no table update at all; a word where the label changes
// closes the run (one add to the uint64 totals) and is counted byte by byte into four replicated
// uint32 tables, so that equal bytes do not wait on one counter.
inline void count_bytes(const unsigned char* p, std::size_t n, std::uint32_t* tables, std::uint64_t* totals) noexcept {
    if (n == 0) return;
    std::uint32_t* t0 = tables;
    std::uint32_t* t1 = tables + 256;
    std::uint32_t* t2 = tables + 512;
    std::uint32_t* t3 = tables + 768;
    unsigned label = p[0];
    std::size_t start = 0, i = 1;
    for (; i + 8 <= n; i += 8) {
        const std::uint64_t w = load8(p + i);
        if (FASTWEIGHTS_LIKELY(w == load8(p + i - 1))) continue;  // p[i-1 .. i+8) all equal
        totals[label] += i - start;
        ++t0[w & 0xff];
        ++t1[(w >> 8) & 0xff];
        ++t2[(w >> 16) & 0xff];
        ++t3[(w >> 24) & 0xff];
        ++t0[(w >> 32) & 0xff];
        ++t1[(w >> 40) & 0xff];
        ++t2[(w >> 48) & 0xff];
        ++t3[w >> 56];
        start = i + 8;
        label = p[i + 7];
    }
    totals[label] += i - start;
    for (; i < n; ++i) ++t0[p[i]];
}

// The replicated byte tables, flushed into uint64 totals before any entry could overflow.
class ByteCounter {
  public:
    ByteCounter() : tables_(4 * 256, 0u), totals_(256, 0u) {}

    void add(const unsigned char* p, std::size_t n) noexcept {
        if (n > std::numeric_limits<std::uint32_t>::max() - pending_) flush();
        count_bytes(p, n, tables_.data(), totals_.data());
        pending_ += n;
    }

    std::vector<std::uint64_t>& totals() noexcept {
        flush();
        return totals_;
    }

  private:
    void flush() noexcept {
        for (std::size_t k = 0; k < 256; ++k) {
            totals_[k] += std::uint64_t{tables_[k]} + tables_[256 + k] + tables_[512 + k] + tables_[768 + k];
        }
        std::fill(tables_.begin(), tables_.end(), 0u);
        pending_ = 0;
    }

    std::vector<std::uint32_t> tables_;
    std::vector<std::uint64_t> totals_;
    std::size_t pending_ = 0;
};

// One sample of Bytes (1, or 2 big-endian) bytes every Stride bytes, a run of equal samples at a time.
template <std::size_t Stride, std::size_t Bytes>
inline void count_runs(const unsigned char* p, std::size_t samples, std::uint64_t* table) noexcept {
    if (samples == 0) return;
    const auto sample = [p](std::size_t i) -> unsigned {
        const unsigned char* q = p + i * Stride;
        if constexpr (Bytes == 2) {
            return (unsigned{q[0]} << 8) | q[1];
        } else {
            return q[0];
        }
    };
    unsigned current = sample(0);
    std::uint64_t run = 0;
    for (std::size_t i = 0; i < samples; ++i) {
        const unsigned v = sample(i);
        if (v == current) {
            ++run;
        } else {
            table[current] += run;
            current = v;
            run = 1;
        }
    }
    table[current] += run;
}

// Gray or palette samples of 1 to 8 bits. Whole bytes are counted as bytes and split into pixels at
// the end; the last byte of a row holds padding bits when the row does not fill it, so its pixels
// are counted one by one.
inline bool count_packed(unsigned char* image, const Layout& layout, Outcome& out, std::vector<std::uint64_t>& table) {
    const unsigned depth = layout.depth;
    const unsigned mask = (1u << depth) - 1;
    std::size_t whole[7] = {}, tail_pixels[7] = {};
    for (int p = 0; p < layout.passes; ++p) {
        const Pass& pass = layout.pass[p];
        tail_pixels[p] = (pass.width * depth % 8) / depth;
        whole[p] = tail_pixels[p] ? pass.rowbytes - 1 : pass.rowbytes;
    }
    ByteCounter bytes;
    std::vector<std::uint64_t> tail(256, 0);
    const bool ok = unfilter_passes<1>(
        image, layout,
        [&](const unsigned char* row, int p, std::size_t) {
            bytes.add(row, whole[p]);
            if (tail_pixels[p]) {
                const unsigned last = row[whole[p]];
                for (std::size_t k = 0; k < tail_pixels[p]; ++k) {
                    ++tail[(last >> (8 - depth * static_cast<unsigned>(k + 1))) & mask];
                }
            }
        },
        out);
    if (!ok) return false;
    std::vector<std::uint64_t>& totals = bytes.totals();
    if (depth == 8) {
        table = std::move(totals);
        return true;
    }
    table = std::move(tail);
    for (unsigned b = 0; b < 256; ++b) {
        if (totals[b] == 0) continue;
        for (unsigned shift = 0; shift < 8; shift += depth) table[(b >> shift) & mask] += totals[b];
    }
    return true;
}

inline CountResult count(const unsigned char* data, std::size_t size, std::uint64_t max_pixels) {
    Outcome out;
    Stream stream;
    CountResult r;
    const auto done = [&]() -> CountResult {
        r.status = out.status;
        r.message = std::move(out.message);
        r.header = out.header;
        if (r.status != Status::ok) r.table.clear();
        return std::move(r);
    };
    if (!read_chunks(data, size, max_pixels, out, stream)) return done();
    const Header& h = out.header;
    if (h.color_type == 2 || h.color_type == 6) {
        out.fail(Status::unsupported, "a colour PNG: its colours are counted through decode_png");
        return done();
    }
    const Layout layout = layout_of(h);
    Scratch image;
    if (!inflate(stream, layout, out, image)) return done();
    if (stream.unknown_critical) {
        // Left to a general decoder, but only once its data is known to be whole: a decoder told to
        // be lenient (Pillow's LOAD_TRUNCATED_IMAGES) would pad a short stream with zeros.
        out.fail(Status::unsupported, "a PNG with an unknown critical chunk");
        return done();
    }
    if (h.bit_depth <= 8 && h.color_type != 4) {
        count_packed(image.get(), layout, out, r.table);
        return done();
    }
    r.table.assign(h.bit_depth == 16 ? std::size_t{1} << 16 : std::size_t{256}, 0);
    std::uint64_t* table = r.table.data();
    const Pass* passes = layout.pass;
    const auto sink = [&](auto counter) {
        return [table, passes, counter](const unsigned char* row, int p, std::size_t) {
            counter(row, passes[p].width, table);
        };
    };
    if (h.color_type == 0) {  // 16-bit gray
        unfilter_passes<2>(image.get(), layout, sink(count_runs<2, 2>), out);
    } else if (h.bit_depth == 8) {  // gray + alpha: the gray channel
        unfilter_passes<2>(image.get(), layout, sink(count_runs<2, 1>), out);
    } else {
        unfilter_passes<4>(image.get(), layout, sink(count_runs<4, 2>), out);
    }
    return done();
}

}  // namespace detail

// Decodes a PNG held in memory and counts its pixels by sample value (gray and palette images, and
// the gray channel of gray + alpha). An image of more than max_pixels pixels is refused from its
// header, before anything is allocated.
inline CountResult count_png(const unsigned char* data, std::size_t size, std::uint64_t max_pixels) noexcept {
    return detail::guarded<CountResult>([&] { return detail::count(data, size, max_pixels); });
}

}  // namespace fastweights::png
