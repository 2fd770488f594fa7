// Counting a whole .npy file held in memory: the header parsed, the labels counted. For a batch of
// small masks read and counted without the GIL. Only plain little-endian integer arrays are taken;
// anything else is `unsupported`, and the caller's general reader handles it. No Python in here.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "histogram.hpp"

namespace fastweights::npy {

struct Result {
    bool counted = false;  // false: not a plain integer .npy this counts; read it another way
    std::vector<std::pair<std::int64_t, std::uint64_t>> tally;  // label, pixels; sorted
};

namespace detail {

// The text between the quotes after `key` in a header such as {'descr': '<u2', ...}.
inline bool quoted_value(const std::string& header, const char* key, std::string& value) {
    const auto at = header.find(key);
    if (at == std::string::npos) return false;
    const auto open = header.find('\'', at + std::strlen(key));
    if (open == std::string::npos) return false;
    const auto close = header.find('\'', open + 1);
    if (close == std::string::npos) return false;
    value = header.substr(open + 1, close - open - 1);
    return true;
}

inline bool element_count(const std::string& header, std::uint64_t& count) {
    const auto at = header.find("'shape':");
    if (at == std::string::npos) return false;
    const auto open = header.find('(', at);
    const auto close = header.find(')', open);
    if (open == std::string::npos || close == std::string::npos) return false;
    count = 1;
    std::uint64_t dim = 0;
    bool digits = false;
    for (auto i = open + 1; i <= close; ++i) {
        const char c = header[i];
        if (c >= '0' && c <= '9') {
            dim = dim * 10 + static_cast<std::uint64_t>(c - '0');
            digits = true;
            if (dim > (std::uint64_t{1} << 40)) return false;
        } else if (c == ',' || c == ')') {
            if (digits) count *= dim;
            dim = 0;
            digits = false;
        } else if (c != ' ') {
            return false;
        }
    }
    return true;
}

template <class T>
void count_labels(const unsigned char* bytes, std::size_t n, Result& out) {
    std::vector<T> labels(n);
    if (n) std::memcpy(labels.data(), bytes, n * sizeof(T));  // the data may sit at any alignment
    std::int64_t lo = static_cast<std::int64_t>(std::numeric_limits<T>::min());
    std::size_t size = std::size_t{1} << 16;
    if constexpr (sizeof(T) == 1) size = 256;
    if constexpr (sizeof(T) > 2) {
        if (n == 0) return;
        const auto [low, high] = min_max(labels.data(), n, 1);
        lo = static_cast<std::int64_t>(low);
        const auto span = static_cast<std::uint64_t>(static_cast<std::int64_t>(high) - lo) + 1;
        if (span > (std::uint64_t{1} << 20)) {
            out.tally = count_sparse(labels.data(), n, 1);
            out.counted = true;
            return;
        }
        size = static_cast<std::size_t>(span);
    }
    std::vector<std::uint64_t> table(size, 0);
    count_dense(labels.data(), n, lo, size, table.data(), 1);
    for (std::size_t k = 0; k < size; ++k) {
        if (table[k]) out.tally.emplace_back(lo + static_cast<std::int64_t>(k), table[k]);
    }
    out.counted = true;
}

}  // namespace detail

inline Result count_npy(const unsigned char* data, std::size_t size) noexcept {
    Result out;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    return out;  // the '<' arrays below would need swapping: left to the general reader
#endif
    try {
        if (size < 10 || std::memcmp(data, "\x93NUMPY", 6) != 0) return out;
        const unsigned version = data[6];
        std::size_t start = 0, length = 0;
        if (version == 1) {
            length = data[8] | (std::size_t{data[9]} << 8);
            start = 10;
        } else if (version == 2 || version == 3) {
            if (size < 12) return out;
            length = data[8] | (std::size_t{data[9]} << 8) | (std::size_t{data[10]} << 16) |
                     (std::size_t{data[11]} << 24);
            start = 12;
        } else {
            return out;
        }
        if (start + length > size) return out;
        const std::string header(reinterpret_cast<const char*>(data + start), length);
        std::string descr;
        std::uint64_t n = 0;
        if (!detail::quoted_value(header, "'descr':", descr) || !detail::element_count(header, n)) return out;
        const unsigned char* labels = data + start + length;
        const std::size_t available = size - start - length;
        const auto fits = [&](std::size_t itemsize) { return n <= available / itemsize; };
        if ((descr == "|u1" || descr == "<u1") && fits(1)) detail::count_labels<std::uint8_t>(labels, n, out);
        else if ((descr == "|i1" || descr == "<i1") && fits(1)) detail::count_labels<std::int8_t>(labels, n, out);
        else if (descr == "<u2" && fits(2)) detail::count_labels<std::uint16_t>(labels, n, out);
        else if (descr == "<i2" && fits(2)) detail::count_labels<std::int16_t>(labels, n, out);
        else if (descr == "<u4" && fits(4)) detail::count_labels<std::uint32_t>(labels, n, out);
        else if (descr == "<i4" && fits(4)) detail::count_labels<std::int32_t>(labels, n, out);
        else if (descr == "<i8" && fits(8)) detail::count_labels<std::int64_t>(labels, n, out);
    } catch (...) {
        out = Result();  // out of memory: the general reader will say so
    }
    return out;
}

}  // namespace fastweights::npy
