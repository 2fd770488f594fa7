"""The C++ kernel (`fastweights._core`) seen from Python: label chunks -> exact per-label tallies
(`_tally`), contiguous chunks of any array (`_chunks`), and which kernel variant runs (`variants`,
public as `fastweights.kernels`).

May import: `fastweights.base` and `fastweights._core`. Knows nothing of files, images or counts.
"""

from __future__ import annotations

from .variants import ENVIRONMENT_VARIABLE, active_kernel, apply_environment, available_kernels, use_kernel

__all__ = ["ENVIRONMENT_VARIABLE", "active_kernel", "apply_environment", "available_kernels", "use_kernel"]
