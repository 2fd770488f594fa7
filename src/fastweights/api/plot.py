"""A chart of class shares (log scale) with the weights beside them: matplotlib, an extra."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from ..base._optional import require
from ..model.counts import Counts

__all__ = ["plot_counts"]


def plot_counts(
    path: str | os.PathLike[str],
    counts: Counts,
    weights: np.ndarray,
    scheme: str,
    names: Sequence[str] | None = None,
    title: str = "",
) -> None:
    """Writes the chart to `path` (its suffix picks the format: .png, .svg, .pdf); the classes are
    labelled with `names` (default: `counts.class_names`)."""
    if names is None:
        names = counts.class_names
    matplotlib = require("matplotlib", "plot", "--plot")
    matplotlib.use("Agg")  # files only: no display on a login node
    pyplot = require("matplotlib.pyplot", "plot", "--plot")

    classes = np.arange(counts.num_classes)
    labels = [f"{c} {names[c]}" if c < len(names) and names[c] else str(c) for c in range(counts.num_classes)]
    share = 100 * counts.pixels / counts.n_pixels if counts.n_pixels else np.zeros(counts.num_classes)
    height = max(3.0, 0.32 * counts.num_classes + 1.5)
    figure, (shares_axis, weights_axis) = pyplot.subplots(
        1, 2, sharey=True, figsize=(10, height), gridspec_kw={"width_ratios": [3, 2]}
    )
    present = share > 0
    shares_axis.barh(classes[present], share[present], color="#4c72b0")
    shares_axis.set_xscale("log")
    shares_axis.set_xlabel("share of counted pixels, % (log scale)")
    shares_axis.set_yticks(classes, labels)
    shares_axis.invert_yaxis()  # class 0 on top, as in the table
    for c in classes[present]:
        shares_axis.annotate(
            f"{share[c]:.3g} %", (share[c], c), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8
        )
    shares_axis.set_xlim(right=share[present].max() * 4 if present.any() else 1)
    ticker = require("matplotlib.ticker", "plot", "--plot")
    shares_axis.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))

    weights_axis.barh(classes, weights, color="#dd8452")
    weights_axis.set_xlabel(f"weight ({scheme})")
    for c in classes:
        weights_axis.annotate(
            f"{weights[c]:.3g}", (weights[c], c), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8
        )
    weights_axis.set_xlim(right=max(float(np.max(weights, initial=0)), 1e-12) * 1.25)
    for axis in (shares_axis, weights_axis):
        axis.grid(axis="x", alpha=0.3)
    absent = int((~present).sum())
    subtitle = f"{counts.n_images:,} images, {counts.n_pixels:,} pixels"
    if absent:
        subtitle += f", {absent} classes absent"
    figure.suptitle(f"{title or 'class shares'}: {scheme} weights\n{subtitle}", fontsize=11)
    figure.tight_layout()
    figure.savefig(os.fspath(path), dpi=120)
    pyplot.close(figure)
