"""Counts (and weights) as a table a person reads in a terminal."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..model.counts import Counts

__all__ = ["format_table", "format_weights"]


def format_table(
    counts: Counts, weights: np.ndarray | None = None, scheme: str = "", names: Sequence[str] | None = None
) -> str:
    """Class, name, pixels, share of the counted pixels, images containing it[, weight]; then the
    totals, the ignored pixels and the skipped inputs. `names` default: `counts.class_names`.
    Compact Counts (label_map="compact") show each class's original label beside it."""
    if names is None:
        names = counts.class_names
    share = counts.pixels / counts.n_pixels if counts.n_pixels else np.zeros(counts.num_classes)
    width = _name_width(names, counts.num_classes)
    labels = counts.label_ids
    pad = "" if labels is None else " " * 12
    label_head = "" if labels is None else f"  {'label':>10}"
    header = f"{'class':>5}{label_head}  {'name':<{width}}{'pixels':>16}  {'share':>8}  {'images':>8}"
    volumes = counts.volumes
    if volumes is not None:
        header += f"  {f'volume ({counts.volume_unit})':>14}"
    if weights is not None:
        header += f"  {('weight (' + scheme + ')') if scheme else 'weight':>16}"
    interval = getattr(weights, "low", None) is not None
    if interval:
        header += f"  {f'{100 * weights.level:g} % interval':>20}"  # type: ignore[union-attr]
    rule = "-" * len(header)
    lines = [header, rule]
    for c in range(counts.num_classes):
        name = names[c] if c < len(names) else ""
        label = "" if labels is None else f"  {int(labels[c]):>10}"
        line = f"{c:>5}{label}  {name:<{width}}{int(counts.pixels[c]):>16,}"
        line += f"  {share[c]:>8.3%}  {int(counts.images[c]):>8,}"
        if volumes is not None:
            line += f"  {volumes[c]:>14.6g}"
        if weights is not None:
            line += f"  {weights[c]:>16.4f}"
        if interval:
            line += f"  {_interval(weights, c):>20}"  # type: ignore[arg-type]
        lines.append(line)
    lines.append(rule)
    counted = 1.0 if counts.n_pixels else 0.0
    lines.append(f"{'total':>5}{pad}  {'':<{width}}{counts.n_pixels:>16,}  {counted:>8.3%}  {counts.n_images:>8,}")
    lines.append(f"{'':>5}{pad}  {'ignored':<{width}}{counts.ignored:>16,}")
    lines.append(
        f"{counts.num_classes} classes, {counts.n_images:,} images, {counts.n_pixels:,} pixels counted, "
        f"{counts.ignored:,} ignored" + (f", {len(counts.errors)} skipped:" if counts.errors else "")
    )
    lines += [f"  skipped {name}: {reason}" for name, reason in counts.errors]
    lines += _volume_notes(counts)
    if counts.is_estimate:
        drawn = counts.params["estimate"]
        lines.append(
            f"An estimate: {drawn['sample']:,} of {drawn['population']:,} inputs ({drawn['share']:.1%}, seed "
            f"{drawn['seed']}); intervals by bootstrap over the sampled images"
        )
    return "\n".join(lines)


def _volume_notes(counts: Counts) -> list[str]:
    """What the voxel sizes are, and why there is no volume column when some images have one."""
    sizes = counts.voxel_sizes
    if not sizes:
        return []
    notes = [
        "Voxel sizes: "
        + "; ".join(f"{' x '.join(f'{length:g}' for length in size)} mm ({n:,} images)" for size, n in sizes.items())
    ]
    sized = sum(sizes.values())
    if counts.volumes is None and sized < counts.n_images:
        notes.append(
            f"No volumes: {counts.n_images - sized:,} of {counts.n_images:,} images have no physical size "
            "(PNG, .npy, arrays; NIfTI or TIFF of unknown unit)"
        )
    elif counts.volumes is None:
        notes.append("No volumes: 2-D and 3-D voxel sizes do not add into one unit")
    elif len(sizes) > 1:
        notes.append("Volumes account for each image's own voxel size")
    return notes


def format_weights(weights: np.ndarray, scheme: str, names: Sequence[str] = ()) -> str:
    """Class, name, weight[, the interval of an estimate's weight]."""
    width = _name_width(names, len(weights))
    header = f"{'class':>5}  {'name':<{width}}{'weight (' + scheme + ')':>16}"
    interval = getattr(weights, "low", None) is not None
    if interval:
        header += f"  {f'{100 * weights.level:g} % interval':>20}"  # type: ignore[attr-defined]
    lines = [header, "-" * len(header)]
    for c, weight in enumerate(weights):
        line = f"{c:>5}  {names[c] if c < len(names) else '':<{width}}{weight:>16.4f}"
        if interval:
            line += f"  {_interval(weights, c):>20}"
        lines.append(line)
    return "\n".join(lines)


def _interval(weights: np.ndarray, c: int) -> str:
    low, high = weights.low[c], weights.high[c]  # type: ignore[attr-defined]
    return "never seen" if np.isnan(low) else f"{low:.4f} - {high:.4f}"


def _name_width(names: Sequence[str], classes: int) -> int:
    return max([14, *(len(name) + 2 for name in names[:classes])])
