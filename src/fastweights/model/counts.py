"""`Counts`: exact per-class statistics of a set of masks; they add, save and load losslessly."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ..base._atomic import write_json
from .counts_checks import (
    check_consistent,
    checked_count,
    checked_counts_array,
    checked_label_ids,
    checked_names,
    checked_per_image,
    names_of_sum,
    same_voxels,
)
from .counts_file import STATISTIC_NAMES, decode, encode, read_json
from .counts_weights import WeightMethods
from .per_image import DENSE_LIMIT, PerImageTable
from .voxels import VoxelGroup, VoxelSize, add_groups, check_size, groups_from_json, groups_to_json, volumes_of

__all__ = ["Counts"]

Statistics = tuple[np.ndarray, np.ndarray, np.ndarray]  # pixels, images, image_pixels of some classes

# Settings that change what a count means: Counts made with different ones do not add.
_SETTINGS = ("num_classes", "ignore_index", "stack_axis", "colormap", "label_map", "reduce_zero_label")


class Counts(WeightMethods):
    """Per-class pixel statistics of a set of label masks.

    Made by `fastweights.count`, `Counts.load`, `Counts.from_dict` or `Counts.from_arrays`. Counts
    add (`a + b`, `sum([a, b])`) to exactly the Counts of one count over all their inputs.

    Parameters
    ----------
    pixels, images, image_pixels : array_like of non-negative integers
        One entry per class, as the attributes below.
    n_images, n_pixels : int
        Inputs and pixels counted.
    ignored : int, default 0
        Pixels equal to an ignore_index value.
    per_image : ndarray or PerImageTable, optional
        The (n_images, num_classes) table, dense or by its non-zero cells.
    sources : sequence of str, default ()
        The name of each counted input, in order.
    errors : sequence of (str, str), default ()
        (input, reason) of each input left out.
    params : mapping, optional
        The settings of the count.
    class_names : sequence of str, default ()
        The name of each class, by class id (`fastweights.model.class_names`).
    voxels : mapping of voxel size to VoxelGroup, optional
        {voxel size in mm: the images of that size and the pixels of each class in them}, for the
        images that have a physical size (`fastweights.model.voxels`).

    Raises
    ------
    ValueError
        Negative, non-integral or inconsistent statistics (e.g. a class in more images than
        were counted), or arrays of different lengths.
    TypeError
        A class name that is not a str.

    Attributes
    ----------
    pixels : ndarray of uint64
        pixels[c]: pixels of class c (ignored pixels excluded).
    images : ndarray of uint64
        images[c]: inputs (images or volumes) that contain class c.
    image_pixels : ndarray of uint64
        image_pixels[c]: total pixels of the inputs that contain class c (median frequency's
        denominator).
    n_images : int
        Inputs counted.
    n_pixels : int
        Pixels counted (ignored pixels excluded).
    ignored : int
        Pixels equal to an ignore_index value.
    sources : tuple of str
        The name of each counted input, in order.
    errors : list of (str, str)
        (input, reason) of each input left out with on_error="skip".
    params : dict
        The settings the count was made with, and the fastweights version.
    class_names : tuple of str
        The name of each class, by class id; it may be shorter than num_classes (the classes past
        its end have no name), or empty. Names label the classes only: they take no part in
        what a count means, and tables, CSV, charts and JSON exports show them.
    label_ids : ndarray of int64 or None
        With label_map="compact": the original label of each class (class k is label label_ids[k]);
        None otherwise.
    voxel_sizes : dict of tuple of float to int
        {voxel size (mm along each spatial axis, x first): images of that size}, of the images
        with a physical size (NIfTI, TIFF with resolution tags; docs/count.md).
    voxel_pixels : dict of tuple of float to ndarray of uint64
        {voxel size: pixels of each class in the images of that size}, exact.
    volumes : ndarray of float64 or None
        volumes[c]: the physical volume of class c in `volume_unit` (mm³; mm² for 2-D images),
        the sum over voxel sizes of pixels times voxel volume. None unless every image counted
        has a size and the sizes have the same number of axes.
    volume_unit : str or None
        "mm³" (or "mm²", "mm" for 2-D, 1-D sizes) when `volumes` is there.
    """

    def __init__(
        self,
        *,
        pixels: np.ndarray,
        images: np.ndarray,
        image_pixels: np.ndarray,
        n_images: int,
        n_pixels: int,
        ignored: int = 0,
        per_image: np.ndarray | PerImageTable | None = None,
        sources: Sequence[str] = (),
        errors: Sequence[tuple[str, str]] = (),
        params: Mapping[str, Any] | None = None,
        class_names: Sequence[str] = (),
        voxels: Mapping[VoxelSize, VoxelGroup] | None = None,
    ) -> None:
        dense_pixels = checked_counts_array("pixels", pixels)
        dense = (
            dense_pixels,
            checked_counts_array("images", images, len(dense_pixels)),
            checked_counts_array("image_pixels", image_pixels, len(dense_pixels)),
        )
        classes = np.flatnonzero(dense[0] | dense[1] | dense[2])
        self._setup(
            len(dense_pixels),
            classes,
            (dense[0][classes], dense[1][classes], dense[2][classes]),
            n_images,
            n_pixels,
            ignored,
            per_image,
            sources,
            errors,
            params,
            class_names,
            voxels,
        )

    @classmethod
    def _of_classes(
        cls,
        num_classes: int,
        classes: np.ndarray,
        values: tuple[np.ndarray, np.ndarray, np.ndarray],
        *,
        n_images: int,
        n_pixels: int,
        ignored: int = 0,
        per_image: np.ndarray | PerImageTable | None = None,
        sources: Sequence[str] = (),
        errors: Sequence[tuple[str, str]] = (),
        params: Mapping[str, Any] | None = None,
        class_names: Sequence[str] = (),
        label_ids: Any = None,
        voxels: Mapping[VoxelSize, VoxelGroup] | None = None,
    ) -> Counts:
        """Counts from the statistics of the classes present only (ascending `classes` and the
        pixels, images and image_pixels of each), without arrays of length num_classes;
        `label_ids`: the original label of each class, when they were renumbered ("compact")."""
        counts = cls.__new__(cls)
        counts._setup(
            num_classes,
            classes,
            values,
            n_images,
            n_pixels,
            ignored,
            per_image,
            sources,
            errors,
            params,
            class_names,
            voxels,
        )
        if label_ids is not None:
            counts.label_ids = checked_label_ids(label_ids, counts.num_classes)
        return counts

    def _setup(
        self,
        num_classes: int,
        classes: Any,
        values: tuple[Any, Any, Any],
        n_images: int,
        n_pixels: int,
        ignored: int,
        per_image: np.ndarray | PerImageTable | None,
        sources: Sequence[str],
        errors: Sequence[tuple[str, str]],
        params: Mapping[str, Any] | None,
        class_names: Sequence[str],
        voxels: Mapping[VoxelSize, VoxelGroup] | None = None,
    ) -> None:
        # The statistics are kept by the classes present: their memory follows the data, not the
        # largest label; the dense arrays are made when they are read.
        self._num_classes = checked_count("num_classes", num_classes)
        classes = np.asarray(classes)
        if classes.ndim != 1 or (classes.dtype.kind not in "iu" and classes.size):
            raise ValueError(f"classes: expected a 1-D array of class ids, got {classes.dtype} {classes.shape}")
        classes = classes.astype(np.int64)
        if classes.size and (classes[0] < 0 or classes[-1] >= self._num_classes or np.any(np.diff(classes) <= 0)):
            raise ValueError(f"classes: expected distinct increasing class ids in [0, {self._num_classes})")
        stats = [checked_counts_array(name, array, classes.size) for name, array in zip(STATISTIC_NAMES, values)]
        kept = (stats[0] | stats[1] | stats[2]) != 0
        if not kept.all():
            classes, stats = classes[kept], [array[kept] for array in stats]
        self._classes = classes
        self._stats = (stats[0], stats[1], stats[2])
        self._dense_stats: dict[str, np.ndarray] = {}
        self.n_images = checked_count("n_images", n_images)
        self.n_pixels = checked_count("n_pixels", n_pixels)
        self.ignored = checked_count("ignored", ignored)
        self._per_image = None if per_image is None else checked_per_image(per_image, self.n_images, self._num_classes)
        self._dense: np.ndarray | None = None
        self.sources = tuple(sources)
        self.errors = [(str(name), str(reason)) for name, reason in errors]
        self.params = dict(params or {})
        self.class_names = checked_names(class_names)
        self.label_ids: np.ndarray | None = None
        self._voxels = add_groups([{check_size(size): group for size, group in (voxels or {}).items()}])
        check_consistent(self)

    @property
    def num_classes(self) -> int:
        """The number of classes: the length of `pixels`."""
        return self._num_classes

    @property
    def pixels(self) -> np.ndarray:
        """pixels[c]: pixels of class c (ignored pixels excluded); read-only."""
        return self._dense_statistic(0)

    @property
    def images(self) -> np.ndarray:
        """images[c]: inputs (images or volumes) that contain class c; read-only."""
        return self._dense_statistic(1)

    @property
    def image_pixels(self) -> np.ndarray:
        """image_pixels[c]: total pixels of the inputs that contain class c; read-only."""
        return self._dense_statistic(2)

    def _statistics(self) -> tuple[np.ndarray, Statistics]:
        """The classes present (ascending int64 ids) and their pixels, images and image_pixels,
        read-only: the statistics without arrays of num_classes entries."""
        views = [array.view() for array in (self._classes, *self._stats)]
        for view in views:
            view.flags.writeable = False
        return views[0], (views[1], views[2], views[3])

    def _dense_statistic(self, which: int) -> np.ndarray:
        name = STATISTIC_NAMES[which]
        dense = self._dense_stats.get(name)
        if dense is None:
            dense = np.zeros(self._num_classes, np.uint64)
            dense[self._classes] = self._stats[which]
            dense.flags.writeable = False
            self._dense_stats[name] = dense
        return dense

    @property
    def voxel_sizes(self) -> dict[VoxelSize, int]:
        """{voxel size (mm along each spatial axis, x first): images of that size}, ascending;
        images without a physical size are not in it."""
        return {size: group.images for size, group in self._voxels.items()}

    @property
    def voxel_pixels(self) -> dict[VoxelSize, np.ndarray]:
        """{voxel size: pixels of each class (num_classes entries) in the images of that size}."""
        tables = {}
        for size, group in self._voxels.items():
            table = np.zeros(self._num_classes, np.uint64)
            table[group.classes] = group.pixels
            tables[size] = table
        return tables

    @property
    def volumes(self) -> np.ndarray | None:
        """Each class's physical volume in `volume_unit`: the sum over voxel sizes of its pixels
        times that size's voxel volume. None unless every image has a physical size (PNG, .npy
        and arrays have none) and the sizes have the same number of axes."""
        return volumes_of(self._voxels, self.n_images, self._num_classes)

    @property
    def volume_unit(self) -> str | None:
        """The unit of `volumes`: "mm³" for volumes, "mm²" for 2-D images; None without volumes."""
        if self.volumes is None:
            return None
        return "mm" + {1: "", 2: "²", 3: "³"}[len(next(iter(self._voxels)))]

    @property
    def per_image_sparse(self) -> PerImageTable | None:
        """The per-image table by its non-zero cells, whatever its size.

        Returns
        -------
        PerImageTable or None
            CSR `indptr`, `indices`, `data` (`.to_scipy()`, `.toarray()`); None without
            per_image=True. Its memory is its non-zero cells', whatever the labels.
        """
        return self._per_image

    @property
    def per_image(self) -> np.ndarray | None:
        """The per-image table, dense.

        Returns
        -------
        ndarray of uint64 or None
            The (n_images, num_classes) table, read-only, aligned with `sources`; None without
            per_image=True.

        Raises
        ------
        ValueError
            The table has more than DENSE_LIMIT (2**26) cells: its dense size comes from the
            largest label, not from the data; use `per_image_sparse`.
        """
        if self._per_image is None:
            return None
        if self._dense is None:
            n_images, num_classes = self._per_image.shape
            if n_images * num_classes > DENSE_LIMIT:
                raise ValueError(
                    f"per_image: a dense {n_images:,} x {num_classes:,} table would take "
                    f"{n_images * num_classes * 8 / 2**30:,.1f} GiB for {self._per_image.nnz:,} non-zero cells "
                    f"(more than {DENSE_LIMIT:,} cells); use counts.per_image_sparse "
                    "(CSR indptr, indices, data, or .to_scipy())"
                )
            self._dense = self._per_image.toarray()
            self._dense.flags.writeable = False
        return self._dense

    @classmethod
    def from_arrays(
        cls,
        *,
        pixels: Any,
        images: Any = None,
        image_pixels: Any = None,
        n_images: int | None = None,
        ignored: int = 0,
        class_names: Sequence[str] = (),
    ) -> Counts:
        """Counts from statistics obtained elsewhere (a paper, another tool).

        Parameters
        ----------
        pixels : array_like of non-negative integers
            Pixels of each class.
        images : array_like, optional
            Images containing each class; default 1 for every class present.
        image_pixels : array_like, optional
            Total pixels of the images containing each class; default n_pixels for every class
            present (as if every image held every class), which makes `median` the same as
            `inverse` up to scale: pass the real image_pixels for median-frequency weights.
        n_images : int, optional
            Images counted; default the largest of `images`.
        ignored : int, default 0
            Ignored pixels.
        class_names : sequence of str, default ()
            The name of each class, by class id.

        Returns
        -------
        Counts
            With params num_classes (the length of `pixels`), no ignore_index and no stack_axis.

        Raises
        ------
        ValueError
            Negative, non-integral or inconsistent statistics, or arrays of different lengths.
        """
        pixels = checked_counts_array("pixels", pixels)
        present = (pixels > 0).astype(np.uint64)
        n_pixels = int(pixels.sum(dtype=np.uint64))
        images = present if images is None else checked_counts_array("images", images, len(pixels))
        if n_images is None:
            n_images = int(images.max()) if images.size else 0
        if image_pixels is None:
            image_pixels = present * np.uint64(n_pixels)
        return cls(
            pixels=pixels,
            images=images,
            image_pixels=image_pixels,
            n_images=n_images,
            n_pixels=n_pixels,
            ignored=ignored,
            params={"num_classes": len(pixels), "ignore_index": [], "stack_axis": None},
            class_names=class_names,
        )

    # -- label ids -----------------------------------------------------------------------------

    def compacted(self) -> Counts:
        """The Counts of the classes present only, renumbered 0..K-1 in ascending order of their
        labels (what label_map="compact" gives); `label_ids` holds the label of each.

        Returns
        -------
        Counts
            Same statistics, per-image table and params; num_classes is K.
        """
        ids = self._classes if self.label_ids is None else self.label_ids[self._classes]
        size = int(self._classes.size)
        table = None
        if self._per_image is not None:
            columns = np.searchsorted(self._classes, self._per_image.indices)  # every cell's class is present
            table = PerImageTable(self._per_image.indptr, columns, self._per_image.data, (self.n_images, size))
        return Counts._of_classes(
            size,
            np.arange(size, dtype=np.int64),
            self._stats,
            n_images=self.n_images,
            n_pixels=self.n_pixels,
            ignored=self.ignored,
            per_image=table,
            sources=self.sources,
            errors=self.errors,
            params=self.params,
            class_names=self.class_names,
            label_ids=ids,
            voxels={
                size: replace(group, classes=np.searchsorted(self._classes, group.classes))
                for size, group in self._voxels.items()
            },
        )

    def _by_label(self) -> Counts:
        """Compacted Counts back in the space of their labels (class = label id)."""
        if self.label_ids is None:
            return self
        ids = self.label_ids
        table = None
        size = int(ids[-1]) + 1 if ids.size else 0
        if self._per_image is not None:
            table = PerImageTable(
                self._per_image.indptr, ids[self._per_image.indices], self._per_image.data, (self.n_images, size)
            )
        return Counts._of_classes(
            size,
            ids[self._classes],
            self._stats,
            n_images=self.n_images,
            n_pixels=self.n_pixels,
            ignored=self.ignored,
            per_image=table,
            sources=self.sources,
            errors=self.errors,
            params=self.params,
            voxels={size: replace(group, classes=ids[group.classes]) for size, group in self._voxels.items()},
        )

    # -- arithmetic ----------------------------------------------------------------------------

    def __add__(self, other: object) -> Counts:
        if not isinstance(other, Counts):
            return NotImplemented
        for key in _SETTINGS:
            mine, theirs = self.params.get(key), other.params.get(key)
            if mine != theirs:
                raise ValueError(f"cannot add Counts made with different {key}: {mine!r} and {theirs!r}")
        if (self.label_ids is None) != (other.label_ids is None):
            raise ValueError("cannot add Counts whose classes were renumbered (label_ids) to Counts whose were not")
        if self.label_ids is not None:  # class k of one is not class k of the other: added by label
            total = (self._by_label() + other._by_label()).compacted()
            # the names of class k keep their meaning only when both numbered their labels alike
            if other.label_ids is not None and np.array_equal(self.label_ids, other.label_ids):
                total.class_names = names_of_sum(self.class_names, other.class_names)
            return total
        size = max(self.num_classes, other.num_classes)
        per_image = None
        if self._per_image is not None and other._per_image is not None:
            per_image = PerImageTable.stack([self._per_image, other._per_image], size)
        classes, sums = sum_statistics([self._statistics(), other._statistics()])
        return Counts._of_classes(
            size,
            classes,
            sums,
            n_images=self.n_images + other.n_images,
            n_pixels=self.n_pixels + other.n_pixels,
            ignored=self.ignored + other.ignored,
            per_image=per_image,
            sources=self.sources + other.sources,
            errors=self.errors + other.errors,
            params=self.params,
            class_names=names_of_sum(self.class_names, other.class_names),
            voxels=add_groups([self._voxels, other._voxels]),
        )

    def __radd__(self, other: object) -> Counts:
        if isinstance(other, int) and other == 0:  # sum() starts from 0
            return self
        return NotImplemented

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Counts):
            return NotImplemented
        same_table = (
            self._per_image is None
            if other._per_image is None
            else self._per_image is not None and self._per_image == other._per_image
        )
        return (
            self.num_classes == other.num_classes
            and np.array_equal(self._classes, other._classes)
            and all(np.array_equal(own, their) for own, their in zip(self._stats, other._stats))
            and (self.n_images, self.n_pixels, self.ignored) == (other.n_images, other.n_pixels, other.ignored)
            and same_table
            and self.sources == other.sources
            and self.errors == other.errors
            and (
                other.label_ids is None
                if self.label_ids is None
                else other.label_ids is not None and np.array_equal(self.label_ids, other.label_ids)
            )
            and same_voxels(self._voxels, other._voxels)
            and all(self.params.get(key) == other.params.get(key) for key in _SETTINGS)
            and self.class_names == other.class_names
        )

    __hash__ = None  # type: ignore[assignment]

    def __getstate__(self) -> dict[str, Any]:
        # The dense views are caches: a pickled Counts (Dask, MPI) travels in its compact form only.
        return {**self.__dict__, "_dense": None, "_dense_stats": {}}

    # -- files ---------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The Counts as plain JSON types, the content of the file `save` writes.

        Returns
        -------
        dict
            format, format_version, the statistics as lists of exact integers, per_image (CSR, or
            None), sources, errors, params and class_names. The statistics are lists of num_classes entries
            (format_version 2), or, when fewer than half of at least 4096 classes are present,
            lists over the classes present, which "classes" names (format_version 3); with
            `label_ids` (label_map="compact"), format_version 4 and either layout.
            With images of a physical size, "voxels" lists each size's images and pixels per
            class, and "volumes" and "volume_unit" the volumes they make (derived: not read back).
        """
        sized: dict[str, Any] = {}
        if self._voxels:
            sized["voxels"] = groups_to_json(self._voxels)
            volumes = self.volumes
            if volumes is not None:
                sized["volumes"], sized["volume_unit"] = volumes.tolist(), self.volume_unit
        return {
            **encode(self.num_classes, self._classes, self._stats, self.label_ids),
            "n_images": self.n_images,
            "n_pixels": self.n_pixels,
            "ignored": self.ignored,
            "per_image": None if self._per_image is None else self._per_image.to_json(),
            "sources": list(self.sources),
            "errors": [list(error) for error in self.errors],
            "params": self.params,
            "class_names": list(self.class_names),
            **sized,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], origin: str = "counts") -> Counts:
        """The Counts of a `to_dict` mapping (format versions 1 to 4; files written before class
        names were saved load with none).

        Parameters
        ----------
        data : mapping
            As `to_dict` returns it, or as read from a Counts JSON file.
        origin : str, default "counts"
            Where `data` came from, for the error messages (e.g. the file's path).

        Returns
        -------
        Counts

        Raises
        ------
        ValueError
            Not a fastweights Counts mapping, a format version this fastweights does not read, or
            damaged content (missing keys, wrong types, inconsistent statistics).
        """
        try:
            num_classes, classes, values, table, label_ids = decode(data, origin)
            return cls._of_classes(
                num_classes,
                classes,
                values,
                n_images=data["n_images"],
                n_pixels=data["n_pixels"],
                ignored=data["ignored"],
                per_image=table,
                sources=data.get("sources", ()),
                errors=[tuple(error) for error in data.get("errors", ())],
                params=data.get("params", {}),
                class_names=data.get("class_names", ()),
                label_ids=label_ids,
                voxels=groups_from_json(data.get("voxels", [])),
            )
        except (KeyError, TypeError, ValueError, OverflowError) as error:
            if str(error).startswith(origin):  # decode's own message: the format is not ours
                raise
            raise ValueError(f"{origin}: damaged Counts file ({error!r})") from error

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the Counts as JSON with exact integers, atomically (a reader never sees half a file).

        Parameters
        ----------
        path : str or os.PathLike
            The file to write (replaced if it exists); `Counts.load` reads it back.

        Raises
        ------
        OSError
            The file cannot be written.
        """
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Counts:
        """Reads the Counts a `save` wrote.

        Parameters
        ----------
        path : str or os.PathLike
            A Counts JSON file.

        Returns
        -------
        Counts
            Equal to the saved Counts.

        Raises
        ------
        FileNotFoundError, OSError
            The file cannot be read.
        ValueError
            Not JSON, not a fastweights Counts file, a format version this fastweights does not
            read, or damaged content.
        """
        path = os.fspath(path)
        return cls.from_dict(read_json(path), path)

    def __repr__(self) -> str:
        shown = min(self.num_classes, 20)
        first = self._classes < shown
        pixels, images = np.zeros(shown, np.uint64), np.zeros(shown, np.uint64)
        pixels[self._classes[first]] = self._stats[0][first]
        images[self._classes[first]] = self._stats[1][first]
        share = pixels / self.n_pixels if self.n_pixels else np.zeros(shown)
        lines = [
            f"Counts({self.num_classes} classes, {self.n_images:,} images, {self.n_pixels:,} pixels, "
            f"{self.ignored:,} ignored{f', {len(self.errors)} skipped' if self.errors else ''})"
        ]
        if shown:
            names = [self.class_names[c] if c < len(self.class_names) else "" for c in range(shown)]
            width = max(len(name) for name in names)
            name = f"  {'name':<{width}}" if width else ""
            lines.append(f"  {'class':>5}{name}  {'pixels':>16}  {'share':>8}  {'images':>8}")
            for c in range(shown):
                name = f"  {names[c]:<{width}}" if width else ""
                lines.append(f"  {c:>5}{name}  {int(pixels[c]):>16,}  {share[c]:>8.2%}  {int(images[c]):>8,}")
            if self.num_classes > shown:
                lines.append(f"  ... {self.num_classes - shown} more classes")
        return "\n".join(lines)


def sum_statistics(parts: Sequence[tuple[np.ndarray, Statistics]]) -> tuple[np.ndarray, Statistics]:
    """The exact sums of several `Counts._statistics()`, over the union of their classes."""
    classes = np.unique(np.concatenate([np.zeros(0, np.int64), *(part[0] for part in parts)]))
    sums = (np.zeros(classes.size, np.uint64), np.zeros(classes.size, np.uint64), np.zeros(classes.size, np.uint64))
    for present, values in parts:
        where = np.searchsorted(classes, present)  # distinct within a part: a plain indexed add is exact
        for total, value in zip(sums, values):
            total[where] += value
    return classes, sums
