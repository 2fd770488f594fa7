"""Inputs -> images: what the user passed expanded into an ordered list of inputs (`sources`), one
reader per format (`readers/`), colour masks (`colormaps`), and `Image`, the unit a count tallies
(`images`). A device (a GPU) the running count chose is reached through `device`, a context
variable the backends set: this floor knows no GPU code.

May import: `fastweights.base`, `fastweights.kernels` and `fastweights._core`.
"""
