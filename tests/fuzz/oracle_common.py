"""What the strict reference readers share: the refusal, and fastweights' mapping of labels to
class counts (DESIGN §2)."""

from __future__ import annotations

import logging

import numpy as np

Pixels = list[list[int]]  # [label, pixels] pairs, labels increasing

MAX_CLASSES = 1 << 24  # fastweights.engine.settings.MAX_CLASSES: a larger label is refused
# Deflate expands at most ~1032:1, LZW ~1800:1, PackBits 64:1: a page claiming more than this
# many bytes per compressed byte is not in the file.
MAX_EXPANSION = 3000


class Refused(Exception):
    """The reference refuses the file; `lenient` holds the library's own decode, if any."""

    def __init__(self, reason: str, lenient: list[int] | None = None) -> None:
        super().__init__(reason)
        self.lenient = lenient


def pixels_of(labels: np.ndarray) -> Pixels:
    """fastweights' counts of an array of labels (DESIGN §2), as [label, pixels] pairs of the labels
    present (a label near 2**24 costs no 16M-entry list), or Refused."""
    labels = np.asarray(labels)
    if labels.dtype.kind == "b":
        labels = labels.astype(np.uint8)
    elif labels.dtype.kind == "f":
        if labels.size and not np.isfinite(labels).all():
            raise Refused("non-finite float label")
        if labels.size and (labels != np.trunc(labels)).any():
            raise Refused("non-integral float label")
    elif labels.dtype.kind not in "iu":
        raise Refused(f"dtype {labels.dtype} holds no labels")
    if labels.size == 0:
        return []
    if labels.dtype.kind == "u" and labels.dtype.itemsize == 8 and int(labels.max()) >= MAX_CLASSES:
        raise Refused("label too large")
    if labels.min() < 0:
        raise Refused("negative label")
    if labels.max() >= MAX_CLASSES:
        raise Refused("label too large")
    values, counts = np.unique(labels.astype(np.int64).ravel(), return_counts=True)
    return [[int(v), int(n)] for v, n in zip(values, counts)]


def _colour_pixels(rgb: np.ndarray, colormap: list[list[int]] | None) -> Pixels:
    """(..., 3) colours: through the colormap, or as gray when the three channels are equal."""
    if colormap is None:
        if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
            raise Refused("colour mask without a colormap")
        return pixels_of(rgb[..., 0])
    if rgb.dtype != np.uint8:
        raise Refused(f"{rgb.dtype} colours")
    table = {(r, g, b): c for r, g, b, c in colormap}
    flat = rgb.reshape(-1, 3)
    if flat.size == 0:
        return []
    colours, inverse = np.unique(flat, axis=0, return_inverse=True)
    classes = []
    for colour in colours:
        key = tuple(int(v) for v in colour)
        if key not in table:
            raise Refused(f"colour {key} not in the colormap")
        classes.append(table[key])
    return pixels_of(np.array(classes, np.int64)[inverse.ravel()])


def as_pairs(pixels: Pixels | list[int]) -> Pixels:
    """[label, pixels] pairs of the labels present, from pairs or from a list indexed by label."""
    if pixels and isinstance(pixels[0], (list, tuple)):
        return [[int(v), int(n)] for v, n in pixels if n]  # type: ignore[misc]
    return [[index, int(n)] for index, n in enumerate(pixels) if n]  # type: ignore[arg-type]


def _add(total: Pixels | list[int], more: Pixels | list[int]) -> Pixels:
    summed: dict[int, int] = {}
    for source in (total, more):
        for label, n in as_pairs(source):
            summed[label] = summed.get(label, 0) + n
    return [[label, summed[label]] for label in sorted(summed)]


def _read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
