// The only file that knows pybind11: take a C-contiguous label array, release the GIL, count,
// return numpy arrays. Arguments are validated in Python (fastweights/_tally.py) before they get here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <libdeflate.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "fastweights/files.hpp"
#include "fastweights/dispatch.hpp"
#include "fastweights/histogram.hpp"
#include "fastweights/mapping.hpp"
#include "fastweights/npy.hpp"
#include "fastweights/png/chunks.hpp"
#include "fastweights/png/count.hpp"
#include "fastweights/png/decode.hpp"

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

using LabelArrays = std::pair<py::array_t<std::int64_t>, py::array_t<std::uint64_t>>;

// (label, pixels) pairs as the two numpy arrays a Tally is made of.
LabelArrays label_arrays(const std::vector<std::pair<std::int64_t, std::uint64_t>>& pairs) {
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
LabelArrays count_sparse(const Labels<T>& labels, int threads) {
    const T* data = labels.data();
    const auto n = static_cast<std::size_t>(labels.size());
    std::vector<std::pair<std::int64_t, std::uint64_t>> pairs;
    {
        py::gil_scoped_release release;
        pairs = fastweights::count_sparse(data, n, threads);
    }
    return label_arrays(pairs);
}

void copy_bytes(py::array_t<std::uint8_t, py::array::c_style>& target,
                const py::array_t<std::uint8_t, py::array::c_style>& source, int threads) {
    if (target.size() < source.size()) throw py::value_error("copy_bytes: target is smaller than source");
    std::uint8_t* to = target.mutable_data();
    const std::uint8_t* from = source.data();
    const auto n = static_cast<std::size_t>(source.size());
    py::gil_scoped_release release;
    fastweights::parallel_copy(to, from, n, threads);
}

template <class T>
void bind_dtype(py::module_& m, const std::string& name) {
    m.def(("min_max_" + name).c_str(), &min_max<T>, py::arg("labels").noconvert(), py::arg("threads"));
    m.def(("count_dense_" + name).c_str(), &count_dense<T>, py::arg("labels").noconvert(),
          py::arg("lo"), py::arg("size"), py::arg("threads"));
    m.def(("count_sparse_" + name).c_str(), &count_sparse<T>, py::arg("labels").noconvert(),
          py::arg("threads"));
}

// A read-only, contiguous byte view of any buffer-protocol object (bytes, memoryview, uint8 array),
// held for as long as this lives; the exporter keeps the memory alive and unmoved meanwhile.
class ByteView {
  public:
    explicit ByteView(const py::object& object) {
        if (PyObject_GetBuffer(object.ptr(), &view_, PyBUF_SIMPLE) != 0) throw py::error_already_set();
    }
    ByteView(const ByteView&) = delete;
    ByteView& operator=(const ByteView&) = delete;
    ~ByteView() { PyBuffer_Release(&view_); }
    const unsigned char* data() const { return static_cast<const unsigned char*>(view_.buf); }
    std::size_t size() const { return static_cast<std::size_t>(view_.len); }

  private:
    Py_buffer view_{};
};

py::object table_array(std::vector<std::uint64_t>&& table) {
    if (table.empty()) return py::none();
    auto* owned = new std::vector<std::uint64_t>(std::move(table));
    py::capsule free_when_done(owned, [](void* p) { delete static_cast<std::vector<std::uint64_t>*>(p); });
    return py::array_t<std::uint64_t>(static_cast<py::ssize_t>(owned->size()), owned->data(), free_when_done);
}

// The CRC-32 of a bytes-like object (a memory-mapped zip member, say), continuing from `value`.
std::uint32_t crc32(const py::object& data, std::uint32_t value) {
    const ByteView bytes(data);
    py::gil_scoped_release release;
    return libdeflate_crc32(value, bytes.data(), bytes.size());
}

py::tuple count_png(const py::object& data, std::uint64_t max_pixels) {
    const ByteView bytes(data);
    fastweights::png::CountResult result;
    {
        py::gil_scoped_release release;
        result = fastweights::png::count_png(bytes.data(), bytes.size(), max_pixels);
    }
    const auto& h = result.header;
    return py::make_tuple(static_cast<int>(result.status), result.message, table_array(std::move(result.table)),
                          h.width, h.height, h.bit_depth, h.color_type);
}

// The labels present in a table of counts and their counts, as numpy arrays.
LabelArrays sparse_table(const std::vector<std::uint64_t>& table) {
    std::vector<std::pair<std::int64_t, std::uint64_t>> present;
    for (std::size_t label = 0; label < table.size(); ++label) {
        if (table[label] != 0) present.emplace_back(static_cast<std::int64_t>(label), table[label]);
    }
    return label_arrays(present);
}

// Many PNG files read and counted in one call that releases the GIL once: a worker thread gets
// through a batch of small masks without handing the GIL back and forth per file. The paths come as
// the file system's bytes (os.fsencode), valid UTF-8 or not. Each result:
// (errno of reading the file or 0, its size, status, message, values, counts).
py::list count_png_files(const std::vector<std::string>& paths, std::uint64_t max_pixels) {
    struct Result {
        int error = 0;
        std::size_t size = 0;
        fastweights::png::CountResult count;
    };
    std::vector<Result> results(paths.size());
    {
        py::gil_scoped_release release;
        for (std::size_t i = 0; i < paths.size(); ++i) {
            auto file = fastweights::read_file(paths[i]);
            results[i].error = file.error;
            results[i].size = file.bytes.size();
            if (file.error == 0 && !file.bytes.empty()) {
                results[i].count = fastweights::png::count_png(file.bytes.data(), file.bytes.size(), max_pixels);
            }
        }
    }
    py::list out;
    for (const auto& result : results) {
        const auto [values, counts] = sparse_table(result.count.table);
        out.append(py::make_tuple(result.error, result.size, static_cast<int>(result.count.status),
                                  result.count.message, values, counts));
    }
    return out;
}

// Many small .npy files (paths as file-system bytes) read and counted with the GIL released once.
// Each result: None when the file is not a plain little-endian integer array this counts (the
// general reader takes it, and says what is wrong with a bad one), else (values, counts).
py::list count_npy_files(const std::vector<std::string>& paths) {
    std::vector<fastweights::npy::Result> results(paths.size());
    {
        py::gil_scoped_release release;
        for (std::size_t i = 0; i < paths.size(); ++i) {
            const auto file = fastweights::read_file(paths[i]);
            if (file.error == 0) results[i] = fastweights::npy::count_npy(file.bytes.data(), file.bytes.size());
        }
    }
    py::list out;
    for (const auto& result : results) {
        if (!result.counted) {
            out.append(py::none());
            continue;
        }
        const auto [values, counts] = label_arrays(result.tally);
        out.append(py::make_tuple(values, counts));
    }
    return out;
}

py::tuple decode_png(const py::object& data, std::uint64_t max_pixels) {
    const ByteView bytes(data);
    fastweights::png::DecodeResult result;
    {
        py::gil_scoped_release release;
        result = fastweights::png::decode_png(bytes.data(), bytes.size(), max_pixels);
    }
    py::object samples = py::none();
    if (!result.samples.empty()) {
        auto* owned = new std::vector<unsigned char>(std::move(result.samples));
        py::capsule free_when_done(owned, [](void* p) { delete static_cast<std::vector<unsigned char>*>(p); });
        samples = py::array_t<std::uint8_t>(static_cast<py::ssize_t>(owned->size()), owned->data(), free_when_done);
    }
    const auto& h = result.header;
    return py::make_tuple(static_cast<int>(result.status), result.message, samples, h.width, h.height, h.bit_depth,
                          h.color_type, h.interlace);
}

py::tuple png_header(const py::object& data) {
    const ByteView bytes(data);
    const auto result = fastweights::png::png_header(bytes.data(), bytes.size());
    const auto& h = result.header;
    return py::make_tuple(static_cast<int>(result.status), result.message, h.width, h.height, h.bit_depth,
                          h.color_type, h.interlace);
}

std::vector<std::string> kernel_variants() {
    using fastweights::detail::KernelVariant;
    std::vector<std::string> names;
    for (int k = 0; k < fastweights::detail::kernel_variant_count; ++k) {
        if (fastweights::detail::kernel_variant_available(static_cast<KernelVariant>(k))) {
            names.emplace_back(fastweights::detail::kernel_variant_names[k]);
        }
    }
    return names;
}

std::string kernel_variant_name() {
    return fastweights::detail::kernel_variant_names[static_cast<int>(fastweights::detail::kernel_variant())];
}

void set_kernel_variant(const std::string& name) {
    using fastweights::detail::KernelVariant;
    KernelVariant kernel = KernelVariant::automatic;
    if (!fastweights::detail::kernel_variant_named(name, kernel) ||
        (kernel != KernelVariant::automatic && !fastweights::detail::kernel_variant_available(kernel))) {
        throw py::value_error("kernel variant '" + name + "' is not available on this CPU");
    }
    fastweights::detail::forced_kernel_variant().store(static_cast<int>(kernel));
}

py::dict cpu_features() {
    py::dict found;
#ifdef FASTWEIGHTS_X86_DISPATCH
    found["avx2"] = fastweights::detail::cpu_has_avx2();
    found["avx512bw"] = fastweights::detail::cpu_has_avx512bw();
#endif
#ifdef FASTWEIGHTS_NEON
    found["neon"] = true;
#endif
    return found;
}

#if !defined(_WIN32)
void bind_guarded_map(py::module_& m) {
    using fastweights::mapping::GuardedMap;
    py::class_<GuardedMap>(m, "GuardedMap", py::buffer_protocol(),
                           "A read-only map of a whole file (path as bytes); reads past the end of a "
                           "file that shrank read zeros and set faulted() instead of killing the process.")
        .def(py::init([](const py::bytes& path) {
                 auto mapped = std::make_unique<GuardedMap>(std::string(path));
                 if (mapped->error() != 0) {
                     errno = mapped->error();
                     PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path.ptr());
                     throw py::error_already_set();
                 }
                 return mapped;
             }),
             py::arg("path"))
        .def_buffer([](GuardedMap& mapped) {
            static const unsigned char nothing = 0;
            const unsigned char* data = mapped.size() ? mapped.data() : &nothing;
            return py::buffer_info(const_cast<unsigned char*>(data), 1, py::format_descriptor<std::uint8_t>::format(),
                                   1, {static_cast<py::ssize_t>(mapped.size())}, {py::ssize_t{1}}, true);
        })
        .def("faulted", &GuardedMap::faulted)
        .def("discard", &GuardedMap::discard, py::arg("offset"), py::arg("length"));
}
#endif

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
    m.def("kernel_variants", &kernel_variants, "The kernel variants this CPU can run.");
    m.def("kernel_variant", &kernel_variant_name, "The kernel variant in use.");
    m.def("set_kernel_variant", &set_kernel_variant, py::arg("name"),
          "Forces a kernel variant ('portable', 'avx2'), or 'auto' for the best available.");
    m.def("cpu_features", &cpu_features, "The instruction sets found that the kernels use.");
    m.attr("replicated_table_limit") = fastweights::replicated_table_limit;
    m.def("crc32", &crc32, py::arg("data"), py::arg("value") = 0,
          "The CRC-32 (zlib's) of a bytes-like object, continuing from `value` (GIL released).");
    m.def("count_png", &count_png, py::arg("data"), py::arg("max_pixels"),
          "Decodes a PNG held in a bytes-like object and counts its pixels by value (GIL released).");
    m.def("count_npy_files", &count_npy_files, py::arg("paths"),
          "Reads and counts many small .npy files (paths as bytes, os.fsencode) with the GIL released once: "
          "per file (values, counts), "
          "or None for one the general reader must take.");
    m.def("count_png_files", &count_png_files, py::arg("paths"), py::arg("max_pixels"),
          "Reads and counts many PNG files (paths as bytes, os.fsencode) with the GIL released once: a list of "
          "(errno, size, status, message, values, counts).");
    m.def("decode_png", &decode_png, py::arg("data"), py::arg("max_pixels"),
          "Decodes a PNG held in a bytes-like object to its samples in raster order (GIL released).");
    m.def("png_header", &png_header, py::arg("data"),
          "The signature and IHDR of a PNG held in a bytes-like object.");
    m.def("copy_bytes", &copy_bytes, py::arg("target").noconvert(), py::arg("source").noconvert(),
          py::arg("threads"), "Copies source's bytes to the start of target with up to `threads` threads.");
#if !defined(_WIN32)
    bind_guarded_map(m);
#endif
    m.attr("__version__") = FASTWEIGHTS_VERSION;
}
