// Files: folders listed, small PNG and .npy masks read and counted in batches, CRC-32 for zip members, and the guarded map
// that survives a file shrinking under it.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <libdeflate.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common.hpp"
#include "fastweights/file_batch.hpp"
#include "fastweights/files.hpp"
#include "fastweights/listing.hpp"
#include "fastweights/mapping.hpp"
#include "fastweights/npy.hpp"

namespace fastweights::bindings {

namespace {

ResultType file_batch_type;

// str -> the file system's bytes, as os.fsencode gives them (names that are not valid UTF-8 too).
std::string fs_bytes(const py::handle& path) {
    PyObject* encoded = PyUnicode_EncodeFSDefault(path.ptr());
    if (encoded == nullptr) throw py::error_already_set();
    const py::bytes bytes = py::reinterpret_steal<py::bytes>(encoded);
    return std::string(bytes);
}

// The file system's bytes -> str, as os.fsdecode gives it.
py::str fs_str(const std::string& bytes) {
    PyObject* decoded = PyUnicode_DecodeFSDefaultAndSize(bytes.data(), static_cast<py::ssize_t>(bytes.size()));
    if (decoded == nullptr) throw py::error_already_set();
    return py::reinterpret_steal<py::str>(decoded);
}

template <class T>
py::array_t<T> array_of(const std::vector<T>& values) {
    py::array_t<T> out(static_cast<py::ssize_t>(values.size()));
    std::copy(values.begin(), values.end(), out.mutable_data());
    return out;
}

// A batch of small PNG and .npy files (paths as str; their listed sizes and modification times;
// kinds 0 PNG, 1 .npy) read and counted on `threads` threads with the GIL released once. The
// result holds arrays, one entry per file, and the labels of all of them end to end.
py::object count_files(const py::list& paths, const py::array_t<std::int64_t, py::array::c_style>& sizes,
                       const py::array_t<std::int64_t, py::array::c_style>& mtimes,
                       const py::array_t<std::uint8_t, py::array::c_style>& kinds, std::uint64_t max_pixels,
                       int threads) {
    const std::size_t n = paths.size();
    if (sizes.size() != static_cast<py::ssize_t>(n) || mtimes.size() != static_cast<py::ssize_t>(n) ||
        kinds.size() != static_cast<py::ssize_t>(n)) {
        throw py::value_error("count_files: paths, sizes, mtimes and kinds differ in length");
    }
    std::vector<batch::Listed> files(n);
    for (std::size_t i = 0; i < n; ++i) {
        files[i].path = fs_bytes(paths[i]);
        files[i].size = sizes.at(static_cast<py::ssize_t>(i));
        files[i].mtime_ns = mtimes.at(static_cast<py::ssize_t>(i));
        files[i].kind = kinds.at(static_cast<py::ssize_t>(i)) == 1 ? batch::Kind::npy : batch::Kind::png;
    }
    std::vector<batch::Counted> results;
    {
        py::gil_scoped_release release;
        results = batch::count_files(files, max_pixels, threads);
    }
    std::vector<std::int32_t> errors(n);
    std::vector<std::uint8_t> changed(n), statuses(n);
    std::vector<std::int64_t> read_sizes(n), offsets(n + 1, 0), values;
    std::vector<std::uint64_t> counts;
    py::dict messages;
    for (std::size_t i = 0; i < n; ++i) {
        const auto& result = results[i];
        errors[i] = result.error;
        changed[i] = result.changed;
        statuses[i] = static_cast<std::uint8_t>(result.status);
        read_sizes[i] = result.size;
        if (!result.message.empty()) messages[py::int_(i)] = result.message;
        for (const auto& [label, pixels] : result.labels) {
            values.push_back(label);
            counts.push_back(pixels);
        }
        offsets[i + 1] = static_cast<std::int64_t>(values.size());
    }
    py::array_t<bool> changed_array(static_cast<py::ssize_t>(n));
    std::copy(changed.begin(), changed.end(), changed_array.mutable_data());
    return file_batch_type(array_of(errors), changed_array, array_of(read_sizes), array_of(statuses), messages,
                           array_of(offsets), array_of(values), array_of(counts));
}

#if !defined(_WIN32)
// One folder's entries (hidden ones left out), sorted by path as Python sorts str, and stat'ed a
// stretch at a time as they are asked for: per entry (path as os.path.join(folder, name) gives it,
// errno of its stat or 0, (mode, size, mtime_ns, (device, inode)) or None, position of its
// extension in `extensions` or -1).
class ListedFolder {
public:
    ListedFolder(const py::str& folder, const std::vector<std::string>& extensions) {
        const std::string root = fs_bytes(folder);
        prefix_ = root.empty() || root.back() == '/' ? root : root + "/";
        bool ascii = true;
        {
            py::gil_scoped_release release;
            folder_ = std::make_unique<listing::FolderEntries>(root, extensions);
            auto& entries = folder_->entries();
            for (const auto& entry : entries) {
                for (const char c : entry.name) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
            }
            // ASCII names sort as bytes as Python sorts them as str: no Python needed to order them.
            if (ascii) {
                std::sort(entries.begin(), entries.end(),
                          [](const listing::Entry& a, const listing::Entry& b) { return a.name < b.name; });
            }
        }
        if (folder_->error() != 0) {
            errno = folder_->error();
            PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, folder.ptr());
            throw py::error_already_set();
        }
        if (!ascii) sort_as_python();
    }

