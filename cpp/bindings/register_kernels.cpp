// What the kernels run on: the instruction-set variants, the CPU's features, OpenMP, and the
// threaded copy that fills the GPU's staging buffers.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common.hpp"
#include "fastweights/dispatch.hpp"
#include "fastweights/parallel.hpp"

namespace fastweights::bindings {

namespace {

using detail::KernelVariant;

std::vector<std::string> kernel_variants() {
    std::vector<std::string> names;
    for (int k = 0; k < detail::kernel_variant_count; ++k) {
        if (detail::kernel_variant_available(static_cast<KernelVariant>(k))) {
            names.emplace_back(detail::kernel_variant_names[k]);
        }
    }
    return names;
}

std::string kernel_variant_name() {
    return detail::kernel_variant_names[static_cast<int>(detail::kernel_variant())];
}

void set_kernel_variant(const std::string& name) {
    KernelVariant kernel = KernelVariant::automatic;
    if (!detail::kernel_variant_named(name, kernel) ||
        (kernel != KernelVariant::automatic && !detail::kernel_variant_available(kernel))) {
        throw py::value_error("kernel variant '" + name + "' is not available on this CPU");
    }
    detail::forced_kernel_variant().store(static_cast<int>(kernel));
}

py::dict cpu_features() {
    py::dict found;
#ifdef FASTWEIGHTS_X86_DISPATCH
    found["avx2"] = detail::cpu_has_avx2();
    found["avx512bw"] = detail::cpu_has_avx512bw();
#endif
#ifdef FASTWEIGHTS_NEON
    found["neon"] = true;
#endif
    return found;
}

void copy_bytes(py::array_t<std::uint8_t, py::array::c_style>& target,
                const py::array_t<std::uint8_t, py::array::c_style>& source, int threads) {
    if (target.size() < source.size()) throw py::value_error("copy_bytes: target is smaller than source");
    std::uint8_t* to = target.mutable_data();
    const std::uint8_t* from = source.data();
    const auto n = static_cast<std::size_t>(source.size());
    py::gil_scoped_release release;
    parallel_copy(to, from, n, threads);
}

}  // namespace

void register_kernels(py::module_& m) {
    m.def("openmp_enabled", &openmp_enabled, "Whether the kernels were built with OpenMP threads.");
    m.def("kernel_variants", &kernel_variants, "The kernel variants this CPU can run.");
    m.def("kernel_variant", &kernel_variant_name, "The kernel variant in use.");
    m.def("set_kernel_variant", &set_kernel_variant, py::arg("name"),
          "Forces a kernel variant ('portable', 'avx2'), or 'auto' for the best available.");
    m.def("cpu_features", &cpu_features, "The instruction sets found that the kernels use.");
    m.def("copy_bytes", &copy_bytes, py::arg("target").noconvert(), py::arg("source").noconvert(),
          py::arg("threads"), "Copies source's bytes to the start of target with up to `threads` threads.");
}

}  // namespace fastweights::bindings
