// The label counts of an array: one entry per operation, whatever the label type (dispatch.hpp
// picks the kernel once per call).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "common.hpp"
#include "fastweights/dispatch.hpp"
#include "fastweights/histogram.hpp"

namespace fastweights::bindings {

ResultType label_counts_type;

namespace {

ResultType dense_counts_type;
ResultType min_max_type;

// The label type of a C-contiguous array of one of the types the kernels count. Python checks
// labels before they get here; this only keeps a wrong array from being read as another type.
LabelType label_type_of(const py::array& labels) {
    if (!(labels.flags() & py::array::c_style)) throw py::type_error("labels: not a C-contiguous array");
    const py::dtype type = labels.dtype();
    const std::uint16_t probe = 1;
    unsigned char first = 0;
    std::memcpy(&first, &probe, 1);
    const char foreign_order = first == 1 ? '>' : '<';
    if (type.byteorder() != foreign_order) {
        const char kind = type.kind();
        switch (kind == 'u' || kind == 'i' ? type.itemsize() : 0) {
            case 1: return kind == 'u' ? LabelType::uint8 : LabelType::int8;
            case 2: return kind == 'u' ? LabelType::uint16 : LabelType::int16;
            case 4: return kind == 'u' ? LabelType::uint32 : LabelType::int32;
            case 8:
                if (kind == 'i') return LabelType::int64;
                break;
            default: break;
        }
    }
    throw py::type_error("labels: no kernel counts labels of dtype " + py::str(type).cast<std::string>());
}

py::object min_max(const py::array& labels, int threads) {
    const LabelType type = label_type_of(labels);
    const void* data = labels.data();
    const auto n = static_cast<std::size_t>(labels.size());
    if (n == 0) throw py::value_error("min_max of an empty array");
    std::pair<std::int64_t, std::int64_t> found;
    {
        py::gil_scoped_release release;
        found = with_label_type(type, [&](auto tag) {
            using T = decltype(tag);
            const auto [lo, hi] = fastweights::min_max(static_cast<const T*>(data), n, threads);
            return std::pair<std::int64_t, std::int64_t>(lo, hi);
        });
    }
    return min_max_type(found.first, found.second);
}

py::object count_dense(const py::array& labels, std::int64_t lo, std::size_t size, int threads) {
    const LabelType type = label_type_of(labels);
    py::array_t<std::uint64_t> table(static_cast<py::ssize_t>(size));
    std::uint64_t* out = table.mutable_data();
    std::fill(out, out + size, std::uint64_t{0});
    const void* data = labels.data();
    const auto n = static_cast<std::size_t>(labels.size());
    OutOfRange outside;
    {
        py::gil_scoped_release release;
        outside = with_label_type(type, [&](auto tag) {
            using T = decltype(tag);
            return fastweights::count_dense(static_cast<const T*>(data), n, lo, size, out, threads);
        });
    }
    return dense_counts_type(table, outside.below, outside.above);
}

py::object count_sparse(const py::array& labels, int threads) {
    const LabelType type = label_type_of(labels);
    const void* data = labels.data();
    const auto n = static_cast<std::size_t>(labels.size());
    std::vector<std::pair<std::int64_t, std::uint64_t>> pairs;
    {
        py::gil_scoped_release release;
        pairs = with_label_type(type, [&](auto tag) {
            using T = decltype(tag);
            return fastweights::count_sparse(static_cast<const T*>(data), n, threads);
        });
    }
    return label_counts(pairs);
}

}  // namespace

void register_counts(py::module_& m) {
    label_counts_type = ResultType(m, "LabelCounts", "values counts",
                                    "The labels present, ascending (int64), and their pixels (uint64).");
    dense_counts_type = ResultType(m, "DenseCounts", "table below above",
                                    "Pixels per label over [lo, lo + size) (uint64), and how many labels fell "
                                    "below and above that range.");
    min_max_type = ResultType(m, "MinMax", "min max", "The smallest and largest label.");
    m.attr("replicated_table_limit") = replicated_table_limit;
    m.def("min_max", &min_max, py::arg("labels").noconvert(), py::arg("threads"),
          "The smallest and largest label of a non-empty array (GIL released).");
    m.def("count_dense", &count_dense, py::arg("labels").noconvert(), py::arg("lo"), py::arg("size"),
          py::arg("threads"), "Counts labels over a table of [lo, lo + size) with up to `threads` threads (GIL released).");
    m.def("count_sparse", &count_sparse, py::arg("labels").noconvert(), py::arg("threads"),
          "Counts every distinct label with up to `threads` threads (GIL released).");
}

}  // namespace fastweights::bindings
