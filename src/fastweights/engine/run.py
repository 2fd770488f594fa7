"""The run of one count: inputs handed to worker threads, their results summed as they come.

Many small inputs are counted one per worker thread (the kernel runs with the GIL released, so
the threads run in parallel); an input bigger than a chunk is counted by the calling thread, chunk
by chunk, each chunk split across `threads` kernel threads. At most two inputs per thread are in
flight, so memory does not grow with the size of the data set.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from contextvars import copy_context
from typing import Union

import numpy as np

from ..base.errors import InputError
from ..io.images import CHUNK_BYTES
from ..io.readers.small_files import tally_small_files
from ..io.remote import tally_objects
from ..io.sources import FileInput, Input, RemoteInput
from ..kernels._tally import Tally
from .accumulate import Accumulator
from .cache import Cache, CachedImage
from .checkpoint import Checkpoint
from .classify import BatchCount, Failed, ImageCount, Result, classify_batch, classify_tallies, count_input
from .settings import Settings

__all__ = ["Run"]

Known = tuple[str, int, Union[int, str]]  # path or URL, size, modification time or ETag (version)


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
        # with a cache: what the files and objects handed out, not yet taken, are known by
        self.in_flight: dict[int, Known] = {}
        self.failed: tuple[int, Failed] | None = None  # the first bad input met, by input position

    def count_all(self, items: Iterable[Input]) -> None:
        """Big inputs on the calling thread, every thread on their chunks; small ones in batches, on
        `workers` threads. At most two batches per worker (or four spread over them all) are in
        flight. A bad input stops the handing out of work (with on_error="raise"); the error raised
        is that of the first bad input in input order, once every input before it is counted."""
        with _collector_paused():
            self._count_all(items)

    def _count_all(self, items: Iterable[Input]) -> None:
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

        def collect_down_to(most: int) -> None:  # as they end: progress and checkpoints go on to the last
            while len(pending) > most:
                collect(wait(pending, return_when=FIRST_COMPLETED).done)

        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="fastweights") as pool:
            try:
                try:
                    for piece in work:
                        if self.failed is not None:  # every input before it is handed out already
                            break
                        if isinstance(piece, tuple):  # one big input
                            self._take(_count_work(piece, self.settings, self.workers))
                            continue
                        # A batch of PNG and .npy files is spread over every thread in C++.
                        threads = self.workers if _all_small(piece, self.settings) else 1
                        collect_down_to((SPREAD_BATCHES_IN_FLIGHT if threads > 1 else 2 * self.workers) - 1)
                        # The count's placement (a context variable) goes with the work to the worker.
                        pending.add(pool.submit(copy_context().run, _count_work, piece, self.settings, threads))
                except InputError:
                    # The listing met a bad path, after every input handed out: one of those may
                    # be bad too, and comes first.
                    collect_down_to(0)
                    if self.failed is None:
                        raise
                collect_down_to(0)
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
        if self.failed is not None:
            raise self.failed[1].error

    def _to_count(self, items: Iterable[Input]) -> Iterator[tuple[int, Input]]:
        """The inputs left to count, with their positions: not those the checkpoint has done, nor
        the files the cache holds (their counts go straight to the total)."""
        if self.checkpoint is None and self.cache is None:
            yield from enumerate(items)
            return
        for index, item in enumerate(items):
            known = _known_by(item)
            if self.checkpoint is not None:
                stamp = None if known is None else known[1:]
                if self.total.restored and self.total.adopt(index, item.name, stamp):
                    continue
                if stamp is not None:
                    self.total.stamps[index] = stamp
            if self.cache is not None and known is not None:
                images = self.cache.lookup(*known)
                if images is not None and self._fits(images):
                    self._take([(index, item.name, [ImageCount(*image) for image in images])])
                    continue
                self.in_flight[index] = known  # its cache entry's key, once counted
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

    def _new_entries(self, results: list[Result]) -> list[tuple[str, int, int | str, list[CachedImage]]]:
        entries = []
        for result in results:
            if isinstance(result, BatchCount):
                per_input = result.split()
            elif isinstance(result[2], list):
                per_input = [(result[0], [_cached(image) for image in result[2]])]
            else:  # skipped: counted again next time
                continue
            for index, images in per_input:
                known = self.in_flight.get(index)
                if known is not None:
                    entries.append((*known, images))
        return entries


@contextmanager
def _collector_paused() -> Iterator[None]:
    """A count makes a few small objects per file (its input, its name, its result), none of them
    in a reference cycle; Python's cyclic collector, run every few hundred allocations, would walk
    them again and again (a tenth of the time of a count of tiny files). Paused while counting."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _known_by(item: Input) -> Known | None:
    """What a checkpoint and the cache know an input by: a file's path, size and modification time;
    an object's URL, size and ETag (or version). None for the others (and an object whose listing
    gave no version): a checkpoint knows them by name only, the cache not at all."""
    if isinstance(item, FileInput):
        return item.path, item.nbytes, item.mtime_ns
    if isinstance(item, RemoteInput) and item.version is not None:
        return item.url, item.nbytes, item.version
    return None


def _cached(image: ImageCount) -> CachedImage:
    return (image.name, image.classes, image.pixels, image.total, image.ignored, image.voxel)


