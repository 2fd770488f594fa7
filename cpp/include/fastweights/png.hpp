// PNG label masks: decoded without any general image library, and counted while decoding.
// No Python in here.
//
// Both entry points walk the chunk stream (checking the CRC of every chunk), refuse an image
// larger than the caller's limit from its header alone, inflate the IDAT data with libdeflate into
// one buffer of exactly the size the header implies, then undo the row filters in place, row by
// row, handing each row on while it is still in L1:
//
// - count_png: the mask kinds (gray and palette at every bit depth, gray + alpha by its gray
//   channel), interlaced or not. Each unfiltered row is counted at once into a table by sample
//   value. Palette images count indices, never colours. Counting ignores pixel positions, so an
//   Adam7 image is counted pass by pass, never reassembled. Colour images (RGB, RGBA) give
//   Status::unsupported: their colours need a colormap, which is the caller's business.
// - decode_png: every kind, as the samples in raster order (what a caller needs for a colour mask
//   or for slicing an image). Sixteen-bit samples stay 16-bit: general decoders such as Pillow
//   reduce 16-bit RGB, RGBA and gray + alpha to 8 bits, which would merge labels.
//
// Status::unsupported also marks a valid PNG with an unknown critical chunk: a general decoder
// decides about those, once the image data has been found whole. Errors are a status and a short message; no exception leaves the API.
#pragma once

#include <libdeflate.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define FASTWEIGHTS_PNG_SSE2 1
#elif defined(__ARM_NEON) || defined(_M_ARM64)
#include <arm_neon.h>
#define FASTWEIGHTS_PNG_NEON 1
#endif

#if defined(__GNUC__) || defined(__clang__)
#define FASTWEIGHTS_PNG_LIKELY(x) __builtin_expect(!!(x), 1)
#else
#define FASTWEIGHTS_PNG_LIKELY(x) (x)
#endif

