"""JPEG masks: refused unless the user allows lossy masks, because compression noise around every
edge invents labels (a 0/255 mask saved as JPEG holds dozens of values)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np

from .._optional import require
from .._tally import Tally
from ..colormaps import rgb_tally
from ..errors import InputError
from ..images import Bounds, Image, ReadOptions, array_image

__all__ = ["JPEG_MAGIC", "open_jpeg"]

JPEG_MAGIC = b"\xff\xd8\xff"


def open_jpeg(path: str, options: ReadOptions) -> Iterator[Image]:
    if not options.allow_lossy:
        raise InputError(
            f"{path}: a JPEG mask: lossy compression changes labels near every edge and invents classes "
            "that are not in the data; save masks as PNG, or pass allow_lossy=True (--allow-lossy) to count "
            "it anyway"
        )

    def tally(bounds: Bounds, threads: int) -> Tally:
        pil = require("PIL.Image", "png", "reading JPEG masks")
        try:
            with warnings.catch_warnings(), pil.open(path) as picture:
                warnings.simplefilter("ignore", pil.DecompressionBombWarning)
                picture.load()
                mode = picture.mode
                pixels = np.asarray(picture.convert("RGB") if mode not in ("L", "RGB") else picture)
        except (OSError, SyntaxError, ValueError, pil.DecompressionBombError) as error:
            raise InputError(f"{path}: cannot decode JPEG ({error})") from error
        if pixels.ndim == 2:
            return array_image(path, pixels).tally(bounds, threads)
        return rgb_tally(path, pixels, options.colormap, bounds, threads)

    yield Image(path, tally)
