"""Which variant of the counting kernel runs: the best the CPU has, or one the user forces with
`use_kernel(name)` or the FASTWEIGHTS_KERNEL environment variable ("auto", "portable", "avx2" on x86-64,
"neon" on aarch64)."""

from __future__ import annotations

import os

from .. import _core

__all__ = ["ENVIRONMENT_VARIABLE", "active_kernel", "apply_environment", "available_kernels", "use_kernel"]

ENVIRONMENT_VARIABLE = "FASTWEIGHTS_KERNEL"


def available_kernels() -> list[str]:
    return list(_core.kernel_variants())


def active_kernel() -> str:
    return str(_core.kernel_variant())


def use_kernel(name: str) -> None:
    """Forces a kernel variant for every count that follows; "auto" returns to the best available."""
    choices = ["auto", *available_kernels()]
    if name not in choices:
        raise ValueError(f"kernel {name!r} is not available on this CPU; choose one of {', '.join(choices)}")
    _core.set_kernel_variant(name)


def apply_environment() -> None:
    """Applies FASTWEIGHTS_KERNEL, when set (read at each count, so a test or a job can change it)."""
    name = os.environ.get(ENVIRONMENT_VARIABLE)
    if name is None:
        return
    try:
        use_kernel(name.strip().lower() or "auto")
    except ValueError as error:
        raise ValueError(f"{ENVIRONMENT_VARIABLE}={name!r}: {error}") from None
