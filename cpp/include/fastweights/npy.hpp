// Counting a whole .npy file held in memory: the header parsed, the labels counted. For a batch of
// small masks read and counted without the GIL. Only plain little-endian integer arrays are taken;
// anything else (an unusual header, a file of the wrong size) is not counted here, and the caller's
// general reader checks it and counts or refuses it. No Python in here.
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

// Parses the header text exactly as numpy writes it for a plain array,
//   {'descr': '<u2', 'fortran_order': False, 'shape': (2, 3), }   (then spaces and a newline),
// and nothing else: any other text (keys named twice, signs, other spellings) is left to the
// general reader, which checks it against the format and says what is wrong. `count` is the
// product of the dimensions; `overflow` is set when the product of the non-zero ones passes
// max_nonzero_count, even when another dimension is 0: numpy refuses such a shape (its size in
// bytes must fit its signed 64-bit size), and the general reader says so.
// 2^63 / 8: with an item of at most 8 bytes, a product at most this fits numpy's largest array.
constexpr std::uint64_t max_nonzero_count = std::uint64_t{1} << 60;

class PlainHeader {
  public:
    explicit PlainHeader(const std::string& text) : text_(text) {}

    bool parse(std::string& descr, std::uint64_t& count, bool& overflow) {
        if (!literal("{'descr': '")) return false;
        const auto close = text_.find('\'', at_);
        if (close == std::string::npos) return false;
        descr = text_.substr(at_, close - at_);
        at_ = close + 1;
        if (!literal(", 'fortran_order': ") || !(literal("False") || literal("True"))) return false;
        if (!literal(", 'shape': (") || !shape(count, overflow) || !literal(",")) return false;
        spaces();
        if (!literal("}")) return false;
        spaces();
        literal("\n");
        return at_ == text_.size();
    }

  private:
    bool literal(const char* expected) {
        const std::size_t n = std::strlen(expected);
        if (text_.compare(at_, n, expected) != 0) return false;
        at_ += n;
        return true;
    }

    void spaces() {
        while (at_ < text_.size() && text_[at_] == ' ') ++at_;
    }

    // A dimension as Python spells an int literal: 0, or digits without a leading zero.
    bool dimension(std::uint64_t& dim) {
        const std::size_t begin = at_;
        dim = 0;
        while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9') {
            const auto digit = static_cast<std::uint64_t>(text_[at_] - '0');
            if (dim > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return false;
            dim = dim * 10 + digit;
            ++at_;
        }
        return at_ > begin && (text_[begin] != '0' || at_ == begin + 1);
    }

    // "()", "(d,)" or "(d, d, ...)", the opening parenthesis already read.
    bool shape(std::uint64_t& count, bool& overflow) {
        count = 1;
        overflow = false;
        bool zero = false;
        if (literal(")")) return true;
        std::size_t dims = 0;
        do {
            std::uint64_t dim = 0;
            if (!dimension(dim)) return false;
            ++dims;
            if (dim == 0) zero = true;
            else if (count > max_nonzero_count / dim) overflow = true;
            else count *= dim;
        } while (literal(", "));
        if (dims == 1 && !literal(",")) return false;
        if (!literal(")")) return false;
        if (zero) count = 0;
        return true;
    }

    const std::string& text_;
    std::size_t at_ = 0;
};

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
        if (data[7] != 0) return out;
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
        bool overflow = false;
        if (!detail::PlainHeader(header).parse(descr, n, overflow) || overflow) return out;
        const unsigned char* labels = data + start + length;
        const std::size_t available = size - start - length;
        // Exactly the array's bytes: a file shorter or longer than its header says is left to the
        // general reader, which refuses it.
        const auto fits = [&](std::size_t itemsize) { return n <= available / itemsize && n * itemsize == available; };
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
