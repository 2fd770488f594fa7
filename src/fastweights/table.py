"""Counts (and weights) as a table a person reads in a terminal."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .counts import Counts

__all__ = ["format_table"]


def format_table(counts: Counts, weights: np.ndarray | None = None, scheme: str = "", names: Sequence[str] = ()) -> str:
    share = counts.pixels / counts.n_pixels if counts.n_pixels else np.zeros(counts.num_classes)
    header = f"{'class':>5}  {'name':<14}{'pixels':>16}  {'share':>8}  {'images':>8}"
    if weights is not None:
        header += f"  {('weight (' + scheme + ')') if scheme else 'weight':>16}"
    lines = [header, "-" * len(header)]
    for c in range(counts.num_classes):
        name = names[c] if c < len(names) else ""
        line = f"{c:>5}  {name:<14}{int(counts.pixels[c]):>16,}  {share[c]:>8.3%}  {int(counts.images[c]):>8,}"
        if weights is not None:
            line += f"  {weights[c]:>16.4f}"
        lines.append(line)
    lines.append("-" * len(header))
    lines.append(
        f"{counts.num_classes} classes, {counts.n_images:,} images, {counts.n_pixels:,} pixels counted, "
        f"{counts.ignored:,} ignored"
    )
    return "\n".join(lines)
