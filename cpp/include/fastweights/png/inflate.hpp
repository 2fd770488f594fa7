// PNG, second stage: where each pass's rows lie in the inflated data, and the IDAT data inflated
// with libdeflate into one buffer of exactly that size. No Python in here.
#pragma once

#include <libdeflate.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "chunks.hpp"

namespace fastweights::png::detail {

// Deflate expands at most 1032:1 (a 258-byte match per two bits): an image that needs more than
// that from its compressed data is refused before its buffer is allocated.
constexpr std::uint64_t max_inflate_ratio = 1032;
constexpr std::uint64_t inflate_slack = 1 << 16;

// Where the rows of each pass lie in the inflated data, and where their pixels go in the image.
struct Pass {
    std::size_t width = 0, height = 0, rowbytes = 0;
    std::size_t x0 = 0, y0 = 0, dx = 1, dy = 1;
};

struct Layout {
    unsigned channels = 0;
    unsigned depth = 0;
    std::size_t bpp = 1;  // bytes per pixel as the filters see it (at least 1)
    int passes = 1;
    Pass pass[7];
    std::uint64_t inflated = 0;  // bytes of filtered rows, filter bytes included
    std::size_t widest_row = 0;
};

inline Layout layout_of(const Header& h) noexcept {
    static constexpr std::size_t adam7[7][4] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
                                                {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}};  // x0, y0, dx, dy
    Layout l;
    l.channels = channels_of(h.color_type);
    l.depth = h.bit_depth;
    const std::uint64_t pixel_bits = std::uint64_t{l.channels} * l.depth;
    l.bpp = std::max<std::size_t>(1, static_cast<std::size_t>(pixel_bits / 8));
    l.passes = h.interlace ? 7 : 1;
    for (int p = 0; p < l.passes; ++p) {
        Pass& pass = l.pass[p];
        if (h.interlace) {
            pass.x0 = adam7[p][0];
            pass.y0 = adam7[p][1];
            pass.dx = adam7[p][2];
            pass.dy = adam7[p][3];
        }
        pass.width = h.width > pass.x0 ? (h.width - pass.x0 + pass.dx - 1) / pass.dx : 0;
        pass.height = h.height > pass.y0 ? (h.height - pass.y0 + pass.dy - 1) / pass.dy : 0;
        if (pass.width == 0 || pass.height == 0) {  // an empty pass has no rows, not even filter bytes
            pass.width = pass.height = 0;
            continue;
        }
        const std::uint64_t rowbytes = (std::uint64_t{pass.width} * pixel_bits + 7) / 8;
        pass.rowbytes = static_cast<std::size_t>(rowbytes);
        l.widest_row = std::max(l.widest_row, pass.rowbytes);
        l.inflated += std::uint64_t{pass.height} * (rowbytes + 1);
    }
    return l;
}

struct DecompressorDeleter {
    void operator()(libdeflate_decompressor* d) const noexcept { libdeflate_free_decompressor(d); }
};

// One decompressor per thread, kept for the thread's life (about 10 KiB).
inline libdeflate_decompressor* thread_decompressor() noexcept {
    thread_local std::unique_ptr<libdeflate_decompressor, DecompressorDeleter> decompressor;
    if (!decompressor) decompressor.reset(libdeflate_alloc_decompressor());
    return decompressor.get();
}

// Where an image is inflated: a buffer kept by each thread and reused, so that after the first mask
// of a data set no image costs an allocation or fresh page faults (which the threads of a process
// serialise on); an image bigger than kept_scratch_bytes gets a buffer of its own.
constexpr std::size_t kept_scratch_bytes = std::size_t{64} << 20;

class Scratch {
  public:
    unsigned char* get() const noexcept { return data_; }

    bool reserve(std::size_t size) noexcept {
        try {
            if (size <= kept_scratch_bytes) {
                thread_local std::vector<unsigned char> kept;
                if (kept.size() < size) kept.resize(size);
                data_ = kept.data();
            } else {
                owned_.reset(new unsigned char[size]);
                data_ = owned_.get();
            }
            return true;
        } catch (...) {
            return false;
        }
    }

  private:
    std::unique_ptr<unsigned char[]> owned_;
    unsigned char* data_ = nullptr;
};

// Inflates the stream into `image`, exactly layout.inflated bytes.
inline bool inflate(const Stream& stream, const Layout& layout, Outcome& out, Scratch& image) {
    const Header& h = out.header;
    // Only a failure says it: a tile's decode is short enough for its string's allocations to show.
    const auto kind = [&h] { return size_text(h) + " pixels at bit depth " + std::to_string(h.bit_depth); };
    if (layout.inflated > std::uint64_t{stream.size} * max_inflate_ratio + inflate_slack ||
        layout.inflated > std::numeric_limits<std::size_t>::max() / 2) {
        return out.fail(Status::corrupt_data, "corrupt image data: " + std::to_string(stream.size) +
                                                  " bytes of compressed data cannot hold " + kind());
    }
    const auto size = static_cast<std::size_t>(layout.inflated);
    libdeflate_decompressor* decompressor = thread_decompressor();
    if (!image.reserve(size) || !decompressor) return out.fail(Status::out_of_memory, "out of memory");
    std::size_t consumed = 0, inflated = 0;
    const libdeflate_result result = libdeflate_zlib_decompress_ex(decompressor, stream.data, stream.size,
                                                                   image.get(), size, &consumed, &inflated);
    if (result == LIBDEFLATE_INSUFFICIENT_SPACE) {
        return out.fail(Status::corrupt_data, "corrupt image data: it inflates to more than the " +
                                                  std::to_string(size) + " bytes that " + kind() + " need");
    }
    if (result != LIBDEFLATE_SUCCESS) {
        return out.fail(Status::corrupt_data, "corrupt image data: the IDAT data is not a valid zlib stream");
    }
    if (inflated != size) {
        return out.fail(Status::corrupt_data, "corrupt image data: it inflates to " + std::to_string(inflated) +
                                                  " bytes, but " + kind() + " need " + std::to_string(size));
    }
    // Bytes after the stream's end (and its checksum) are no part of the image: a second stream
    // appended by a broken writer, or damage; which of them holds the image cannot be told.
    if (consumed != stream.size) {
        return out.fail(Status::corrupt_data, "corrupt image data: the IDAT data goes on for " +
                                                  std::to_string(stream.size - consumed) +
                                                  " bytes after the end of its zlib stream");
    }
    return true;
}

}  // namespace fastweights::png::detail
