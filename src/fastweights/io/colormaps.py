"""Colour masks: RGB colour -> class id, by a dict, a JSON file or a built-in palette.

An RGB mask is tallied by colour (colours packed as 0xRRGGBB and counted by the kernel), then the
colour tally is translated to a class tally: the image is never rewritten pixel by pixel.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union

import numpy as np

from ..base.errors import InputError
from ..kernels._tally import Tally, merge_all, tally
from ..model import class_names
from .images import Image, ReadOptions, array_image

__all__ = ["BUILTIN", "Colormap", "UnknownColor", "colour_image", "colour_tally", "resolve_colormap", "rgb_tally"]

UnknownColor = Literal["error", "ignore"]


@dataclass(frozen=True)
class Colormap:
    name: str
    colors: np.ndarray  # uint32 0xRRGGBB, sorted
    classes: np.ndarray  # int64 class id of each colour
    unknown: UnknownColor = "error"  # or "ignore": a colour not in the map counts as ignored
    class_names: tuple[str, ...] = ()

    def translate(self, colours: Tally, name: str) -> Tally:
        """The class tally of a colour tally; colours not in the map are ignored pixels, or an error."""
        index = np.minimum(np.searchsorted(self.colors, colours.values), max(self.colors.size - 1, 0))
        known = self.colors[index] == colours.values if self.colors.size else np.zeros(colours.values.size, bool)
        if not known.all() and self.unknown == "error":
            missing = colours.values[~known]
            shown = ", ".join(_rgb(int(c)) for c in missing[:5]) + (" ..." if missing.size > 5 else "")
            raise InputError(
                f"{name}: {missing.size} colour(s) not in the {self.name} colormap: {shown} "
                f"({int(colours.counts[~known].sum())} pixels); add them to the colormap, or pass "
                'unknown_color="ignore" to count them as ignored'
            )
        unknown = int(colours.counts[~known].sum(dtype=np.uint64))
        classes = self.classes[index[known]]
        values, inverse = np.unique(classes, return_inverse=True)
        counts = np.zeros(values.size, np.uint64)
        np.add.at(counts, inverse, colours.counts[known])
        return Tally(values.astype(np.int64), counts, colours.ignored + unknown)


def _rgb(packed: int) -> str:
    return f"({packed >> 16}, {(packed >> 8) & 255}, {packed & 255})"


def _voc_palette(n: int = 256) -> list[tuple[int, int, int]]:
    """The Pascal VOC palette: bits of the class id spread over the high bits of r, g, b."""
    palette = []
    for index in range(n):
        r = g = b = 0
        c = index
        for shift in range(7, -1, -1):
            r |= ((c >> 0) & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        palette.append((r, g, b))
    return palette


# The colours of each built-in set, in the order of its class names (fastweights.model.class_names).
CITYSCAPES_COLOURS = (  # trainId order; black (unlabelled and the other void ids) -> 255
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153), (153, 153, 153),
    (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60), (255, 0, 0),
    (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32),
)  # fmt: skip
CAMVID_COLOURS = (  # SegNet's 11 classes, the order of its published counts, then Unlabelled (black): 11
    (128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (60, 40, 222), (128, 128, 0), (192, 128, 128),
    (64, 64, 128), (64, 0, 128), (64, 64, 0), (0, 128, 192), (0, 0, 0),
)  # fmt: skip


def _builtin() -> dict[str, tuple[dict[tuple[int, int, int], int], tuple[str, ...]]]:
    voc = {colour: index for index, colour in enumerate(_voc_palette(21))}
    voc[(224, 224, 192)] = 255  # the "difficult / border" colour VOC marks as ignore
    cityscapes = {colour: index for index, colour in enumerate(CITYSCAPES_COLOURS)}
    cityscapes[(0, 0, 0)] = 255
    camvid = {colour: index for index, colour in enumerate(CAMVID_COLOURS)}
    return {
        "voc": (voc, class_names.VOC),
        "cityscapes": (cityscapes, class_names.CITYSCAPES),
        "camvid": (camvid, (*class_names.CAMVID, "Unlabelled")),
    }


BUILTIN = _builtin()

ColormapSpec = Union[None, str, "os.PathLike[str]", Mapping[Any, int], Colormap]


def resolve_colormap(spec: ColormapSpec, unknown: UnknownColor = "error") -> Colormap | None:
    """A Colormap from a built-in name ("voc", "cityscapes", "camvid"), a JSON file, or a dict
    {(r, g, b): class id}. Keys may also be "r,g,b" or "#rrggbb" strings."""
    if unknown not in ("error", "ignore"):
        raise ValueError(f"unknown_color={unknown!r}: expected 'error' or 'ignore'")
    if spec is None or isinstance(spec, Colormap):
        return spec
    names: tuple[str, ...] = ()
    if isinstance(spec, str) and spec.lower() in BUILTIN:
        name = spec.lower()
        mapping, names = BUILTIN[name]
    elif isinstance(spec, (str, os.PathLike)):
        name = os.fspath(spec)
        mapping = _load_json(name)
    elif isinstance(spec, Mapping):
        name, mapping = "given", dict(spec)
    else:
        raise TypeError(
            f"colormap={spec!r}: expected a name ({', '.join(BUILTIN)}), a JSON file or a dict {{(r, g, b): class id}}"
        )
    packed: dict[int, int] = {}
    for key, class_id in mapping.items():
        colour = _pack(key, name)
        if isinstance(class_id, bool) or not isinstance(class_id, (int, np.integer)):
            raise ValueError(f"colormap {name}: class id {class_id!r} of colour {key!r} is not an integer")
        packed[colour] = int(class_id)
    colours = np.array(sorted(packed), dtype=np.uint32)
    classes = np.array([packed[int(c)] for c in colours], dtype=np.int64)
    return Colormap(name, colours, classes, unknown, names)


def _pack(key: Any, name: str) -> int:
    if isinstance(key, str):
        text = key.strip()
        parts = [int(text[i : i + 2], 16) for i in (1, 3, 5)] if text.startswith("#") and len(text) == 7 else None
        if parts is None:
            try:
                parts = [int(p) for p in text.strip("()[] ").split(",")]
            except ValueError:
                parts = []
        key = tuple(parts)
    if not (isinstance(key, (tuple, list)) and len(key) == 3 and all(isinstance(v, (int, np.integer)) for v in key)):
        raise ValueError(f"colormap {name}: {key!r} is not an (r, g, b) colour")
    r, g, b = (int(v) for v in key)
    if not all(0 <= v <= 255 for v in (r, g, b)):
        raise ValueError(f"colormap {name}: colour {key!r} has a channel outside 0..255")
    return (r << 16) | (g << 8) | b


def _load_json(path: str) -> dict[Any, int]:
    """{"r,g,b" or "#rrggbb": id}, or a list whose i-th entry is the [r, g, b] colour of class i."""
    try:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
    except FileNotFoundError:
        raise FileNotFoundError(f"colormap {path}: no such file (built-in colormaps: {', '.join(BUILTIN)})") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"colormap {path}: not JSON ({error})") from error
    if isinstance(data, list):
        return {tuple(colour) if isinstance(colour, list) else colour: index for index, colour in enumerate(data)}
    if isinstance(data, dict):
        return data
    raise ValueError(f"colormap {path}: expected a JSON object or list")


def rgb_tally(name: str, rgb: np.ndarray, colormap: Colormap | None, bounds: Any, threads: int) -> Tally:
    """The class tally of an (..., 3) colour mask.

    Without a colormap, a mask whose three channels are equal everywhere is read as gray;
    anything else is refused with the choices the user has."""
    if rgb.shape[-1] != 3:
        raise InputError(f"{name}: expected 3 colour channels, got shape {rgb.shape}")
    if colormap is None:
        gray = rgb[..., 0]
        if all(np.array_equal(block[..., 0], block[..., c]) for block in _row_blocks(rgb) for c in (1, 2)):
            return _tally_gray(gray, bounds, threads)
        raise InputError(
            f"{name}: an RGB colour mask, and no colormap was given: pass colormap= a built-in name "
            f"({', '.join(BUILTIN)}), a JSON file or a dict {{(r, g, b): class id}}"
        )
    return colormap.translate(colour_tally(rgb, threads), name)


def colour_tally(rgb: np.ndarray, threads: int) -> Tally:
    """The tally of an (..., 3) uint8 colour mask by colour, each colour packed as 0xRRGGBB."""
    return merge_all(tally(_packed(block), None, threads) for block in _row_blocks(rgb))


def _packed(block: np.ndarray) -> np.ndarray:
    """Each RGB pixel as one uint32 0xRRGGBB."""
    flat = block.reshape(-1, 3)
    packed: np.ndarray = (flat[:, 0].astype(np.uint32) << 16) | (flat[:, 1].astype(np.uint32) << 8) | flat[:, 2]
    return packed


def _tally_gray(gray: np.ndarray, bounds: Any, threads: int) -> Tally:
    return array_image("", gray).tally(bounds, threads)


def _row_blocks(rgb: np.ndarray, max_pixels: int = 1 << 22) -> Iterator[np.ndarray]:
    rows = rgb.reshape(-1, rgb.shape[-2], 3) if rgb.ndim >= 3 else rgb.reshape(1, -1, 3)
    step = max(1, max_pixels // max(rows.shape[1], 1))
    for start in range(0, rows.shape[0], step):
        yield rows[start : start + step]


def colour_image(name: str, rgb: np.ndarray, options: ReadOptions) -> Image:
    """An image of an (..., 3) colour mask, counted through `options.colormap`."""
    return Image(name, lambda bounds, threads: rgb_tally(name, rgb, options.colormap, bounds, threads))
