// The only file that knows pybind11: take a C-contiguous label array, release the GIL, count,
// return numpy arrays. Arguments are validated in Python (fastweights/_tally.py) before they get here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <tuple>

#include "fastweights/histogram.hpp"

namespace py = pybind11;

namespace {

template <class T>
using Labels = py::array_t<T, py::array::c_style>;

template <class T>
std::pair<std::int64_t, std::int64_t> min_max(const Labels<T>& labels, int threads) {
    const T* data = labels.data();
    const auto n = static_cast<std::size_t>(labels.size());
    if (n == 0) throw py::value_error("min_max of an empty array");
    py::gil_scoped_release release;
    const auto [lo, hi] = fastweights::min_max(data, n, threads);
    return {static_cast<std::int64_t>(lo), static_cast<std::int64_t>(hi)};
}

template <class T>
std::tuple<py::array_t<std::uint64_t>, std::uint64_t, std::uint64_t> count_dense(
    const Labels<T>& labels, std::int64_t lo, std::size_t size, int threads) {
    py::array_t<std::uint64_t> table(static_cast<py::ssize_t>(size));
    std::uint64_t* out = table.mutable_data();
    std::fill(out, out + size, std::uint64_t{0});
    const T* data = labels.data();
    const auto n = static_cast<std::size_t>(labels.size());
    fastweights::OutOfRange outside;
    {
        py::gil_scoped_release release;
        outside = fastweights::count_dense(data, n, lo, size, out, threads);
    }
    return {table, outside.below, outside.above};
}

template <class T>
std::pair<py::array_t<std::int64_t>, py::array_t<std::uint64_t>> count_sparse(
    const Labels<T>& labels, int threads) {
    const T* data = labels.data();
    const auto n = static_cast<std::size_t>(labels.size());
    std::vector<std::pair<std::int64_t, std::uint64_t>> pairs;
    {
        py::gil_scoped_release release;
        pairs = fastweights::count_sparse(data, n, threads);
    }
    const auto m = static_cast<py::ssize_t>(pairs.size());
    py::array_t<std::int64_t> values(m);
    py::array_t<std::uint64_t> counts(m);
    auto v = values.mutable_unchecked<1>();
    auto c = counts.mutable_unchecked<1>();
    for (py::ssize_t i = 0; i < m; ++i) {
        v(i) = pairs[static_cast<std::size_t>(i)].first;
        c(i) = pairs[static_cast<std::size_t>(i)].second;
    }
    return {values, counts};
}

template <class T>
void bind_dtype(py::module_& m, const std::string& name) {
    m.def(("min_max_" + name).c_str(), &min_max<T>, py::arg("labels").noconvert(), py::arg("threads"));
    m.def(("count_dense_" + name).c_str(), &count_dense<T>, py::arg("labels").noconvert(),
          py::arg("lo"), py::arg("size"), py::arg("threads"));
    m.def(("count_sparse_" + name).c_str(), &count_sparse<T>, py::arg("labels").noconvert(),
          py::arg("threads"));
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "fastweights' counting kernel";
    bind_dtype<std::uint8_t>(m, "uint8");
    bind_dtype<std::int8_t>(m, "int8");
    bind_dtype<std::uint16_t>(m, "uint16");
    bind_dtype<std::int16_t>(m, "int16");
    bind_dtype<std::uint32_t>(m, "uint32");
    bind_dtype<std::int32_t>(m, "int32");
    bind_dtype<std::int64_t>(m, "int64");
    m.def("openmp_enabled", &fastweights::openmp_enabled);
    m.attr("replicated_table_limit") = fastweights::replicated_table_limit;
    m.attr("__version__") = FASTWEIGHTS_VERSION;
}
