"""The counting engine: inputs -> images -> chunks -> kernel -> exact per-image counts -> Counts.

Many small inputs are counted one per worker thread (the kernel runs with the GIL released, so
the threads run in parallel); an input bigger than a chunk is counted by the calling thread, chunk
by chunk, each chunk split across `threads` kernel threads. At most two inputs per thread are in
flight, so memory does not grow with the size of the data set.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextvars import copy_context
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from ..base._version import __version__
from ..base.errors import InputError
from ..io.images import CHUNK_BYTES, Image
from ..io.readers import tally_files
from ..io.sources import FileInput, Input
from ..kernels._tally import Tally
from ..model.counts import Counts
from ..model.per_image import PerImageTable
from .cache import Cache, CachedImage
from .checkpoint import Checkpoint
from .progress import Reporter
from .settings import MAX_CLASSES, Settings

__all__ = ["Accumulator", "Run"]


@dataclass(frozen=True)
class ImageCount:
    name: str
    classes: np.ndarray  # int64: the classes present, ascending
    pixels: np.ndarray  # uint64: the pixels of each of them
    total: int  # pixels counted (ignored ones excluded)
    ignored: int


@dataclass(frozen=True)
class Skipped:
    """An input left out of the count with on_error="skip", and why."""

    name: str
    reason: str


@dataclass(frozen=True)
class Failed:
    """A bad input with on_error="raise": raised once every input before it is counted, so that the
    error is that of the first bad input in input order, whichever thread met it first."""

    name: str
    error: InputError


Outcome = Union[list[ImageCount], Skipped, Failed]


@dataclass(frozen=True)
class BatchCount:
    """The images of several inputs (one image each) classified together: a batch of decoded PNGs
    costs a handful of numpy calls instead of a handful per image, all under the GIL."""

    indices: list[int]  # the inputs' positions
    names: list[str]
    owner: np.ndarray  # int64: the position in the batch of the image of each entry, ascending
    classes: np.ndarray  # int64: the classes present in that image
    pixels: np.ndarray  # uint64: their pixels
    totals: np.ndarray  # uint64: pixels counted per image
    ignored: np.ndarray  # uint64: pixels ignored per image

    def bounds(self) -> np.ndarray:
        """Where each image's entries start (and the last one ends) in classes and pixels."""
        return np.searchsorted(self.owner, np.arange(len(self.indices) + 1))

    def split(self) -> list[tuple[int, list[tuple[str, np.ndarray, np.ndarray, int, int]]]]:
        """Per input: (position, [(name, classes, pixels, total, ignored)])."""
        bounds = self.bounds()
        return [
            (
                index,
                [
                    (
                        self.names[position],
                        self.classes[bounds[position] : bounds[position + 1]],
                        self.pixels[bounds[position] : bounds[position + 1]],
                        int(self.totals[position]),
                        int(self.ignored[position]),
                    )
                ],
            )
            for position, index in enumerate(self.indices)
        ]


Result = Union[tuple[int, str, Outcome], BatchCount]  # (input position, input name, outcome)


