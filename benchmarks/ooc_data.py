"""Mask sets on disk for the out-of-core and scaling benchmarks, and the page-cache control they need.

A set of a given size is a folder of hard links into one pool of files per format, so that the 1, 4
and 8 GiB sets share their files (written once) and each set is still a plain folder that
`fastweights.count` walks. Every file holds the same few distinct 2048 x 2048 blocky masks (few
classes in rectangles, like real label maps, not noise), in a different order per .npy file, so the
exact counts of a set are known without reading it back.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from speed_data import SEED, blocky_masks, skewed

GIB = 1 << 30
SIDE = 2048
TEMPLATES = 32  # distinct masks: enough that the PNGs are not all one file
CLASSES = 12
NPY_MASKS = 64  # masks per .npy file: 256 MiB
MASK_BYTES = SIDE * SIDE


@dataclass(frozen=True)
class MaskSet:
    folder: Path
    files: list[Path]
    pixels: np.ndarray  # exact per-class counts of the whole set

    @property
    def nbytes(self) -> int:
        """Bytes on disk: what a sequential reader reads."""
        return sum(path.stat().st_size for path in self.files)


def templates() -> tuple[np.ndarray, np.ndarray]:
    """The distinct masks and the exact class counts of one of each."""
    rng = np.random.default_rng(SEED + 23)
    masks, expected = blocky_masks(rng, TEMPLATES, SIDE, SIDE, skewed(CLASSES, 0.6), np.uint8)
    return masks, expected


def png_bytes(mask: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(mask, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def mask_set(root: Path, kind: str, gib: float) -> MaskSet:
    """The set of `kind` ("npy": 256 MiB .npy files; "png": one 2048 x 2048 mask per file) holding
    `gib` GiB of labels, written (and flushed to disk, so that dropping its pages works) if missing."""
    masks, expected = templates()
    per_file = NPY_MASKS if kind == "npy" else 1
    files = max(1, round(gib * GIB / (per_file * MASK_BYTES)))
    pool = root / f"{kind}-pool"
    pool.mkdir(parents=True, exist_ok=True)
    folder = root / f"{kind}-{gib:g}g"
    if folder.exists() and len(list(folder.iterdir())) != files:
        shutil.rmtree(folder)
    folder.mkdir(exist_ok=True)
    encoded = [png_bytes(mask) for mask in masks] if kind == "png" else []
    paths = []
    for index in range(files):
        source = pool / f"mask_{index:06d}.{kind}"
        if not source.exists():
            _write(source, kind, index, masks, encoded)
        link = folder / source.name
        if not link.exists():
            os.link(source, link)
        paths.append(link)
    pixels = expected * (files * per_file // TEMPLATES) if kind == "npy" else _png_pixels(masks, files)
    return MaskSet(folder, paths, pixels)


def _png_pixels(masks: np.ndarray, files: int) -> np.ndarray:
    pixels = np.zeros(CLASSES, np.uint64)
    for index in range(files):
        pixels += np.bincount(masks[index % TEMPLATES].ravel(), minlength=CLASSES).astype(np.uint64)
    return pixels


def _write(path: Path, kind: str, index: int, masks: np.ndarray, encoded: list[bytes]) -> None:
    partial = path.with_suffix(".partial")
    with open(partial, "wb") as stream:
        if kind == "npy":
            order = np.roll(np.arange(NPY_MASKS) % TEMPLATES, index)
            np.lib.format.write_array(stream, masks[order], allow_pickle=False)
        else:
            stream.write(encoded[index % TEMPLATES])
        stream.flush()
        os.fsync(stream.fileno())
    partial.rename(path)


def drop_cache(paths: list[Path]) -> None:
    """Makes every file cold: posix_fadvise(DONTNEED) needs no privileges, and drops the clean pages
    no process maps; `resident_bytes` then shows what stayed."""
    for path in paths:
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(descriptor)


def resident_bytes(paths: list[Path]) -> int:
    """Bytes of the files in the page cache, as util-linux `fincore` (mincore(2) on a map of each file) sees them."""
    total = 0
    for start in range(0, len(paths), 512):
        found = subprocess.run(
            ["fincore", "--bytes", "--noheadings", "--output", "RES", *map(str, paths[start : start + 512])],
            capture_output=True,
            text=True,
            check=True,
        )
        total += sum(int(line) for line in found.stdout.split())
    return total


def cold(paths: list[Path]) -> int:
    """Drops the files' pages and returns what stayed cached (checked, not assumed)."""
    drop_cache(paths)
    return resident_bytes(paths)