namespace fastweights::png {

enum class Status : int {
    ok = 0,
    unsupported = 1,    // a valid PNG this decoder leaves to another (see above)
    not_png = 2,        // no PNG signature
    truncated = 3,      // the file ends inside a chunk, or before IEND
    bad_crc = 4,        // a chunk's CRC does not match its contents
    bad_header = 5,     // IHDR missing, malformed or with invalid values
    too_large = 6,      // width x height above the caller's limit
    bad_structure = 7,  // chunks missing or out of order (no IDAT, IDATs not consecutive, ...)
    corrupt_data = 8,   // the IDAT stream does not inflate, or not to the size the header implies
    bad_filter = 9,     // a row filter type above 4
    out_of_memory = 10,
    internal_error = 11,
};

struct Header {
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    std::uint8_t bit_depth = 0;
    std::uint8_t color_type = 0;  // 0 gray, 2 RGB, 3 palette, 4 gray + alpha, 6 RGBA
    std::uint8_t interlace = 0;   // 0 none, 1 Adam7
};

struct HeaderResult {
    Status status = Status::ok;
    std::string message;
    Header header;
};

struct CountResult {
    Status status = Status::ok;
    std::string message;
    Header header;
    // Pixels per sample value (gray level, palette index, or the gray of gray + alpha): 256 entries
    // for bit depths up to 8, 65,536 for 16. Empty unless status is ok.
    std::vector<std::uint64_t> table;
};

struct DecodeResult {
    Status status = Status::ok;
    std::string message;
    Header header;
    // height x width x channels samples in raster order: one byte each for bit depths up to 8
    // (1, 2 and 4-bit samples unpacked to a byte each), two big-endian bytes each for 16.
    // Empty unless status is ok.
    std::vector<unsigned char> samples;
};

// Samples per pixel of a colour type (0 for an invalid one).
constexpr unsigned channels_of(unsigned color_type) noexcept {
    return color_type == 0 || color_type == 3 ? 1 : color_type == 2 ? 3 : color_type == 4 ? 2 : color_type == 6 ? 4 : 0;
}

namespace detail {

constexpr unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
constexpr std::uint32_t max_chunk_length = 0x7fffffffu;  // PNG spec: lengths and sizes fit in 31 bits
// Deflate expands at most 1032:1 (a 258-byte match per two bits): an image that needs more than
// that from its compressed data is refused before its buffer is allocated.
constexpr std::uint64_t max_inflate_ratio = 1032;
constexpr std::uint64_t inflate_slack = 1 << 16;

inline std::uint32_t be32(const unsigned char* p) noexcept {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

inline bool is_type(const unsigned char* type, const char* name) noexcept {
    return std::memcmp(type, name, 4) == 0;
}

// A chunk type as text: its four letters, or hex escapes where they are not letters.
inline std::string type_name(const unsigned char* type) {
    std::string name;
    for (int i = 0; i < 4; ++i) {
        const unsigned char c = type[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) {
            name += static_cast<char>(c);
        } else {
            static constexpr char hex[] = "0123456789abcdef";
            name += "\\x";
            name += hex[c >> 4];
            name += hex[c & 15];
        }
    }
    return name;
}

inline std::string size_text(const Header& h) {
    return std::to_string(h.width) + " x " + std::to_string(h.height);
}

inline bool valid_depth(unsigned color_type, unsigned depth) noexcept {
    switch (color_type) {
        case 0: return depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16;
        case 3: return depth == 1 || depth == 2 || depth == 4 || depth == 8;
        case 2:
        case 4:
        case 6: return depth == 8 || depth == 16;
        default: return false;
    }
}

// What every entry point reports: a status, a message, and the header as far as it was read.
struct Outcome {
    Status status = Status::ok;
    std::string message;
    Header header;

    bool fail(Status s, std::string m) {
        status = s;
        message = std::move(m);
        return false;
    }
};

// The signature and IHDR: its length, CRC and values.
inline bool parse_header(const unsigned char* data, std::size_t size, Outcome& out) {
    const std::size_t prefix = std::min<std::size_t>(size, 8);
    if (size == 0 || std::memcmp(data, signature, prefix) != 0) {
        return out.fail(Status::not_png, "not a PNG file (no PNG signature)");
    }
    if (size < 8 + 8) return out.fail(Status::truncated, "truncated PNG: the file ends before its header");
    const std::uint32_t length = be32(data + 8);
    const unsigned char* type = data + 12;
    if (!is_type(type, "IHDR")) {
        return out.fail(Status::bad_header, "the first PNG chunk is " + type_name(type) + ", not IHDR");
    }
    if (length != 13) {
        return out.fail(Status::bad_header, "PNG chunk IHDR is " + std::to_string(length) + " bytes long, not 13");
    }
    if (size < 8 + 12 + 13) return out.fail(Status::truncated, "truncated PNG: the file ends inside chunk IHDR");
    if (libdeflate_crc32(0, type, 4 + 13) != be32(type + 4 + 13)) {
        return out.fail(Status::bad_crc, "PNG chunk IHDR has a bad CRC");
    }
    const unsigned char* body = type + 4;
    Header& h = out.header;
    h.width = be32(body);
    h.height = be32(body + 4);
    h.bit_depth = body[8];
    h.color_type = body[9];
    h.interlace = body[12];
    if (h.width == 0 || h.height == 0 || h.width > max_chunk_length || h.height > max_chunk_length) {
        return out.fail(Status::bad_header, "PNG header gives an invalid size of " + size_text(h) + " pixels");
    }
    if (!valid_depth(h.color_type, h.bit_depth)) {
        return out.fail(Status::bad_header, "PNG header gives an invalid bit depth " + std::to_string(h.bit_depth) +
                                                " for colour type " + std::to_string(h.color_type));
    }
    if (body[10] != 0) {
        return out.fail(Status::bad_header, "PNG header gives an unknown compression method " + std::to_string(body[10]));
    }
    if (body[11] != 0) {
        return out.fail(Status::bad_header, "PNG header gives an unknown filter method " + std::to_string(body[11]));
    }
    if (h.interlace > 1) {
        return out.fail(Status::bad_header, "PNG header gives an unknown interlace method " + std::to_string(h.interlace));
    }
    return true;
}

// The zlib stream of a PNG: where it is, and whether a chunk asks for a decoder that knows more.
struct Stream {
    const unsigned char* data = nullptr;
    std::size_t size = 0;
    std::vector<unsigned char> gathered;  // the IDAT data, when it is split over several chunks
    bool unknown_critical = false;
};

// Header, size limit, then every chunk up to IEND: CRCs, order, the IDAT data.
inline bool read_chunks(const unsigned char* data, std::size_t size, std::uint64_t max_pixels, Outcome& out,
                        Stream& stream) {
    if (!parse_header(data, size, out)) return false;
    const Header& h = out.header;
    const std::uint64_t pixels = std::uint64_t{h.width} * h.height;
    if (pixels > max_pixels) {
        return out.fail(Status::too_large, "PNG header claims " + size_text(h) + " pixels, more than the limit of " +
                                               std::to_string(max_pixels));
    }
    std::vector<std::pair<const unsigned char*, std::size_t>> idats;
    std::uint64_t idat_bytes = 0;
    bool in_idat = false, idat_done = false, have_palette = false;
    std::string last = "IHDR";
    std::size_t pos = 8 + 12 + 13;
    for (;;) {
        if (pos == size) {
            return out.fail(Status::truncated, "truncated PNG: the file ends after chunk " + last + " without an IEND chunk");
        }
        if (size - pos < 12) {
            return out.fail(Status::truncated, "truncated PNG: the file ends inside the chunk after " + last);
        }
        const std::uint32_t length = be32(data + pos);
        const unsigned char* type = data + pos + 4;
        if (length > max_chunk_length) {
            return out.fail(Status::bad_structure,
                            "PNG chunk " + type_name(type) + " claims an invalid length of " + std::to_string(length));
        }
        if (size - pos - 12 < length) {
            return out.fail(Status::truncated, "truncated PNG: the file ends inside chunk " + type_name(type));
        }
        if (libdeflate_crc32(0, type, std::size_t{length} + 4) != be32(type + 4 + length)) {
            return out.fail(Status::bad_crc, "PNG chunk " + type_name(type) + " has a bad CRC");
        }
        if (is_type(type, "IDAT")) {
            if (!in_idat && h.color_type == 3 && !have_palette) {
                return out.fail(Status::bad_structure, "a palette PNG without a PLTE chunk before its image data");
            }
            if (idat_done) {
                return out.fail(Status::bad_structure,
                                "PNG IDAT chunks are not consecutive (chunk " + last + " comes between them)");
            }
            if (length > 0) idats.emplace_back(type + 4, length);
            idat_bytes += length;
            in_idat = true;
            last = "IDAT";
        } else {
            if (in_idat) idat_done = true;
            in_idat = false;
            if (is_type(type, "IEND")) break;
            if (is_type(type, "IHDR")) return out.fail(Status::bad_structure, "PNG has a second IHDR chunk");
            if (is_type(type, "PLTE")) {
                // What libpng refuses outright. A palette a gray image should not have, or one longer
                // than the bit depth can index, is harmless to labels (libpng ignores or trims it).
                if (idat_done) return out.fail(Status::bad_structure, "PNG chunk PLTE comes after the image data");
                if (have_palette) return out.fail(Status::bad_structure, "PNG has a second PLTE chunk");
                if (length == 0 || length % 3 != 0 || length > 3 * 256) {
                    return out.fail(Status::bad_structure, "PNG chunk PLTE is " + std::to_string(length) +
                                                               " bytes long, not 1 to 256 entries of 3 bytes");
                }
                have_palette = true;
            }
            // An unknown critical chunk (upper-case first letter) may change how the image reads.
            if ((type[0] & 0x20) == 0 && !is_type(type, "PLTE")) stream.unknown_critical = true;
            last = type_name(type);
        }
        pos += std::size_t{length} + 12;
    }
    if (!idat_done) return out.fail(Status::bad_structure, "PNG has no IDAT chunk (no image data)");
    if (idats.size() == 1) {
        stream.data = idats.front().first;
        stream.size = idats.front().second;
    } else if (idats.size() > 1) {
        stream.gathered.reserve(static_cast<std::size_t>(idat_bytes));
        for (const auto& [p, n] : idats) stream.gathered.insert(stream.gathered.end(), p, p + n);
        stream.data = stream.gathered.data();
        stream.size = stream.gathered.size();
    } else {
        stream.data = data;  // empty IDAT chunks only: inflating nothing fails below
        stream.size = 0;
    }
    return true;
}

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
    const std::string kind = size_text(h) + " pixels at bit depth " + std::to_string(h.bit_depth);
    if (layout.inflated > std::uint64_t{stream.size} * max_inflate_ratio + inflate_slack ||
        layout.inflated > std::numeric_limits<std::size_t>::max() / 2) {
        return out.fail(Status::corrupt_data, "corrupt image data: " + std::to_string(stream.size) +
                                                  " bytes of compressed data cannot hold " + kind);
    }
    const auto size = static_cast<std::size_t>(layout.inflated);
    libdeflate_decompressor* decompressor = thread_decompressor();
    if (!image.reserve(size) || !decompressor) return out.fail(Status::out_of_memory, "out of memory");
    std::size_t consumed = 0, inflated = 0;
    const libdeflate_result result = libdeflate_zlib_decompress_ex(decompressor, stream.data, stream.size,
                                                                   image.get(), size, &consumed, &inflated);
    if (result == LIBDEFLATE_INSUFFICIENT_SPACE) {
        return out.fail(Status::corrupt_data, "corrupt image data: it inflates to more than the " +
                                                  std::to_string(size) + " bytes that " + kind + " need");
    }
    if (result != LIBDEFLATE_SUCCESS) {
        return out.fail(Status::corrupt_data, "corrupt image data: the IDAT data is not a valid zlib stream");
    }
    if (inflated != size) {
        return out.fail(Status::corrupt_data, "corrupt image data: it inflates to " + std::to_string(inflated) +
                                                  " bytes, but " + kind + " need " + std::to_string(size));
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

// ---- Row filters, undone in place. row[i] holds the filtered byte; prev is the unfiltered row
// above (zeros for a pass's first row); Bpp is the filter's bytes per pixel; n, the row's length
// in bytes, is a multiple of Bpp.
//
// Sub and Paeth are serial: each pixel depends on the one to its left. They keep that pixel in
// registers (not re-read from the row just written, which costs a store-to-load round trip per
// byte) and skip a block at a time over what masks are mostly made of: filtered zeros where the
// row above is flat, which unfilter to copies of the left pixel. ----

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
#if defined(FASTWEIGHTS_PNG_SSE2)
    for (; i + 16 <= n; i += 16) {
        const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + i));
        const __m128i y = _mm_loadu_si128(reinterpret_cast<const __m128i*>(prev + i));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(row + i), _mm_add_epi8(x, y));
    }
#elif defined(FASTWEIGHTS_PNG_NEON)
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
    if (FASTWEIGHTS_PNG_LIKELY(b == c)) {
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
            if (!unfilter<Bpp>(line[0], row, prev, pass.rowbytes)) {
                std::string where = "row " + std::to_string(y);
                if (layout.passes > 1) where += " of interlace pass " + std::to_string(p + 1);
                return out.fail(Status::bad_filter,
                                "corrupt image data: " + where + " has an unknown filter type " + std::to_string(line[0]));
            }
            sink(static_cast<const unsigned char*>(row), p, y);
            prev = row;
            offset += pass.rowbytes + 1;
        }
    }
    return true;
}

