// PNG label masks, first stage: the chunk stream. The signature and IHDR are parsed and checked,
// then every chunk up to IEND (its CRC, the order of the chunks), and the IDAT data found; an image
// larger than the caller's limit is refused from its header alone. The later stages, each in its
// own header: inflate.hpp (the IDAT data into one buffer of exactly the size the header implies),
// unfilter.hpp (the row filters undone in place, row by row, each row handed on while still in
// L1), count.hpp and decode.hpp (the two entry points that use them).
//
// Status::unsupported marks a valid PNG this decoder leaves to a general one: a colour image to
// count (its colours need a colormap, the caller's business), or one with an unknown critical
// chunk (a general decoder decides about those, once the image data has been found whole). Errors
// are a status and a short message; no exception leaves the API. No Python in here.
#pragma once

#include <libdeflate.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <utility>
#include <vector>

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

// Samples per pixel of a colour type (0 for an invalid one).
constexpr unsigned channels_of(unsigned color_type) noexcept {
    return color_type == 0 || color_type == 3 ? 1 : color_type == 2 ? 3 : color_type == 4 ? 2 : color_type == 6 ? 4 : 0;
}

namespace detail {

constexpr unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
constexpr std::uint32_t max_chunk_length = 0x7fffffffu;  // PNG spec: lengths and sizes fit in 31 bits

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

// Runs body() and turns an exception into a status: none leaves the API.
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

}  // namespace fastweights::png