class Run:
    """One count: inputs handed to the workers, results summed, and, when asked for, inputs the
    checkpoint or the cache already holds left out and the checkpoint written as it goes."""

    def __init__(
        self,
        settings: Settings,
        workers: int,
        total: Accumulator,
        checkpoint: Checkpoint | None,
        cache: Cache | None,
    ) -> None:
        self.settings, self.workers, self.total = settings, workers, total
        self.checkpoint, self.cache = checkpoint, cache
        self.in_flight: dict[int, FileInput] = {}  # with a cache: files handed out, not yet taken
        self.failed: tuple[int, Failed] | None = None  # the first bad input met, by input position

    def count_all(self, items: Iterable[Input]) -> None:
        """Big inputs on the calling thread, every thread on their chunks; small ones in batches, on
        `workers` threads. At most two batches per worker are in flight. A bad input stops the
        handing out of work (with on_error="raise"); the error raised is that of the first bad input
        in input order, once every input before it is counted."""
        listed = len(items) if isinstance(items, list) else None
        work = _batches(self._to_count(items), self.workers, listed)
        if self.workers == 1:
            for piece in work:
                self._take(_count_work(piece, self.settings, 1))
                if self.failed is not None:
                    raise self.failed[1].error
            return
        pending: set[Future[list[Result]]] = set()

        def collect(futures: Iterable[Future[list[Result]]]) -> None:
            for future in futures:
                pending.discard(future)
                self._take(future.result())

        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="fastweights") as pool:
            try:
                try:
                    for piece in work:
                        if self.failed is not None:  # every input before it is handed out already
                            break
                        if isinstance(piece, tuple):  # one big input
                            self._take(_count_work(piece, self.settings, self.workers))
                            continue
                        if len(pending) >= 2 * self.workers:
                            collect(wait(pending, return_when=FIRST_COMPLETED).done)
                        # The count's placement (a context variable) goes with the work to the worker.
                        pending.add(pool.submit(copy_context().run, _count_work, piece, self.settings, 1))
                except InputError:
                    # The listing met a bad path, after every input handed out: one of those may
                    # be bad too, and comes first.
                    collect(list(pending))
                    if self.failed is None:
                        raise
                collect(list(pending))
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
        if self.failed is not None:
            raise self.failed[1].error

    def _to_count(self, items: Iterable[Input]) -> Iterator[tuple[int, Input]]:
        """The inputs left to count, with their positions: not those the checkpoint has done, nor
        the files the cache holds (their counts go straight to the total)."""
        for index, item in enumerate(items):
            if self.checkpoint is not None:
                stamp = (item.nbytes, item.mtime_ns) if isinstance(item, FileInput) else None
                if self.total.restored and self.total.adopt(index, item.name, stamp):
                    continue
                if stamp is not None:
                    self.total.stamps[index] = stamp
            if self.cache is not None and isinstance(item, FileInput):
                images = self.cache.lookup(item.path, item.nbytes, item.mtime_ns)
                if images is not None and self._fits(images):
                    self._take([(index, item.name, [ImageCount(*image) for image in images])])
                    continue
                self.in_flight[index] = item  # what its cache entry is keyed by, once counted
            yield index, item
        if self.checkpoint is not None and self.total.restored:
            gone = sorted(self.total.restored)
            raise ValueError(
                f"{self.checkpoint.path}: {len(gone)} input(s) it counted are no longer among the inputs "
                f"(e.g. {gone[0]}); delete the checkpoint to start over"
            )

    def _fits(self, images: list[CachedImage]) -> bool:
        """A cached count is valid under this count's num_classes (else the input is counted again,
        and refused with the usual message)."""
        limit = self.settings.num_classes
        return limit is None or all(classes.size == 0 or classes[-1] < limit for _, classes, *_ in images)

    def _take(self, results: list[Result]) -> None:
        for result in results:
            if not isinstance(result, BatchCount) and isinstance(result[2], Failed):
                if self.failed is None or result[0] < self.failed[0]:
                    self.failed = (result[0], result[2])
        results = [result for result in results if isinstance(result, BatchCount) or not isinstance(result[2], Failed)]
        self.total.take(results)
        if self.cache is not None:
            self.cache.store(self._new_entries(results))
            for result in results:
                for index in result.indices if isinstance(result, BatchCount) else [result[0]]:
                    self.in_flight.pop(index, None)
        if self.checkpoint is not None:
            if self.checkpoint.due():
                self.checkpoint.write(self.total.state())
            self.checkpoint.stop_if_asked(self.total.state, self.total.seen)

    def _new_entries(self, results: list[Result]) -> list[tuple[str, int, int, list[CachedImage]]]:
        entries = []
        for result in results:
            if isinstance(result, BatchCount):
                per_input = result.split()
            elif isinstance(result[2], list):
                per_input = [(result[0], [_cached(image) for image in result[2]])]
            else:  # skipped: counted again next time
                continue
            for index, images in per_input:
                item = self.in_flight.get(index)
                if item is not None:
                    entries.append((item.path, item.nbytes, item.mtime_ns, images))
        return entries