# Small inputs go to the workers in batches: one task per input costs a future, a wake-up of the
# calling thread and GIL hand-overs, more than decoding a small PNG; a batch of PNG and .npy files is
# read, decoded and counted in one C++ call that releases the GIL once. While a folder is still being
# listed, batches start small (the first counts, progress and checkpoint come at once) and double
# up to BATCH_INPUTS. Batches of 2,048 tiles (or 4 MiB) rather than 512 (or 1 MiB): each batch costs
# a C++ call that starts its threads, a future and a hand-over; on 100,000 tiny .npy files, two
# threads took 4.7 µs a file with the larger batches and 6.2 µs with the smaller.
BATCH_INPUTS = 2048
# Batches spread over every thread in flight at once: while one is counted and another summed, the
# listing goes on rather than waiting for them. On 100,000 tiny .npy files two threads took 5.5 µs a
# file with two in flight, 5.1 with four.
SPREAD_BATCHES_IN_FLIGHT = 4
FIRST_BATCH_INPUTS = 8
BATCH_BYTES = 4 << 20

Work = Union[tuple[int, Input], list[tuple[int, Input]]]  # one big input, or a batch of small ones


def _batches(items: Iterable[tuple[int, Input]], workers: int, listed: int | None) -> Iterator[Work]:
    # Enough batches for every worker to get several, so that none waits long on the last one.
    if listed is not None:
        size = max(1, min(BATCH_INPUTS, listed // (4 * workers)))
    else:
        size = FIRST_BATCH_INPUTS
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
            if listed is None:
                size = min(2 * size, BATCH_INPUTS)
    if batch:
        yield batch


def _all_small(work: list[tuple[int, Input]], settings: Settings) -> bool:
    """Whether a batch is one for the C++ batch reader, judged by its first and last inputs: folders
    that mix formats are rare, and a wrong guess costs speed, never a count."""
    return settings.read.stack_axis is None and all(
        isinstance(item, FileInput) and item.batch is not None for _, item in (work[0], work[-1])
    )


def _count_work(work: Work, settings: Settings, kernel_threads: int) -> list[Result]:
    """One big input on `kernel_threads` threads; or a batch of small ones: the PNG and .npy files
    read and counted together on `kernel_threads` threads, the objects fetched together, the rest
    one by one."""
    if isinstance(work, tuple):
        index, item = work
        return [(index, item.name, count_input(item, settings, kernel_threads))]
    results: list[Result] = []
    tallied: dict[int, Tally | InputError] = {}
    small = _small_files(work, settings)
    if small:
        batch, rest = _count_small_files(small, settings, kernel_threads)
        if batch is not None:
            if len(batch.indices) == len(work):  # most batches: every input counted in one go
                return [batch]
            results.append(batch)
        tallied.update(rest)
    remote = [(index, item) for index, item in work if isinstance(item, RemoteInput)]
    if remote:  # fetched together: many objects in flight at once
        fetched = tally_objects([item for _, item in remote], settings.read)
        found = {remote[position][0]: result for position, result in fetched.items()}
        clean = [(index, item, result) for index, item in remote if isinstance(result := found.get(index), Tally)]
        objects = classify_batch(clean, settings)
        if objects is not None:
            results.append(objects)
            classified = set(objects.indices)
            found = {index: result for index, result in found.items() if index not in classified}
        tallied.update(found)
    done = {index for result in results if isinstance(result, BatchCount) for index in result.indices}
    results += [
        (index, item.name, count_input(item, settings, 1, tallied.get(index)))
        for index, item in work
        if index not in done
    ]
    return results


def _small_files(work: list[tuple[int, Input]], settings: Settings) -> list[tuple[int, FileInput]]:
    """The files of a batch the C++ batch reader takes (PNG and .npy, one image each)."""
    if settings.read.stack_axis is not None:
        return []
    return [(index, item) for index, item in work if isinstance(item, FileInput) and item.batch is not None]


def _count_small_files(
    small: list[tuple[int, FileInput]], settings: Settings, kernel_threads: int
) -> tuple[BatchCount | None, dict[int, Tally | InputError]]:
    """The batch of the files counted and classified together, and by input position the tallies
    or errors of the others (a file with a label to refuse: all of them, classified one by one)."""
    paths = [item.path for _, item in small]
    found = tally_small_files(
        paths,
        np.array([item.nbytes for _, item in small], np.int64),
        np.array([item.mtime_ns for _, item in small], np.int64),
        np.array([item.batch for _, item in small], np.uint8),
        settings.read,
        kernel_threads,
    )
    rest = {small[position][0]: outcome for position, outcome in found.others.items()}
    counted = found.counted.tolist()
    if len(counted) == len(small):
        indices = [index for index, _ in small]
    else:
        indices = [small[position][0] for position in counted]
        paths = [paths[position] for position in counted]
    batch = classify_tallies(indices, paths, found.offsets, found.values, found.counts, settings)
    if batch is None:
        for k, position in enumerate(counted):
            start, end = found.offsets[k], found.offsets[k + 1]
            rest[small[position][0]] = Tally(found.values[start:end], found.counts[start:end])
    return batch, rest
