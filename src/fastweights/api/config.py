"""`show_config()`: what this build of fastweights runs with."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
import shutil
import subprocess
from typing import Any

__all__ = ["config", "cuda_devices", "optional_packages", "show_config"]

# The optional packages each feature uses: (feature, import name, distribution name).
OPTIONAL = (
    ("PNG (general decoder)", "PIL", "pillow"),
    ("TIFF", "tifffile", "tifffile"),
    ("TIFF codecs", "imagecodecs", "imagecodecs"),
    ("NIfTI", "nibabel", "nibabel"),
    ("HDF5", "h5py", "h5py"),
    ("Zarr", "zarr", "zarr"),
    ("--plot", "matplotlib", "matplotlib"),
    ("notebook progress", "tqdm", "tqdm"),
    ("GPU", "numba", "numba"),
    ("GPU", "numba_cuda", "numba-cuda"),
    ("Dask", "distributed", "distributed"),
    ("MPI", "mpi4py", "mpi4py"),
    ("PyTorch exports", "torch", "torch"),
    ("COCO polygons and RLE", "pycocotools", "pycocotools"),
)


def config() -> dict[str, Any]:
    from .. import _core
    from ..base._version import __version__
    from ..engine.settings import default_threads
    from ..kernels.variants import active_kernel, apply_environment, available_kernels

    apply_environment()

    return {
        "version": __version__,
        "kernel": f"{active_kernel()} (run-aware; available: {', '.join(available_kernels())})",
        "cpu features": ", ".join(name for name, found in _core.cpu_features().items() if found) or "baseline",
        "openmp": bool(_core.openmp_enabled()),
        "threads": default_threads(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }


def show_config() -> dict[str, Any]:
    """Prints the build and run-time configuration, and returns it.

    Returns
    -------
    dict of str to Any
        version, kernel (the counting kernel in use and those available), cpu features, openmp
        (bool), threads (the default thread count), machine and python.
    """
    settings = config()
    for key, value in settings.items():
        print(f"{key:>12}: {value}")
    return settings


def optional_packages() -> list[tuple[str, str, str | None]]:
    """(feature, distribution, version or None when not installed), found without importing them."""
    found = []
    for feature, module, distribution in OPTIONAL:
        version = None
        if importlib.util.find_spec(module) is not None:
            try:
                version = importlib.metadata.version(distribution)
            except importlib.metadata.PackageNotFoundError:
                version = "installed"
        found.append((feature, distribution, version))
    return found


def cuda_devices() -> list[str] | str:
    """The NVIDIA GPUs `nvidia-smi -L` lists, or why none can be listed. Asks the driver's tool, not
    numba, so that `fastweights info` stays quick and imports nothing heavy."""
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return "none seen (no nvidia-smi on PATH)"
    try:
        listed = subprocess.run([tool, "-L"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"none seen (nvidia-smi failed: {error})"
    devices = [line.strip() for line in listed.stdout.splitlines() if line.startswith("GPU")]
    return devices or f"none seen (nvidia-smi: {listed.stderr.strip() or 'no GPU listed'})"
