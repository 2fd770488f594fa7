"""The per-image table (images x classes pixel counts) kept by its non-zero cells.

A mask holds a handful of classes, so the table is almost all zeros, and its dense size is driven
by the largest label, not by the data: 300 masks holding only label 16,777,215 would make a
300 x 16,777,216 table (40 GB) of 300 non-zero cells. `PerImageTable` stores it as CSR (row
pointers, class ids, counts) and costs memory by its non-zero cells; every consumer (sampling
weights, the bootstrap of estimates, merging, JSON) works on that form without densifying.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["DENSE_LIMIT", "PerImageTable"]

# Most cells a dense copy of the table may have (512 MiB of uint64): `Counts.per_image` refuses to
# build a bigger one and points to the sparse form instead.
DENSE_LIMIT = 1 << 26


class PerImageTable:
    """An (n_images, num_classes) table of uint64 pixel counts in CSR form (canonical: no zero
    cells, class ids strictly increasing within each row, so equal tables have equal arrays).

    indptr   int64, n_images + 1: row i's cells are [indptr[i], indptr[i + 1])
    indices  int64: the class id of each cell
    data     uint64: the pixels of that class in that image (> 0)
    shape    (n_images, num_classes)
    """

    __slots__ = ("data", "indices", "indptr", "shape")

    def __init__(
        self, indptr: npt.ArrayLike, indices: npt.ArrayLike, data: npt.ArrayLike, shape: Sequence[int]
    ) -> None:
        n_images, num_classes = (int(size) for size in shape)
        indptr = _integers("indptr", indptr).astype(np.int64)
        indices = _integers("indices", indices)
        counts = _integers("data", data)
        if n_images < 0 or num_classes < 0:
            raise ValueError(f"per_image: shape {tuple(shape)} has a negative size")
        if indptr.size != n_images + 1 or indptr[0] != 0 or np.any(np.diff(indptr) < 0):
            raise ValueError(f"per_image: indptr must rise from 0 with one entry per image plus one ({n_images + 1})")
        if indices.size != counts.size or indptr[-1] != indices.size:
            raise ValueError(
                f"per_image: {indices.size} class ids and {counts.size} counts for {int(indptr[-1])} cells"
            )
        if indices.size and (indices.min() < 0 or indices.max() >= num_classes):
            raise ValueError(f"per_image: class ids must lie in [0, {num_classes})")
        if counts.size and counts.min() < 0:
            raise ValueError(f"per_image: counts cannot be negative (found {counts.min()})")
        rising = np.diff(indices) > 0
        starts = indptr[1:-1]
        rising[starts[(starts > 0) & (starts < indices.size)] - 1] = True  # a new row may start lower
        if not rising.all():
            raise ValueError("per_image: class ids must be distinct and increasing within each image")
        kept = counts > 0
        if not kept.all():
            indptr = np.take(np.concatenate([[0], np.cumsum(kept)]), indptr)
            indices, counts = indices[kept], counts[kept]
        self.indptr = indptr.astype(np.int64)
        self.indices = indices.astype(np.int64)
        self.data = counts.astype(np.uint64)
        self.shape = (n_images, num_classes)

    @classmethod
    def from_dense(cls, table: npt.ArrayLike, shape: Sequence[int] | None = None) -> PerImageTable:
        """The table of a dense (n_images, num_classes) array of non-negative integers."""
        array = np.asarray(table)
        if shape is not None and array.size == 0:
            array = array.reshape(tuple(shape))
        if array.ndim != 2 or array.dtype.kind not in "iu" or (shape is not None and array.shape != tuple(shape)):
            expected = "(n_images, num_classes)" if shape is None else tuple(shape)
            raise ValueError(
                f"per_image: expected {expected} non-negative integer counts, got {array.dtype} of shape {array.shape}"
            )
        if array.size and array.min() < 0:
            raise ValueError(f"per_image: counts cannot be negative (found {array.min()})")
        rows, classes = np.nonzero(array)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=array.shape[0]))])
        return cls(indptr, classes, array[rows, classes], array.shape)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[np.ndarray, np.ndarray]], num_classes: int) -> PerImageTable:
        """The table of one (class ids, pixels) pair per image, class ids increasing."""
        held = list(rows)
        lengths = np.array([classes.size for classes, _ in held], np.int64)
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        indices = np.concatenate([np.empty(0, np.int64), *(classes for classes, _ in held)])
        data = np.concatenate([np.empty(0, np.uint64), *(pixels for _, pixels in held)])
        return cls(indptr, indices, data, (len(held), num_classes))

    @classmethod
    def stack(cls, tables: Sequence[PerImageTable], num_classes: int) -> PerImageTable:
        """The rows of `tables`, one after the other, `num_classes` wide."""
        offsets = np.cumsum([0, *(table.nnz for table in tables)])
        indptr = np.concatenate([[0], *(table.indptr[1:] + offset for table, offset in zip(tables, offsets))])
        indices = np.concatenate([np.empty(0, np.int64), *(table.indices for table in tables)])
        data = np.concatenate([np.empty(0, np.uint64), *(table.data for table in tables)])
        return cls(indptr, indices, data, (sum(table.shape[0] for table in tables), num_classes))

    @property
    def nnz(self) -> int:
        return int(self.indices.size)

    def row_ids(self) -> np.ndarray:
        """The image (row) of each cell."""
        return np.repeat(np.arange(self.shape[0], dtype=np.int64), np.diff(self.indptr))

    def row(self, image: int) -> tuple[np.ndarray, np.ndarray]:
        """(class ids, pixels) of one image."""
        start, end = self.indptr[image], self.indptr[image + 1]
        return self.indices[start:end], self.data[start:end]

    def toarray(self) -> np.ndarray:
        """The dense (n_images, num_classes) uint64 array: as big as the shape says, whatever nnz is."""
        table = np.zeros(self.shape, np.uint64)
        table[self.row_ids(), self.indices] = self.data
        return table

    def to_scipy(self) -> Any:
        """A `scipy.sparse.csr_array` of the table (scipy is optional: imported here)."""
        from ..base._optional import require

        sparse = require("scipy.sparse", "sparse", "PerImageTable.to_scipy")
        return sparse.csr_array((self.data, self.indices, self.indptr), shape=self.shape)

    def to_json(self) -> dict[str, list[int]]:
        return {"indptr": self.indptr.tolist(), "indices": self.indices.tolist(), "data": self.data.tolist()}

    @classmethod
    def from_json(cls, value: Mapping[str, Any], shape: Sequence[int]) -> PerImageTable:
        return cls(
            np.array(value["indptr"], np.int64),
            np.array(value["indices"], np.int64),
            np.array(value["data"], np.uint64),
            shape,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PerImageTable):
            return NotImplemented
        return (
            self.shape == other.shape
            and np.array_equal(self.indptr, other.indptr)
            and np.array_equal(self.indices, other.indices)
            and np.array_equal(self.data, other.data)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PerImageTable({self.shape[0]} images x {self.shape[1]} classes, {self.nnz} non-zero cells)"


def _integers(name: str, values: npt.ArrayLike) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise ValueError(f"per_image: {name} must be a 1-D integer array, got {array.dtype} of shape {array.shape}")
    return array