    std::size_t size() const noexcept { return folder_->entries().size(); }

    py::list entries(std::size_t start, std::size_t stop) {
        const auto& entries = folder_->entries();
        stop = std::min(stop, entries.size());
        start = std::min(start, stop);
        {
            py::gil_scoped_release release;
            folder_->stat(start, stop);
        }
        py::list out(stop - start);
        for (std::size_t i = start; i < stop; ++i) {
            const auto& entry = entries[i];
            py::object facts = py::none();
            if (entry.error == 0) {
                facts = py::reinterpret_steal<py::object>(Py_BuildValue(
                    "(ILL(KK))", static_cast<unsigned>(entry.mode), static_cast<long long>(entry.size),
                    static_cast<long long>(entry.mtime_ns), static_cast<unsigned long long>(entry.device),
                    static_cast<unsigned long long>(entry.inode)));
                if (!facts) throw py::error_already_set();
            }
            py::object made = py::reinterpret_steal<py::object>(Py_BuildValue(
                "(NiOi)", fs_str(prefix_ + entry.name).release().ptr(), entry.error, facts.ptr(), entry.extension));
            if (!made) throw py::error_already_set();
            out[i - start] = std::move(made);
        }
        return out;
    }

private:
    // Python's order of str (code points; a name that is not UTF-8 holds surrogates).
    void sort_as_python() {
        auto& entries = folder_->entries();
        std::vector<py::str> names;
        names.reserve(entries.size());
        for (const auto& entry : entries) names.push_back(fs_str(entry.name));
        std::vector<std::size_t> order(entries.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
            return PyUnicode_Compare(names[a].ptr(), names[b].ptr()) < 0;
        });
        std::vector<listing::Entry> sorted;
        sorted.reserve(entries.size());
        for (const std::size_t i : order) sorted.push_back(std::move(entries[i]));
        entries = std::move(sorted);
    }

    std::string prefix_;
    std::unique_ptr<listing::FolderEntries> folder_;
};
#endif

// The CRC-32 of a bytes-like object (a memory-mapped zip member, say), continuing from `value`.
std::uint32_t crc32(const py::object& data, std::uint32_t value) {
    const ByteView bytes(data);
    py::gil_scoped_release release;
    return libdeflate_crc32(value, bytes.data(), bytes.size());
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
    file_batch_type = ResultType(
        m, "FileBatch", "errors changed sizes statuses messages offsets values counts",
        "Small files read and counted together: per file the errno of reading it (or 0), whether it "
        "changed while read, its size, its PngStatus value (.npy: ok, or unsupported for the general "
        "reader), and where its labels lie in values and counts (offsets[i]:offsets[i + 1]); messages "
        "by position, for the files that have one.");
    m.def("count_files", &count_files, py::arg("paths"), py::arg("sizes"), py::arg("mtimes"), py::arg("kinds"),
          py::arg("max_pixels"), py::arg("threads"),
          "Reads and counts many small PNG (kind 0) and .npy (kind 1) files on `threads` threads with the GIL "
          "released once; each file is checked against its listed size and modification time.");
#if !defined(_WIN32)
    py::class_<ListedFolder>(m, "ListedFolder",
                             "A folder's entries, read in one readdir pass and sorted by path; "
                             "entries(start, stop) stats those (one fstatat each, GIL released).")
        .def("__len__", &ListedFolder::size)
        .def("entries", &ListedFolder::entries, py::arg("start"), py::arg("stop"));
    m.def(
        "list_folder",
        [](const py::str& folder, const std::vector<std::string>& extensions) {
            return std::make_unique<ListedFolder>(folder, extensions);
        },
        py::arg("folder"), py::arg("extensions"), "A folder's entries, named and sorted, not yet stat'ed (ListedFolder).");
#endif
#if !defined(_WIN32)
    register_guarded_map(m);
#endif
}

}  // namespace fastweights::bindings
