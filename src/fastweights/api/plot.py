"""A chart of class shares (log scale) with the weights beside them: matplotlib, an extra.

Up to MAX_BARS classes are drawn one bar each, in class order. More (a brain atlas has 1,600) are
drawn as the MAX_BARS - 1 largest, largest first, and one bar holding the share of all the others:
a bar per class would take matplotlib many seconds to lay out and nobody could read it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..base._optional import require
from ..model.counts import Counts

__all__ = ["MAX_BARS", "chart", "plot_counts"]

MAX_BARS = 40


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
    figure = chart(counts, weights, scheme, names, title)
    try:
        figure.savefig(os.fspath(path), dpi=120)
    finally:
        require("matplotlib.pyplot", "plot", "--plot").close(figure)


def chart(counts: Counts, weights: np.ndarray, scheme: str, names: Sequence[str] = (), title: str = "") -> Any:
    """The matplotlib Figure of `plot_counts`: shares on the left (log scale), weights on the right."""
    matplotlib = require("matplotlib", "plot", "--plot")
    matplotlib.use("Agg")  # files only: no display on a login node
    pyplot = require("matplotlib.pyplot", "plot", "--plot")
    ticker = require("matplotlib.ticker", "plot", "--plot")

    pixels = counts.pixels
    share = 100 * pixels / counts.n_pixels if counts.n_pixels else np.zeros(counts.num_classes)
    if counts.num_classes <= MAX_BARS:
        shown, rest = np.arange(counts.num_classes), np.zeros(0, np.int64)
    else:
        present = np.flatnonzero(pixels)
        largest = present[np.argsort(pixels[present], kind="stable")[::-1]]
        shown, rest = largest[: MAX_BARS - 1], np.sort(largest[MAX_BARS - 1 :])
    rows = np.arange(shown.size)
    labels = [f"{c} {names[c]}" if c < len(names) and names[c] else str(c) for c in shown.tolist()]
    shown_share = share[shown]
    if rest.size:
        rows = np.arange(shown.size + 1)
        labels.append(f"other {rest.size:,} classes")
        shown_share = np.append(shown_share, share[rest].sum())

    height = max(3.0, 0.32 * rows.size + 1.5)
    figure, (shares_axis, weights_axis) = pyplot.subplots(
        1, 2, sharey=True, figsize=(10, height), gridspec_kw={"width_ratios": [3, 2]}
    )
    drawn = shown_share > 0
    colours = ["#4c72b0"] * shown.size + ["#8c8c8c"] * (rows.size - shown.size)
    shares_axis.barh(rows[drawn], shown_share[drawn], color=np.array(colours)[drawn])
    shares_axis.set_xscale("log")
    shares_axis.set_xlabel("share of counted pixels, % (log scale)")
    shares_axis.set_yticks(rows, labels)
    shares_axis.invert_yaxis()  # the first row on top, as in the table
    for row in rows[drawn]:
        shares_axis.annotate(
            f"{shown_share[row]:.3g} %",
            (shown_share[row], row),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    shares_axis.set_xlim(right=shown_share[drawn].max() * 4 if drawn.any() else 1)
    shares_axis.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))

    shown_weights = weights[shown]
    weights_axis.barh(rows[: shown.size], shown_weights, color="#dd8452")
    weights_axis.set_xlabel(f"weight ({scheme})")
    for row, weight in enumerate(shown_weights):
        weights_axis.annotate(
            f"{weight:.3g}", (weight, row), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8
        )
    if rest.size:  # a sum of weights means nothing: their range instead
        low, high = float(weights[rest].min()), float(weights[rest].max())
        weights_axis.annotate(
            f"{low:.3g} - {high:.3g}",
            (0, shown.size),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    weights_axis.set_xlim(right=max(float(np.max(shown_weights, initial=0)), 1e-12) * 1.25)
    for axis in (shares_axis, weights_axis):
        axis.grid(axis="x", alpha=0.3)
    absent = int(np.count_nonzero(pixels == 0))
    subtitle = f"{counts.n_images:,} images, {counts.n_pixels:,} pixels"
    if absent:
        subtitle += f", {absent:,} classes absent"
    if counts.num_classes > MAX_BARS:
        subtitle += f"; the {shown.size} largest of {counts.num_classes:,} classes"
    figure.suptitle(f"{title or 'class shares'}: {scheme} weights\n{subtitle}", fontsize=11)
    figure.tight_layout()
    return figure
