// Files: small .npy masks read and counted in batches, CRC-32 for zip members, and the guarded map
// that survives a file shrinking under it.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <libdeflate.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common.hpp"
#include "fastweights/files.hpp"
#include "fastweights/mapping.hpp"
#include "fastweights/npy.hpp"

namespace fastweights::bindings {

namespace {

// The CRC-32 of a bytes-like object (a memory-mapped zip member, say), continuing from `value`.
std::uint32_t crc32(const py::object& data, std::uint32_t value) {
    const ByteView bytes(data);
    py::gil_scoped_release release;
    return libdeflate_crc32(value, bytes.data(), bytes.size());
}

// Many small .npy files (paths as file-system bytes) read and counted with the GIL released once.
// Each result: None when the file is not a plain little-endian integer array this counts (the
// general reader takes it, and says what is wrong with a bad one), else LabelCounts.
py::list count_npy_files(const std::vector<std::string>& paths) {
    std::vector<npy::Result> results(paths.size());
    {
        py::gil_scoped_release release;
        for (std::size_t i = 0; i < paths.size(); ++i) {
            const auto file = read_file(paths[i]);
            // A file that changed while read goes to the general reader, which reads it again.
            if (file.error == 0 && !file.changed) results[i] = npy::count_npy(file.bytes.data(), file.bytes.size());
        }
    }
    py::list out;
    for (const auto& result : results) out.append(result.counted ? label_counts(result.tally) : py::none());
    return out;
}

#if !defined(_WIN32)
void register_guarded_map(py::module_& m) {
    using mapping::GuardedMap;
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

void register_files(py::module_& m) {
    m.def("crc32", &crc32, py::arg("data"), py::arg("value") = 0,
          "The CRC-32 (zlib's) of a bytes-like object, continuing from `value` (GIL released).");
    m.def("count_npy_files", &count_npy_files, py::arg("paths"),
          "Reads and counts many small .npy files (paths as bytes, os.fsencode) with the GIL released once: "
          "per file LabelCounts, or None for one the general reader must take.");
#if !defined(_WIN32)
    register_guarded_map(m);
#endif
}

}  // namespace fastweights::bindings