def _cached(image: ImageCount) -> CachedImage:
    return (image.name, image.classes, image.pixels, image.total, image.ignored)


# Small inputs go to the workers in batches: one task per input costs a future, a wake-up of the
# calling thread and GIL hand-overs, as much as decoding a small PNG; a batch of PNGs is decoded
# in one call that releases the GIL once.
BATCH_INPUTS = 32
BATCH_BYTES = 1 << 20

Work = Union[tuple[int, Input], list[tuple[int, Input]]]  # one big input, or a batch of small ones


def _batches(items: Iterable[tuple[int, Input]], workers: int, listed: int | None) -> Iterator[Work]:
    # Enough batches for every worker to get several, so that none waits long on the last one.
    if listed is not None:
        size = max(1, min(BATCH_INPUTS, listed // (4 * workers)))
    else:  # still being listed: smaller batches keep the last one short
        size = BATCH_INPUTS // 2
    batch: list[tuple[int, Input]] = []
    queued = 0
    for index, item in items:
        if item.nbytes > CHUNK_BYTES:
            if batch:  # handed out first: work goes out in input order
                yield batch
                batch, queued = [], 0
            yield index, item
            continue
        batch.append((index, item))
        queued += item.nbytes
        if len(batch) >= size or queued >= BATCH_BYTES:
            yield batch
            batch, queued = [], 0
    if batch:
        yield batch


def _count_work(work: Work, settings: Settings, kernel_threads: int) -> list[Result]:
    if isinstance(work, tuple):
        index, item = work
        return [(index, item.name, _count_input(item, settings, kernel_threads))]
    files = [(index, item.path) for index, item in work if isinstance(item, FileInput)]
    decoded = tally_files([path for _, path in files], settings.read)
    tallied = {files[position][0]: result for position, result in decoded.items()}
    clean: list[tuple[int, Input, Tally]] = []
    for index, item in work:
        result = tallied.get(index)
        if isinstance(result, Tally):
            clean.append((index, item, result))
    batch = _classify_batch(clean, settings)
    done = set(batch.indices) if batch is not None else set()
    results: list[Result] = [batch] if batch is not None else []
    results += [
        (index, item.name, _count_input(item, settings, 1, tallied.get(index)))
        for index, item in work
        if index not in done
    ]
    return results


def _classify_batch(entries: list[tuple[int, Input, Tally]], settings: Settings) -> BatchCount | None:
    """`_classify` of many one-image inputs at once; None when one of them has a label to refuse
    (they are then classified one by one, so that the error names the right file)."""
    if not entries:
        return None
    tallies = [tally for _, _, tally in entries]
    values = np.concatenate([tally.values for tally in tallies])
    counts = np.concatenate([tally.counts for tally in tallies])
    owner = np.repeat(np.arange(len(tallies)), [tally.values.size for tally in tallies])
    ignored = np.array([tally.ignored for tally in tallies], np.uint64)
    if settings.ignore_index:
        left_out = np.isin(values, settings.ignore_index)
        np.add.at(ignored, owner[left_out], counts[left_out])
        values, counts, owner = values[~left_out], counts[~left_out], owner[~left_out]
    limit = settings.num_classes if settings.num_classes is not None else MAX_CLASSES
    if values.size and (values.min() < 0 or values.max() >= limit):
        return None
    totals = np.zeros(len(tallies), np.uint64)
    np.add.at(totals, owner, counts)
    return BatchCount(
        [index for index, _, _ in entries],
        [item.name for _, item, _ in entries],
        owner,
        values,
        counts,
        totals,
        ignored,
    )


def _count_input(
    item: Input, settings: Settings, kernel_threads: int, tallied: Tally | InputError | None = None
) -> Outcome:
    """The counts of every image of one input, or why it was left out (on_error="skip") or stops
    the count (on_error="raise").
    `tallied`: the input's tally (or error), when it was decoded with others in one call."""
    try:
        try:
            if isinstance(tallied, InputError):
                raise tallied
            if tallied is not None:
                return [_classify(item.name, tallied, settings)]
            images = item.images(settings.read)
            try:
                counted = [_count_image(image, settings, kernel_threads) for image in images]
            finally:
                # A reader holds its file open while its images are tallied: an image that fails
                # leaves the reader suspended, and only closing it closes the file now rather
                # than whenever the garbage collector gets to it.
                close = getattr(images, "close", None)
                if close is not None:
                    close()
            if isinstance(item, FileInput):
                _check_unchanged(item)
            return counted
        except OSError as error:
            reason = error.strerror or str(error)
            raise InputError(f"{item.name}: cannot be read: {reason}") from error
    except InputError as error:
        if settings.on_error == "raise":
            return Failed(item.name, error)
        return Skipped(item.name, str(error))


def _check_unchanged(item: FileInput) -> None:
    """A file written to while it was counted gives a count of neither version: refused."""
    size = os.stat(item.path).st_size
    if size != item.nbytes:
        raise InputError(
            f"{item.path}: changed size while it was being counted ({item.nbytes:,} bytes when listed, "
            f"{size:,} now); count it once it is complete"
        )


def _count_image(image: Image, settings: Settings, kernel_threads: int) -> ImageCount:
    return _classify(image.name, image.tally(settings.bounds, kernel_threads), settings)


def _classify(name: str, total: Tally, settings: Settings) -> ImageCount:
    """Splits an image's label tally into class counts and ignored pixels; refuses bad labels."""
    values, counts, ignored = total.values, total.counts, total.ignored
    if settings.ignore_index:
        ignored_mask = np.isin(values, settings.ignore_index)
        ignored += int(counts[ignored_mask].sum(dtype=np.uint64))
        values, counts = values[~ignored_mask], counts[~ignored_mask]
    if values.size and values[0] < 0:
        raise InputError(
            f"{name}: negative label {values[0]} ({counts[0]} pixels); if it marks unlabelled pixels, "
            f"pass ignore_index={values[0]}"
        )
    if settings.num_classes is not None:
        if values.size and values[-1] >= settings.num_classes:
            raise InputError(
                f"{name}: label {values[-1]} ({counts[-1]} pixels) is not below num_classes={settings.num_classes}; "
                "raise num_classes, or pass ignore_index if it marks pixels to leave out"
            )
    elif values.size and values[-1] >= MAX_CLASSES:
        raise InputError(
            f"{name}: label {values[-1]} is too large for a class id (at most {MAX_CLASSES - 1}); "
            "pass ignore_index if it marks pixels to leave out"
        )
    return ImageCount(name, values, counts, int(counts.sum(dtype=np.uint64)), ignored)


class Accumulator:
    """Sums per-image counts as they arrive, in any order; keeps the per-input order of names
    (and rows, with per_image) so the result does not depend on which thread finished first.
    Its state saves to JSON (exact integers) and restores, for checkpoints."""

    def __init__(self, num_classes: int, per_image: bool, n_inputs: int | None, report: Reporter | None = None) -> None:
        self.pixels = np.zeros(num_classes, np.uint64)
        self.images = np.zeros(num_classes, np.uint64)
        self.image_pixels = np.zeros(num_classes, np.uint64)
        self.n_pixels = 0
        self.ignored = 0
        self.inputs: dict[int, str] = {}  # position -> input name, of the inputs counted
        self.names: dict[int, list[str]] = {}  # position -> names of its images
        self.rows: dict[int, list[tuple[np.ndarray, np.ndarray]]] | None = {} if per_image else None
        self.skipped: dict[int, Skipped] = {}
        self.stamps: dict[int, tuple[int, int]] = {}  # position -> (size, mtime_ns) of a file input
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
                self.inputs[index] = name
                self._add_images(index, outcome)
        if self.report is not None:
            self.report(self.seen, self.n_pixels, len(self.skipped), self.seen == self.n_inputs)

    @property
    def seen(self) -> int:
        """Inputs counted or skipped so far (those restored from a checkpoint included)."""
        return len(self.names) + len(self.skipped) + len(self.restored)

    def _add_images(self, index: int, results: list[ImageCount]) -> None:
        for image in results:
            if image.classes.size:
                self._grow(int(image.classes[-1]) + 1)
            self.pixels[image.classes] += image.pixels
            self.images[image.classes] += np.uint64(1)
            self.image_pixels[image.classes] += np.uint64(image.total)
            self.n_pixels += image.total
            self.ignored += image.ignored
        self.names[index] = [image.name for image in results]
        if self.rows is not None:
            self.rows[index] = [(image.classes, image.pixels) for image in results]

    def _add_batch(self, batch: BatchCount) -> None:
        if batch.classes.size:
            self._grow(int(batch.classes.max()) + 1)
        np.add.at(self.pixels, batch.classes, batch.pixels)
        np.add.at(self.images, batch.classes, np.uint64(1))
        np.add.at(self.image_pixels, batch.classes, batch.totals[batch.owner])
        self.n_pixels += int(batch.totals.sum(dtype=np.uint64))
        self.ignored += int(batch.ignored.sum(dtype=np.uint64))
        bounds = batch.bounds()
        for position, index in enumerate(batch.indices):
            self.inputs[index] = batch.names[position]
            self.names[index] = [batch.names[position]]
            if self.rows is not None:
                start, end = bounds[position], bounds[position + 1]
                self.rows[index] = [(batch.classes[start:end], batch.pixels[start:end])]

    def _grow(self, size: int) -> None:
        missing = size - self.pixels.size
        if missing > 0:
            padding = np.zeros(missing, np.uint64)
            self.pixels, self.images, self.image_pixels = (
                np.concatenate([array, padding]) for array in (self.pixels, self.images, self.image_pixels)
            )

    def state(self) -> dict[str, Any]:
        """Everything counted so far, as JSON; inputs restored but not yet met again keep their entries."""
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
            "pixels": self.pixels.tolist(),
            "images": self.images.tolist(),
            "image_pixels": self.image_pixels.tolist(),
            "n_pixels": self.n_pixels,
            "ignored": self.ignored,
            "inputs": inputs + [entry for entry in self.restored.values() if "images" in entry],
            "skipped": skipped + [entry for entry in self.restored.values() if "reason" in entry],
        }

    def restore(self, state: dict[str, Any]) -> None:
        """The sums of a checkpoint; its inputs wait, by name, for the listing to meet them again."""
        self.pixels, self.images, self.image_pixels = (
            np.array(state[key], np.uint64) for key in ("pixels", "images", "image_pixels")
        )
        self.n_pixels, self.ignored = int(state["n_pixels"]), int(state["ignored"])
        for entry in (*state["inputs"], *state["skipped"]):
            self.restored[entry["name"]] = entry

    def adopt(self, index: int, name: str, stamp: tuple[int, int] | None) -> bool:
        """Takes the restored entry of the input `name`, met at `index` in this listing; False when
        the checkpoint does not hold it. Refuses a file that changed since it was counted."""
        entry = self.restored.pop(name, None)
        if entry is None:
            return False
        if entry["stamp"] is not None and stamp is not None and tuple(entry["stamp"]) != stamp:
            raise ValueError(
                f"{name}: changed since the checkpoint counted it (size and modification time differ); "
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

    def counts(self, settings: Settings) -> Counts:
        order = sorted(self.names)
        sources = tuple(name for index in order for name in self.names[index])
        table = None
        if self.rows is not None:
            rows = (row for index in order for row in self.rows[index])
            table = PerImageTable.from_rows(rows, self.pixels.size)
        return Counts(
            pixels=self.pixels,
            images=self.images,
            image_pixels=self.image_pixels,
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
                "version": __version__,
            },
        )
