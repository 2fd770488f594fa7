"""The strict reference reader: the per-class counts a file must give, or its refusal.

Each format is read by an independent library configured strictly (numpy with allow_pickle=False,
zipfile with every member's CRC checked, Pillow with truncated images refused, tifffile, nibabel,
h5py), after structural checks of its own where that library is lenient (a tifffile warning, a
segment missing or past the end of the file, a nibabel header "fix", a duplicate .npy key, a bad
PNG CRC or a short IDAT stream are refusals here). The labels are then mapped as fastweights
maps them (DESIGN §2).

A result is {"status": "counts", "pixels": [...]} or {"status": "refused", "reason": ...,
"lenient": [...] or None}, where "lenient" is what the library itself decoded when only a check of
this module refused the file (so a count that equals it is told apart from an invented one).
"""

from __future__ import annotations

from typing import Any

from .oracle_arrays import _hdf5, _nifti, _npy, _npz, _raw
from .oracle_common import Refused
from .oracle_images import _png, _tiff

__all__ = ["Refused", "reference"]


def reference(path: str, spec: dict[str, Any]) -> dict[str, Any]:
    try:
        pixels = _READERS[_format_of(path, spec)](path, spec)
    except Refused as refused:
        return {"status": "refused", "reason": str(refused), "lenient": refused.lenient}
    except MemoryError:
        return {"status": "refused", "reason": "MemoryError in the reference reader", "lenient": None}
    except Exception as error:  # the strict library's own refusal, whatever it raises
        return {"status": "refused", "reason": f"{type(error).__name__}: {error}"[:300], "lenient": None}
    return {"status": "counts", "pixels": pixels}


def _format_of(path: str, spec: dict[str, Any]) -> str:
    if spec.get("kind") == "raw":
        return "raw"
    if spec.get("kind") == "hdf5":
        return "hdf5"
    lower = path.lower()
    for ext in (".nii.gz", ".png", ".npy", ".npz", ".tif", ".tiff", ".nii"):
        if lower.endswith(ext):
            return ext
    raise ValueError(f"no reference for {path}")


_READERS = {
    ".png": _png,
    ".npy": _npy,
    ".npz": _npz,
    "raw": _raw,
    ".tif": _tiff,
    ".tiff": _tiff,
    ".nii": _nifti,
    ".nii.gz": _nifti,
    "hdf5": _hdf5,
}
