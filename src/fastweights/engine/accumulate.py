"""The sum of a count: per-image counts added as they arrive, in any order, into the Counts."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from typing import Any

import numpy as np

from ..base._version import __version__
from ..model.counts import Counts
from ..model.per_image import PerImageTable
from ..model.voxels import VoxelGroup, VoxelSize, add_groups, groups_from_json, groups_to_json
from .classify import BatchCount, Failed, ImageCount, Result, Skipped
from .progress import Reporter
from .settings import Settings

__all__ = ["Accumulator"]


class Accumulator:
    """Sums per-image counts as they arrive, in any order; keeps the per-input order of names
    (and rows, with per_image) so the result does not depend on which thread finished first.
    Its state saves to JSON (exact integers) and restores, for checkpoints.
    The sums are kept by the classes met (ascending `classes`, and the pixels, images and
    image_pixels of each), so that their memory follows the data, not the largest label."""

    def __init__(self, num_classes: int, per_image: bool, n_inputs: int | None, report: Reporter | None = None) -> None:
        self.num_classes = num_classes  # grows past the largest label met
        self.classes = np.zeros(0, np.int64)
        self.pixels = np.zeros(0, np.uint64)
        self.images = np.zeros(0, np.uint64)
        self.image_pixels = np.zeros(0, np.uint64)
        # entries of classes not met yet: (classes, pixels, images, image_pixels), merged by _merge
        self.pending: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.pending_size = 0
        self.n_pixels = 0
        self.ignored = 0
        # voxel size -> the pixels per class of the images of that size, summed a group at a time
        self.voxels: dict[VoxelSize, list[VoxelGroup]] = {}
        self.inputs: dict[int, str] = {}  # position -> input name, of the inputs counted
        self.names: dict[int, list[str]] = {}  # position -> names of its images
        # The inputs of batches (one image each), as their positions and names came: an entry each
        # in inputs and names cost a tenth of a count of tiny files. Folded in for a checkpoint.
        self.batched: list[tuple[list[int], list[str]]] = []
        self.n_batched = 0
        self.rows: dict[int, list[tuple[np.ndarray, np.ndarray]]] | None = {} if per_image else None
        self.skipped: dict[int, Skipped] = {}
        # position -> (size, mtime_ns) of a file input, (size, "etag:...") of an object
        self.stamps: dict[int, tuple[int, int | str]] = {}
        self.restored: dict[str, dict[str, Any]] = {}  # input name -> its part of a checkpoint
        self.n_inputs = n_inputs
        self.report = report

    def take(self, results: list[Result]) -> None:
        for result in results:
            if isinstance(result, BatchCount):
                self._add_batch(result)
                continue
            index, name, outcome = result
            if isinstance(outcome, Skipped):
                self.skipped[index] = outcome
            else:
                assert not isinstance(outcome, Failed), "the run loop keeps failed inputs out"
                self.inputs[index] = name
                self._add_images(index, outcome)
        if self.report is not None:
            self.report(self.seen, self.n_pixels, len(self.skipped), self.seen == self.n_inputs)

    @property
    def seen(self) -> int:
        """Inputs counted or skipped so far (those restored from a checkpoint included)."""
        return len(self.names) + self.n_batched + len(self.skipped) + len(self.restored)

    def _add_images(self, index: int, results: list[ImageCount]) -> None:
        for image in results:
            if image.classes.size:
                where = self._known(image.classes, ascending=True)
                if where is None:
                    ones = np.ones(image.classes.size, np.uint64)
                    self._defer(image.classes, image.pixels, ones, ones * np.uint64(image.total))
                else:  # distinct classes: a plain indexed add is exact
                    self.pixels[where] += image.pixels
                    self.images[where] += np.uint64(1)
                    self.image_pixels[where] += np.uint64(image.total)
            self.n_pixels += image.total
            self.ignored += image.ignored
            if image.voxel is not None:
                self._add_voxel(image.voxel, VoxelGroup(1, image.classes, image.pixels))
        self.names[index] = [image.name for image in results]
        if self.rows is not None:
            self.rows[index] = [(image.classes, image.pixels) for image in results]

    def _add_batch(self, batch: BatchCount) -> None:
        if batch.classes.size:
            where = self._known(batch.classes, ascending=False)
            image_pixels = batch.totals[batch.owner]
            if where is None:
                self._defer(batch.classes, batch.pixels, np.ones(batch.classes.size, np.uint64), image_pixels)
            else:
                np.add.at(self.pixels, where, batch.pixels)
                np.add.at(self.images, where, np.uint64(1))
                np.add.at(self.image_pixels, where, image_pixels)
        self.n_pixels += int(batch.totals.sum(dtype=np.uint64))
        self.ignored += int(batch.ignored.sum(dtype=np.uint64))
        self.batched.append((batch.indices, batch.names))
        self.n_batched += len(batch.indices)
        if self.rows is not None:
            bounds = batch.bounds().tolist()
            for position, index in enumerate(batch.indices):
                start, end = bounds[position], bounds[position + 1]
                self.rows[index] = [(batch.classes[start:end], batch.pixels[start:end])]

    def _add_voxel(self, size: VoxelSize, group: VoxelGroup) -> None:
        pending = self.voxels.setdefault(size, [])
        pending.append(group)
        if len(pending) >= 64:  # summed now and then: a sort per image would cost more
            self.voxels[size] = [add_groups([{size: part} for part in pending])[size]]

    def _voxel_groups(self) -> dict[VoxelSize, VoxelGroup]:
        return add_groups({size: part} for size, parts in self.voxels.items() for part in parts)

    def _known(self, classes: np.ndarray, ascending: bool) -> np.ndarray | None:
        """Where the sums of `classes` lie; None when one of them has none yet."""
        where = np.searchsorted(self.classes, classes)
        last = where[-1] if ascending else where.max()
        if last < self.classes.size and (self.classes[where] == classes).all():
            return where
        return None

    def _defer(self, classes: np.ndarray, pixels: np.ndarray, images: np.ndarray, image_pixels: np.ndarray) -> None:
        """Entries with classes not met before wait, and are merged into the sums once they are as
        many as the classes met: merging costs a sort, which is then paid a few times per count
        (masks of a million distinct labels), not once per image."""
        self.pending.append((classes, pixels, images, image_pixels))
        self.pending_size += classes.size
        if self.pending_size >= max(self.classes.size, 4096):
            self._merge()

    def _merge(self) -> None:
        if not self.pending:
            return
        parts = [(self.classes, self.pixels, self.images, self.image_pixels), *self.pending]
        classes = np.concatenate([part[0] for part in parts])
        order = np.argsort(classes, kind="stable")
        classes = classes[order]
        starts = np.flatnonzero(np.concatenate([[True], classes[1:] != classes[:-1]]))
        self.classes = classes[starts]
        self.pixels, self.images, self.image_pixels = (
            np.add.reduceat(np.concatenate([part[k] for part in parts])[order], starts).astype(np.uint64)
            for k in (1, 2, 3)
        )
        self.pending, self.pending_size = [], 0
        self.num_classes = max(self.num_classes, int(self.classes[-1]) + 1)

    def state(self) -> dict[str, Any]:
        """Everything counted so far, as JSON; inputs restored but not yet met again keep their entries."""
        self._merge()
        self._fold_batched()
        inputs: list[dict[str, Any]] = []
        for index, names in sorted(self.names.items()):
            entry = {"position": index, "name": self.inputs[index], "images": names, "stamp": self.stamps.get(index)}
            if self.rows is not None:
                entry["rows"] = [[classes.tolist(), pixels.tolist()] for classes, pixels in self.rows[index]]
            inputs.append(entry)
        skipped = [
            {"position": index, "name": skip.name, "reason": skip.reason, "stamp": self.stamps.get(index)}
            for index, skip in sorted(self.skipped.items())
        ]
        return {
            "num_classes": self.num_classes,
            "classes": self.classes.tolist(),
            "pixels": self.pixels.tolist(),
            "images": self.images.tolist(),
            "image_pixels": self.image_pixels.tolist(),
            "n_pixels": self.n_pixels,
            "ignored": self.ignored,
            "voxels": groups_to_json(self._voxel_groups()),
            "inputs": inputs + [entry for entry in self.restored.values() if "images" in entry],
            "skipped": skipped + [entry for entry in self.restored.values() if "reason" in entry],
        }

    def restore(self, state: dict[str, Any]) -> None:
        """The sums of a checkpoint; its inputs wait, by name, for the listing to meet them again.
        A checkpoint of format version 1 holds one sum per class, version 2 those of the classes met;
        one written before voxel sizes were kept has none, and its images no physical size."""
        sums = [np.array(state[key], np.uint64) for key in ("pixels", "images", "image_pixels")]
        if "classes" in state:
            self.num_classes, self.classes = int(state["num_classes"]), np.array(state["classes"], np.int64)
        else:
            self.num_classes = sums[0].size
            self.classes = np.flatnonzero(sums[0] | sums[1] | sums[2])
            sums = [values[self.classes] for values in sums]
        self.pixels, self.images, self.image_pixels = sums
        self.n_pixels, self.ignored = int(state["n_pixels"]), int(state["ignored"])
        self.voxels = {size: [group] for size, group in groups_from_json(state.get("voxels", [])).items()}
        for entry in (*state["inputs"], *state["skipped"]):
            self.restored[entry["name"]] = entry

    def adopt(self, index: int, name: str, stamp: tuple[int, int | str] | None) -> bool:
        """Takes the restored entry of the input `name`, met at `index` in this listing; False when
        the checkpoint does not hold it. Refuses a file that changed since it was counted."""
        entry = self.restored.pop(name, None)
        if entry is None:
            return False
        if entry["stamp"] is not None and stamp is not None and tuple(entry["stamp"]) != stamp:
            raise ValueError(
                f"{name}: changed since the checkpoint counted it ({_what_differs(stamp)} differ); "
                "delete the checkpoint to count everything again"
            )
        if stamp is not None:
            self.stamps[index] = stamp
        if "reason" in entry:
            self.skipped[index] = Skipped(name, entry["reason"])
            return True
        self.inputs[index] = name
        self.names[index] = list(entry["images"])
        if self.rows is not None:
            self.rows[index] = [(np.array(c, np.int64), np.array(p, np.uint64)) for c, p in entry.get("rows", [])]
        return True

    def _fold_batched(self) -> None:
        for indices, names in self.batched:
            self.inputs.update(zip(indices, names))
            self.names.update(zip(indices, ([name] for name in names)))
        self.batched, self.n_batched = [], 0

    def counts(self, settings: Settings) -> Counts:
        self._merge()
        positions = list(self.names)
        images: list[Sequence[str]] = list(self.names.values())
        singles: list[str] = []  # the batched inputs' names, one image each
        for indices, names in self.batched:
            positions += indices
            singles += names
        order = np.argsort(np.array(positions, np.int64), kind="stable").tolist()
        if images:
            images += [(name,) for name in singles]
            sources = tuple(chain.from_iterable(map(images.__getitem__, order)))
        else:  # every input came in a batch: no tuple per name (0.2 s per million files)
            sources = tuple(map(singles.__getitem__, order))
        table = None
        if self.rows is not None:
            rows = (row for k in order for row in self.rows[positions[k]])
            table = PerImageTable.from_rows(rows, self.num_classes)
        return Counts._of_classes(
            self.num_classes,
            self.classes,
            (self.pixels, self.images, self.image_pixels),
            n_images=len(sources),
            n_pixels=self.n_pixels,
            ignored=self.ignored,
            per_image=table,
            sources=sources,
            errors=[(skip.name, skip.reason) for _, skip in sorted(self.skipped.items())],
            params={
                "num_classes": settings.num_classes,
                "ignore_index": list(settings.ignore_index),
                "stack_axis": settings.stack_axis,
                "colormap": None if settings.colormap is None else settings.colormap.name,
                "allow_lossy": settings.allow_lossy,
                "label_map": None if settings.label_map is None else settings.label_map.describe(),
                "reduce_zero_label": settings.reduce_zero_label,
                "version": __version__,
            },
            class_names=settings.names,
            voxels=self._voxel_groups(),
        )


def _what_differs(stamp: tuple[int, int | str]) -> str:
    return "size and modification time" if isinstance(stamp[1], int) else "size and ETag or version"
