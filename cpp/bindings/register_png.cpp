// PNG masks decoded and counted without the GIL (fastweights/png/), held in memory (files in
// batches: register_files.cpp). Results carry a PngStatus and the kernel's message.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common.hpp"
#include "fastweights/png/chunks.hpp"
#include "fastweights/png/count.hpp"
#include "fastweights/png/decode.hpp"

namespace fastweights::bindings {

namespace {

ResultType png_header_type;
ResultType png_count_type;
ResultType png_samples_type;

py::object png_header(const py::object& data) {
    const ByteView bytes(data);
    const auto result = png::png_header(bytes.data(), bytes.size());
    const auto& h = result.header;
    return png_header_type(result.status, result.message, h.width, h.height, h.bit_depth, h.color_type, h.interlace);
}

py::object count_png(const py::object& data, std::uint64_t max_pixels) {
    const ByteView bytes(data);
    png::CountResult result;
    {
        py::gil_scoped_release release;
        result = png::count_png(bytes.data(), bytes.size(), max_pixels);
    }
    const auto& h = result.header;
    return png_count_type(result.status, result.message, owned_array(std::move(result.table)), h.width, h.height,
                          h.bit_depth, h.color_type);
}

py::object decode_png(const py::object& data, std::uint64_t max_pixels) {
    const ByteView bytes(data);
    png::DecodeResult result;
    {
        py::gil_scoped_release release;
        result = png::decode_png(bytes.data(), bytes.size(), max_pixels);
    }
    const auto& h = result.header;
    return png_samples_type(result.status, result.message, owned_array(std::move(result.samples)), h.width,
                            h.height, h.bit_depth, h.color_type, h.interlace);
}

}  // namespace

void register_png(py::module_& m) {
    py::enum_<png::Status>(m, "PngStatus",
                           "How a PNG read: ok; unsupported (valid, but left to a general decoder); or what is "
                           "wrong with it, which the result's message says in words.")
        .value("ok", png::Status::ok)
        .value("unsupported", png::Status::unsupported)
        .value("not_png", png::Status::not_png)
        .value("truncated", png::Status::truncated)
        .value("bad_crc", png::Status::bad_crc)
        .value("bad_header", png::Status::bad_header)
        .value("too_large", png::Status::too_large)
        .value("bad_structure", png::Status::bad_structure)
        .value("corrupt_data", png::Status::corrupt_data)
        .value("bad_filter", png::Status::bad_filter)
        .value("out_of_memory", png::Status::out_of_memory)
        .value("internal_error", png::Status::internal_error);
    png_header_type = ResultType(m, "PngHeader", "status message width height bit_depth color_type interlace",
                                  "A PNG's signature and IHDR, as far as they were read.");
    png_count_type = ResultType(m, "PngCount", "status message table width height bit_depth color_type",
                                 "Pixels per sample value (uint64, 256 or 65,536 entries; None unless ok) of a "
                                 "gray, palette or gray + alpha PNG, and its header.");
    png_samples_type =
        ResultType(m, "PngSamples", "status message samples width height bit_depth color_type interlace",
                    "A PNG's samples in raster order (uint8, two big-endian bytes each at bit depth 16; None "
                    "unless ok), and its header.");
    m.def("png_header", &png_header, py::arg("data"), "The signature and IHDR of a PNG held in a bytes-like object.");
    m.def("count_png", &count_png, py::arg("data"), py::arg("max_pixels"),
          "Decodes a PNG held in a bytes-like object and counts its pixels by value (GIL released).");
    m.def("decode_png", &decode_png, py::arg("data"), py::arg("max_pixels"),
          "Decodes a PNG held in a bytes-like object to its samples in raster order (GIL released).");
}

}  // namespace fastweights::bindings
