"""The --plot chart: one bar per class up to MAX_BARS classes, and for an atlas of 1,600 the
largest classes and one bar of the rest (a bar per class took matplotlib some 20 seconds)."""

from __future__ import annotations

import numpy as np
import pytest

from fastweights import Counts

pyplot = pytest.importorskip("matplotlib.pyplot")

from fastweights.api.plot import MAX_BARS, chart  # noqa: E402  (after the skip: matplotlib is an extra)


def counts_of(pixels: np.ndarray) -> Counts:
    pixels = pixels.astype(np.uint64)
    images = (pixels > 0).astype(np.uint64)
    return Counts(pixels=pixels, images=images, image_pixels=pixels, n_images=1, n_pixels=int(pixels.sum()))


def bars(axis: object) -> list[tuple[float, float]]:
    """(row, length) of each horizontal bar."""
    return [(patch.get_y() + patch.get_height() / 2, patch.get_width()) for patch in axis.patches]


def test_an_atlas_shows_its_largest_classes_and_one_bar_of_the_rest() -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(1, 10**6, 1600)
    pixels[rng.choice(1600, 100, replace=False)] = 0  # absent classes
    counts = counts_of(pixels)
    weights = counts.weights("inverse")
    figure = chart(counts, weights, "inverse", title="atlas")
    shares, weighed = figure.axes
    assert len(shares.patches) == MAX_BARS and len(weighed.patches) == MAX_BARS - 1
    largest = np.argsort(pixels)[::-1][: MAX_BARS - 1]
    labels = [tick.get_text() for tick in shares.get_yticklabels()]
    assert labels[:-1] == [str(c) for c in largest] and labels[-1] == f"other {1500 - (MAX_BARS - 1):,} classes"
    share = 100 * pixels / pixels.sum()
    lengths = [length for _, length in sorted(bars(shares))]
    np.testing.assert_allclose(lengths[:-1], share[largest])
    np.testing.assert_allclose(lengths[-1], 100 - share[largest].sum())
    np.testing.assert_allclose([length for _, length in sorted(bars(weighed))], weights[largest])
    assert shares.get_xscale() == "log"
    assert "the 39 largest of 1,600 classes" in figure._suptitle.get_text()
    assert "100 classes absent" in figure._suptitle.get_text()
    pyplot.close(figure)


def test_a_few_classes_are_drawn_each_in_class_order() -> None:
    counts = counts_of(np.array([50, 0, 30, 20]))
    weights = counts.weights("inverse")
    figure = chart(counts, weights, "inverse", names=["sky", "", "road"])
    shares, weighed = figure.axes
    assert [tick.get_text() for tick in shares.get_yticklabels()] == ["0 sky", "1", "2 road", "3"]
    np.testing.assert_allclose(sorted(bars(shares)), [(0, 50), (2, 30), (3, 20)])  # none for the absent class
    np.testing.assert_allclose(sorted(bars(weighed)), list(enumerate(weights)))
    pyplot.close(figure)
