// PNG, last stage for counting: the mask kinds (gray and palette at every bit depth, gray + alpha
// by its gray channel), interlaced or not. Each unfiltered row is counted at once into a table by
// sample value. Palette images count indices, never colours. Counting ignores pixel positions, so
// an Adam7 image is counted pass by pass, never reassembled. Colour images (RGB, RGBA) give
// Status::unsupported: their colours need a colormap, which is the caller's business. No Python in
// here.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "../bytes.hpp"
#include "../dispatch.hpp"
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

// The run kernel's four replicated uint32 tables of `size` counters, flushed into uint64 totals
// before a sum could overflow. The replicas are summed modulo 2^32 before widening: the kernel
// takes a run back from one replica while another holds it.
class ReplicatedTables {
  public:
    explicit ReplicatedTables(std::size_t size) : size_(size), tables_(4 * size, 0u), totals_(size, 0u) {}

    // The tables, with room to count n more labels.
    std::uint32_t* tables_for(std::size_t n) noexcept {
        if (n > std::numeric_limits<std::uint32_t>::max() - pending_) flush();
        pending_ += n;
        return tables_.data();
    }

    std::vector<std::uint64_t>& totals() noexcept {
        flush();
        return totals_;
    }

  private:
    void flush() noexcept {
        if (pending_ == 0) return;  // nothing counted since the last flush
        const std::uint32_t* t = tables_.data();
        for (std::size_t k = 0; k < size_; ++k) {
            const std::uint32_t sum = t[k] + t[size_ + k] + t[2 * size_ + k] + t[3 * size_ + k];
            totals_[k] += sum;
        }
        std::fill(tables_.begin(), tables_.end(), 0u);
        pending_ = 0;
    }

    std::size_t size_;
    std::vector<std::uint32_t> tables_;
    std::vector<std::uint64_t> totals_;
    std::size_t pending_ = 0;
};

// Pixels as the run kernel's labels (Pixel holds one: 2 bytes for 16-bit gray and for 8-bit gray +
// alpha, 4 for 16-bit gray + alpha), counted by their first sample, of Bytes bytes (1, or 2
// big-endian): a run of equal pixels is a run of equal samples.
template <class Pixel, std::size_t Bytes>
struct SampleTables {
    static constexpr std::size_t size = std::size_t{1} << (8 * Bytes);
    std::uint32_t* tables;  // four replicas of `size` counters

    static unsigned sample(Pixel pixel) noexcept {
        unsigned char bytes[sizeof(Pixel)];
        std::memcpy(bytes, &pixel, sizeof(Pixel));
        if constexpr (Bytes == 2) {
            return (unsigned{bytes[0]} << 8) | bytes[1];
        } else {
            return bytes[0];
        }
    }

    void add(std::size_t replica, Pixel label, std::uint64_t count) noexcept {
        tables[replica * size + sample(label)] += static_cast<std::uint32_t>(count);
    }

    void add_each(const Pixel* labels, std::size_t len) noexcept {
        for (std::size_t q = 0; q < len; q += 4) {
            for (std::size_t r = 0; r < 4; ++r) add(r, labels[q + r], 1);
        }
    }
};

// Gray (16-bit) or gray + alpha samples, counted by the gray channel with the shared run kernel.
// Each row is copied to an aligned buffer first: rows lie at any byte offset, and the kernel reads
// whole pixels.
template <class Pixel, std::size_t Bytes>
bool count_samples(unsigned char* image, const Layout& layout, Outcome& out, std::vector<std::uint64_t>& table) {
    using Tables = SampleTables<Pixel, Bytes>;
    ReplicatedTables counter(Tables::size);
    std::vector<Pixel> pixels(layout.widest_row / sizeof(Pixel));
    const Pass* passes = layout.pass;
    const bool ok = unfilter_passes<sizeof(Pixel)>(
        image, layout,
        [&](const unsigned char* row, int p, std::size_t) {
            const std::size_t width = passes[p].width;
            std::memcpy(pixels.data(), row, width * sizeof(Pixel));
            Tables tables{counter.tables_for(width)};
            fastweights::detail::count_runs_dispatched(pixels.data(), width, tables);
        },
        out);
    if (ok) table = std::move(counter.totals());
    return ok;
}

// Rows this short (tiles, thumbnails) cost the run kernel more in setting up than its runs save:
// such images are counted whole once unfiltered, filter bytes and all, in one call, and each row's
// filter byte (and its last byte, when that holds padding bits) is then taken back. Counting
// ignores positions, so runs may well cross rows. Row by row, byte by byte, a 64 x 64 tile took
// 2.5 us to count; whole, about 0.4 us.
constexpr std::size_t short_row_bytes = 256;

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
    ReplicatedTables bytes(256);
    std::vector<std::uint64_t> tail(256, 0);
    const auto count_tail = [&](const unsigned char* row, int p) {
        const unsigned last = row[whole[p]];
        for (std::size_t k = 0; k < tail_pixels[p]; ++k) {
            ++tail[(last >> (8 - depth * static_cast<unsigned>(k + 1))) & mask];
        }
    };
    if (layout.widest_row < short_row_bytes) {
        if (!unfilter_passes<1>(
                image, layout, [&](const unsigned char* row, int p, std::size_t) { if (tail_pixels[p]) count_tail(row, p); },
                out)) {
            return false;
        }
        constexpr std::size_t call_bytes = std::size_t{1} << 30;  // the run kernel's limit per call
        const auto inflated = static_cast<std::size_t>(layout.inflated);
        for (std::size_t done = 0; done < inflated; done += call_bytes) {
            const std::size_t n = std::min(call_bytes, inflated - done);
            fastweights::detail::count_bytes<unsigned char>(image + done, n, bytes.tables_for(n));
        }
        std::vector<std::uint64_t>& totals = bytes.totals();
        const unsigned char* line = image;
        for (int p = 0; p < layout.passes; ++p) {
            for (std::size_t y = 0; y < layout.pass[p].height; ++y, line += layout.pass[p].rowbytes + 1) {
                --totals[line[0]];
                if (tail_pixels[p]) --totals[line[1 + whole[p]]];
            }
        }
    } else if (!unfilter_passes<1>(
                   image, layout,
                   [&](const unsigned char* row, int p, std::size_t) {
                       fastweights::detail::count_bytes<unsigned char>(row, whole[p], bytes.tables_for(whole[p]));
                       if (tail_pixels[p]) count_tail(row, p);
                   },
                   out)) {
        return false;
    }
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
    if (!inflate_for_us(stream, layout, out, image)) return done();
    if (h.bit_depth <= 8 && h.color_type != 4) {
        count_packed(image.get(), layout, out, r.table);
        return done();
    }
    if (h.color_type == 0) {  // 16-bit gray
        count_samples<std::uint16_t, 2>(image.get(), layout, out, r.table);
    } else if (h.bit_depth == 8) {  // gray + alpha: the gray channel
        count_samples<std::uint16_t, 1>(image.get(), layout, out, r.table);
    } else {
        count_samples<std::uint32_t, 2>(image.get(), layout, out, r.table);
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
