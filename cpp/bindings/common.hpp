// What the register_*.cpp files share. Each binding converts and checks its arguments (Python has
// validated them before, and says what is wrong in its own words), releases the GIL around the
// kernel only, and builds its result: a named tuple, with statuses as enums.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace fastweights::bindings {

namespace py = pybind11;

void register_counts(py::module_& m);
void register_kernels(py::module_& m);
void register_png(py::module_& m);
void register_files(py::module_& m);

// A named tuple type, made when the module is imported and added to it; calling it makes a result.
// The type is kept for the life of the process, never released: a C++ static's destructor runs
// after the interpreter is gone.
class ResultType {
  public:
    ResultType() = default;
    ResultType(py::module_& m, const char* name, const char* fields, const char* doc) {
        py::object type = py::module_::import("collections")
                              .attr("namedtuple")(name, fields, py::arg("module") = m.attr("__name__"));
        type.attr("__doc__") = doc;
        m.attr(name) = type;
        type_ = type.release();
    }

    // tuple.__new__(type, fields), what the named tuple's own __new__ does, without its Python
    // frame (a third of the cost of a small count).
    template <class... Fields>
    py::object operator()(Fields&&... fields) const {
        const py::tuple arguments = py::make_tuple(py::make_tuple(std::forward<Fields>(fields)...));
        PyObject* made = PyTuple_Type.tp_new(reinterpret_cast<PyTypeObject*>(type_.ptr()), arguments.ptr(), nullptr);
        if (made == nullptr) throw py::error_already_set();
        return py::reinterpret_steal<py::object>(made);
    }

  private:
    py::handle type_;
};

// LabelCounts(values, counts): the labels present, ascending, and their pixels (register_counts.cpp).
extern ResultType label_counts_type;

using LabelArrays = std::pair<py::array_t<std::int64_t>, py::array_t<std::uint64_t>>;

// (label, pixels) pairs as two numpy arrays: the labels and their pixels.
inline LabelArrays label_arrays(const std::vector<std::pair<std::int64_t, std::uint64_t>>& pairs) {
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

// (label, pixels) pairs, sorted by label, as LabelCounts.
inline py::object label_counts(const std::vector<std::pair<std::int64_t, std::uint64_t>>& pairs) {
    const auto [values, counts] = label_arrays(pairs);
    return label_counts_type(values, counts);
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

// A vector's contents as a 1-d numpy array that owns them (no copy); None for an empty vector.
template <class T>
py::object owned_array(std::vector<T>&& contents) {
    if (contents.empty()) return py::none();
    auto* owned = new std::vector<T>(std::move(contents));
    py::capsule free_when_done(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
    return py::array_t<T>(static_cast<py::ssize_t>(owned->size()), owned->data(), free_when_done);
}

}  // namespace fastweights::bindings