// Checks the filter type of every row of every pass without unfiltering: for a PNG left to a
// general decoder, which a lenient setting (Pillow's LOAD_TRUNCATED_IMAGES) lets keep the rows
// before a bad filter type and pad the rest. Returns false at the first unknown filter type.
inline bool check_filter_types(const unsigned char* image, const Layout& layout, Outcome& out) {
    std::size_t offset = 0;
    for (int p = 0; p < layout.passes; ++p) {
        const Pass& pass = layout.pass[p];
        for (std::size_t y = 0; y < pass.height; ++y, offset += pass.rowbytes + 1) {
            if (image[offset] <= 4) continue;
            std::string where = "row " + std::to_string(y);
            if (layout.passes > 1) where += " of interlace pass " + std::to_string(p + 1);
            return out.fail(Status::bad_filter, "corrupt image data: " + where + " has an unknown filter type " +
                                                    std::to_string(image[offset]));
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

// ---- Counting unfiltered rows. ----

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
        if (FASTWEIGHTS_PNG_LIKELY(w == load8(p + i - 1))) continue;  // p[i-1 .. i+8) all equal
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
        // Left to a general decoder, but only once its data is known to be whole and its filter
        // types valid: a decoder told to be lenient (Pillow's LOAD_TRUNCATED_IMAGES) would pad a
        // short stream with zeros, and keep the rows before a bad filter type.
        if (!check_filter_types(image.get(), layout, out)) return done();
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
    if (!inflate(stream, layout, out, image)) return done();
    if (stream.unknown_critical) {  // as in count: whole data and valid filter types first
        if (!check_filter_types(image.get(), layout, out)) return done();
        out.fail(Status::unsupported, "a PNG with an unknown critical chunk");
        return done();
    }
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

template <class Result, class Body>
Result guarded(Body&& body) noexcept {
    try {
        return body();
    } catch (const std::bad_alloc&) {
        Result r;
        r.status = Status::out_of_memory;
        r.message = "out of memory";  // short enough not to allocate
        return r;
    } catch (...) {
        Result r;
        r.status = Status::internal_error;
        r.message = "internal error";
        return r;
    }
}

}  // namespace detail

// The header of a PNG held in memory: width, height, bit depth, colour type, interlace. Reads only
// the signature and IHDR (and checks IHDR's CRC).
inline HeaderResult png_header(const unsigned char* data, std::size_t size) noexcept {
    return detail::guarded<HeaderResult>([&] {
        detail::Outcome out;
        detail::parse_header(data, size, out);
        HeaderResult r;
        r.status = out.status;
        r.message = std::move(out.message);
        r.header = out.header;
        return r;
    });
}

// Decodes a PNG held in memory and counts its pixels by sample value (gray and palette images, and
// the gray channel of gray + alpha). An image of more than max_pixels pixels is refused from its
// header, before anything is allocated.
inline CountResult count_png(const unsigned char* data, std::size_t size, std::uint64_t max_pixels) noexcept {
    return detail::guarded<CountResult>([&] { return detail::count(data, size, max_pixels); });
}

// Decodes a PNG of any kind held in memory to its samples in raster order (see DecodeResult).
inline DecodeResult decode_png(const unsigned char* data, std::size_t size, std::uint64_t max_pixels) noexcept {
    return detail::guarded<DecodeResult>([&] { return detail::decode(data, size, max_pixels); });
}

}  // namespace fastweights::png
