"""The per-image table costs memory by its non-zero cells, not by the largest label: counting,
sampling weights, estimates, addition and JSON all work on its sparse (CSR) form."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from helpers import counts_of_table
from hypothesis import given, settings
from hypothesis import strategies as st

import fastweights
from fastweights import Counts
from fastweights.model import counts as counts_module
from fastweights.model.estimate import estimated_weights
from fastweights.model.sampling import sample_weights
from fastweights.model.weights import class_weights
from fastweights.per_image import PerImageTable

HUGE_LABEL = 16_777_215  # the largest class id count() takes

# 300 tiny masks whose only non-zero label is HUGE_LABEL (in one image of three): a dense table
# would be 300 x 16,777,216 uint64 (40 GB). Run under a 3 GB address-space limit.
BOUNDED_SCRIPT = textwrap.dedent(
    """
    import resource, sys
    limit = 3 << 30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from pathlib import Path
    import numpy as np
    import fastweights

    folder = Path(sys.argv[1])
    for i in range(300):
        mask = np.zeros((4, 4), np.int32)
        mask[0, : 1 + i % 4] = {huge} if i % 3 == 0 else 0
        np.save(folder / f"{{i:03d}}.npy", mask)
    one = fastweights.count(folder, per_image=True, threads=1)
    two = fastweights.count(folder, per_image=True, threads=2)
    assert one == two
    table = one.per_image_sparse
    assert table.shape == (300, {huge} + 1) and table.nnz == 400, table
    holders = np.arange(0, 300, 3)
    assert np.array_equal(table.indptr, np.concatenate([[0], np.cumsum(1 + (np.arange(300) % 3 == 0))]))
    rows = [table.row(i) for i in range(300)]
    for i, (classes, pixels) in enumerate(rows):
        if i % 3:
            assert classes.tolist() == [0] and pixels.tolist() == [16]
        else:
            assert classes.tolist() == [0, {huge}] and pixels.tolist() == [15 - i % 4, 1 + i % 4]
    assert int(one.pixels[{huge}]) == sum(1 + i % 4 for i in holders)
    try:
        one.per_image
    except ValueError as error:
        assert "per_image_sparse" in str(error), error
    else:
        raise AssertionError("a 40 GB dense table was built")
    weights = one.sample_weights("repeat_factor", t=0.5)  # f = 1/3 for the huge class
    expected = np.where(np.arange(300) % 3 == 0, np.sqrt(1.5), 1.0)
    assert np.array_equal(weights, expected), weights
    rare = one.sample_weights("rare_class")
    assert np.isclose(rare.sum(), 1.0) and (rare[holders] > rare[1]).all()
    both = one + two
    assert both.per_image_sparse.nnz == 800 and both.n_images == 600
    assert np.array_equal(both.sample_weights("repeat_factor", t=0.5), np.concatenate([expected, expected]))
    print("ok")
    """
).format(huge=HUGE_LABEL)


def test_a_huge_label_in_few_masks_costs_memory_by_the_cells_not_the_label(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", BOUNDED_SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "ok"


# ---- the sparse form against a dense numpy oracle ----------------------------------------------


def dense_sample_weights(table: np.ndarray, scheme: str, t: float = 0.001, temperature: float = 0.01) -> np.ndarray:
    """The sampling weights computed on the dense table, as published (LVIS; DAFormer)."""
    holds = table >= 1
    if scheme == "repeat_factor":
        share = holds.mean(axis=0)
        with np.errstate(divide="ignore"):
            factor = np.where(share > 0, np.maximum(1.0, np.sqrt(t / share)), 1.0)
        return np.where(holds, factor, 1.0).max(axis=1)
    pixels = table.sum(axis=0, dtype=np.float64)
    images = holds.sum(axis=0)
    frequency = pixels / pixels.sum()
    logits = np.where(images > 0, (1.0 - frequency) / temperature, -np.inf)
    chance = np.exp(logits - logits.max())
    chance /= chance.sum()
    return holds @ np.divide(chance, images, out=np.zeros_like(chance), where=images > 0)


def dense_estimate_bounds(table: np.ndarray, scheme: str, resamples: int) -> tuple[np.ndarray, np.ndarray]:
    """The bootstrap interval computed on the dense table (same draws: same seed)."""
    dense = table.astype(np.float64)
    n_images, n_classes = dense.shape
    draws = np.random.default_rng(0).multinomial(n_images, np.full(n_images, 1.0 / n_images), size=resamples)
    pixels = draws @ dense
    image_pixels = draws @ ((dense > 0) * dense.sum(axis=1)[:, None])
    samples = np.full((resamples, n_classes), np.nan)
    for index in range(resamples):
        present = pixels[index] > 0
        value = class_weights(pixels[index], image_pixels[index], scheme)
        samples[index, present] = value[present]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanquantile(samples, 0.025, axis=0), np.nanquantile(samples, 0.975, axis=0)


cell = st.one_of(st.just(0), st.just(0), st.integers(1, 50), st.integers(2**40, 2**50))
tables = st.integers(1, 9).flatmap(
    lambda images: st.integers(1, 7).flatmap(
        lambda classes: st.lists(
            st.lists(cell, min_size=classes, max_size=classes), min_size=images, max_size=images
        ).map(lambda rows: np.array(rows, np.uint64))
    )
)


@settings(max_examples=60, deadline=None)
@given(tables)
def test_the_sparse_table_holds_exactly_the_dense_one(table: np.ndarray) -> None:
    sparse = PerImageTable.from_dense(table)
    assert sparse.nnz == np.count_nonzero(table)
    assert np.array_equal(sparse.toarray(), table) and sparse.toarray().dtype == np.uint64
    counts = counts_of_table(table)
    assert np.array_equal(counts.per_image, table) and counts.per_image_sparse == sparse
    assert Counts.from_dict(json.loads(json.dumps(counts.to_dict()))) == counts
    assert np.array_equal(sparse.to_scipy().toarray(), table)


@settings(max_examples=60, deadline=None)
@given(tables, st.sampled_from([0.001, 0.2, 0.9]))
def test_sampling_weights_from_the_sparse_table_equal_the_dense_computation(table: np.ndarray, t: float) -> None:
    counts = counts_of_table(table)
    assert np.array_equal(counts.sample_weights("repeat_factor", t=t), dense_sample_weights(table, "repeat_factor", t))
    assert np.array_equal(sample_weights(table, "repeat_factor", t=t), dense_sample_weights(table, "repeat_factor", t))
    if table.any():
        np.testing.assert_allclose(
            counts.sample_weights("rare_class"), dense_sample_weights(table, "rare_class"), rtol=1e-12, atol=0
        )


@settings(max_examples=40, deadline=None)
@given(tables, tables)
def test_adding_counts_stacks_their_tables_exactly(left: np.ndarray, right: np.ndarray) -> None:
    width = max(left.shape[1], right.shape[1])
    expected = np.vstack([np.pad(part, ((0, 0), (0, width - part.shape[1]))) for part in (left, right)])
    total = counts_of_table(left) + counts_of_table(right)
    assert np.array_equal(total.per_image, expected)
    assert total.per_image_sparse == PerImageTable.from_dense(expected)
    assert total == counts_of_table(expected)
    assert np.array_equal(
        total.sample_weights("repeat_factor", t=0.5), dense_sample_weights(expected, "repeat_factor", 0.5)
    )


@settings(max_examples=15, deadline=None)
@given(tables, st.sampled_from(["median", "inverse", "balanced"]))
def test_bootstrap_intervals_from_the_sparse_table_equal_the_dense_computation(table: np.ndarray, scheme: str) -> None:
    table = np.vstack([table, np.ones((1, table.shape[1]), np.uint64)])  # every class seen: no warning
    sparse = PerImageTable.from_dense(table)
    values = np.ones(table.shape[1])
    got = estimated_weights(sparse, values, scheme, {}, resamples=50)
    low, high = dense_estimate_bounds(table, scheme, 50)
    np.testing.assert_allclose(got.low, low, rtol=1e-12)
    np.testing.assert_allclose(got.high, high, rtol=1e-12)


# ---- the API around it ---------------------------------------------------------------------------


def test_version_1_files_with_a_dense_table_still_load(tmp_path: Path) -> None:
    masks = [np.array([[0, 2], [2, 1]], np.uint8), np.array([[3, 3], [0, 0]], np.uint8)]
    counts = fastweights.count(masks, per_image=True)
    data = counts.to_dict()
    assert data["format_version"] == 2 and set(data["per_image"]) == {"indptr", "indices", "data"}
    data["format_version"] = 1
    data["per_image"] = [[1, 1, 2, 0], [2, 0, 0, 2]]
    (tmp_path / "old.json").write_text(json.dumps(data))
    loaded = Counts.load(tmp_path / "old.json")
    assert loaded == counts and loaded.per_image.tolist() == [[1, 1, 2, 0], [2, 0, 0, 2]]
    data["per_image"] = {"indptr": [0, 3], "indices": [0, 1, 2], "data": [1, 1, 2]}  # one row for two images
    data["format_version"] = 2
    (tmp_path / "damaged.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"damaged\.json: damaged Counts file.*indptr"):
        Counts.load(tmp_path / "damaged.json")


def test_threads_give_the_same_table_over_a_sparse_id_space() -> None:
    rng = np.random.default_rng(5)
    ids = np.array([0, 7, 70_000, 1_000_003, HUGE_LABEL], np.int32)
    masks = [ids[rng.integers(0, ids.size, (rng.integers(1, 40), 9))] for _ in range(120)]
    one = fastweights.count(masks, per_image=True, threads=1)
    two = fastweights.count(masks, per_image=True, threads=2)
    assert one == two and one.per_image_sparse == two.per_image_sparse
    for index, mask in enumerate(masks):
        classes, pixels = one.per_image_sparse.row(index)
        expected, counted = np.unique(mask, return_counts=True)
        assert classes.tolist() == expected.tolist() and pixels.tolist() == counted.tolist()


def test_the_dense_view_is_read_only_and_refused_past_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    counts = counts_of_table(np.array([[1, 0, 2], [0, 0, 5]], np.uint64))
    with pytest.raises(ValueError, match="read-only"):
        counts.per_image[0, 0] = 7
    monkeypatch.setattr(counts_module, "DENSE_LIMIT", 5)
    fresh = counts_of_table(np.array([[1, 0, 2], [0, 0, 5]], np.uint64))
    with pytest.raises(ValueError, match=r"dense 2 x 3 table .* 3 non-zero cells .* counts\.per_image_sparse"):
        fresh.per_image  # noqa: B018
    assert fresh.sample_weights("repeat_factor", t=1.0).tolist() == [np.sqrt(2), 1.0]


def test_malformed_sparse_tables_are_refused() -> None:
    with pytest.raises(ValueError, match="increasing within each image"):
        PerImageTable([0, 2], [3, 1], [1, 1], (1, 4))
    with pytest.raises(ValueError, match="increasing within each image"):
        PerImageTable([0, 2], [1, 1], [1, 1], (1, 4))
    with pytest.raises(ValueError, match=r"class ids must lie in \[0, 4\)"):
        PerImageTable([0, 1], [4], [1], (1, 4))
    with pytest.raises(ValueError, match="indptr"):
        PerImageTable([0, 2, 1], [0, 1], [1, 1], (2, 4))
    with pytest.raises(ValueError, match="negative"):
        PerImageTable([0, 1], [0], [-1], (1, 4))
    with pytest.raises(ValueError, match=r"expected a \(2, 4\) table"):
        Counts(
            pixels=[1, 0, 0, 0],
            images=[1, 0, 0, 0],
            image_pixels=[1, 0, 0, 0],
            n_images=2,
            n_pixels=1,
            per_image=PerImageTable([0, 1], [0], [1], (1, 4)),
        )


def test_zero_cells_are_dropped_so_equal_tables_compare_equal() -> None:
    given_zeros = PerImageTable([0, 3, 3, 4], [0, 2, 3, 1], [5, 0, 2, 0], (3, 4))
    assert given_zeros == PerImageTable.from_dense([[5, 0, 0, 2], [0, 0, 0, 0], [0, 0, 0, 0]])
    assert given_zeros.indptr.tolist() == [0, 2, 2, 2] and given_zeros.nnz == 2


def test_a_pickled_counts_leaves_its_dense_view_behind() -> None:
    counts = counts_of_table(np.array([[1, 0, 2], [0, 0, 5]], np.uint64))
    dense = counts.per_image
    assert counts.__getstate__()["_dense"] is None and counts.__dict__["_dense"] is dense
    restored = pickle.loads(pickle.dumps(counts))
    assert restored == counts and restored.__dict__["_dense"] is None
    assert np.array_equal(restored.per_image, dense)
