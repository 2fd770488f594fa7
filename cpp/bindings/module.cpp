// fastweights._core: the kernels, bound by area (register_*.cpp). The only code that knows
// pybind11; the kernels it calls (cpp/include/fastweights) know nothing of Python.
#include <pybind11/pybind11.h>

#include "common.hpp"

PYBIND11_MODULE(_core, m) {
    namespace bindings = fastweights::bindings;
    m.doc() = "fastweights' counting kernels";
    bindings::register_counts(m);
    bindings::register_kernels(m);
    bindings::register_png(m);
    bindings::register_files(m);
    m.attr("__version__") = FASTWEIGHTS_VERSION;
}
