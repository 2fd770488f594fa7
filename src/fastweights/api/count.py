"""`count()`: the keywords checked into one `Settings`, and the count run where it is asked to run:
this process (threads, and a GPU where `device` says), a Dask cluster (`client`) or MPI ranks (`comm`)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from ..backends import dask, mpi
from ..backends import threads as local
from ..engine.progress import ProgressSpec
from ..engine.review import review
from ..engine.settings import DeviceChoice, OnError, Settings, UnknownColor
from ..io.colormaps import ColormapSpec
from ..model.class_names import ClassNamesSpec
from ..model.counts import Counts
from ..model.label_maps import LabelMapSpec

__all__ = ["count"]


def count(
    inputs: object,
    *,
    num_classes: int | None = None,
    ignore_index: int | Iterable[int] | None = None,
    threads: int | None = None,
    per_image: bool = False,
    stack_axis: int | None = None,
    colormap: ColormapSpec = None,
    unknown_color: UnknownColor = "error",
    allow_lossy: bool = False,
    on_error: OnError = "raise",
    progress: ProgressSpec = False,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: float = 60.0,
    cache: str | os.PathLike[str] | None = None,
    sample: float | None = None,
    seed: int = 0,
    shard: tuple[int, int] | str | None = None,
    client: Any = None,
    comm: Any = None,
    device: DeviceChoice = None,
    class_names: ClassNamesSpec = None,
    label_map: LabelMapSpec = None,
    reduce_zero_label: bool = False,
    storage_options: Mapping[str, Any] | None = None,
    drop_behind: bool = False,
) -> Counts:
    """Counts the pixels of every class over a set of label masks, exactly.

    Parameters
    ----------
    inputs : path, URL, array, RawFile or list of them
        A path, a folder (walked recursively, sorted), a glob pattern, a numpy array,
        `fastweights.raw(...)`, or a list mixing them. Each file or array is one image (or volume).
        A URL (s3://bucket/prefix/, gs://, az://, https://..., any fsspec protocol) names an
        object, a prefix (its masks, sorted as a folder's) or a glob of them (docs/remote.md).
    num_classes : int, optional
        Labels must lie in [0, num_classes); if None, it is the largest label seen + 1.
    ignore_index : int or iterable of int, optional
        A label value, or several, counted as ignored instead of as a class (e.g. 255, -1).
    threads : int, optional
        Worker threads; default: the CPUs this process may use (on a Dask cluster, each worker's
        threads; with MPI, each rank's CPUs).
    per_image : bool, default False
        Also keep the (images x classes) table of counts.
    stack_axis : int, optional
        Count every slice along this axis as its own image (e.g. 0 for a stack of 2-D masks).
    colormap : str, path, mapping or Colormap, optional
        For RGB colour masks: "voc", "cityscapes", "camvid", a JSON file, or {(r, g, b): class id}.
    unknown_color : {"error", "ignore"}, default "error"
        What a colour missing from the colormap is.
    allow_lossy : bool, default False
        Count JPEG masks anyway (their compression noise makes fake classes: refused by default).
    on_error : {"raise", "skip"}, default "raise"
        Stop at the first bad input, or leave it out (listed in `Counts.errors`).
    progress : bool or callable, default False
        True for a progress bar on a terminal, tqdm's bar in a Jupyter notebook (with tqdm
        installed: `pip install "fastweights[notebook]"`) and, where stderr is no terminal (a batch
        job's log), a plain line every 10 seconds (files, pixels, rate, time left); or a callable
        receiving `Progress` updates.
    checkpoint : str or os.PathLike, optional
        A JSON file the partial count is saved to every `checkpoint_every` seconds and on SIGINT /
        SIGTERM; rerunning the same count with it resumes, and ends with exactly the Counts of an
        uninterrupted run. A count that ends removes it; one that fails or is interrupted keeps it.
    checkpoint_every : float, default 60.0
        Seconds between two checkpoint saves.
    cache : str or os.PathLike, optional
        An SQLite file of per-file counts, keyed by path, size and modification time: a rerun
        counts only new or changed files. Several processes may share it.
    sample : float, optional
        Count only a random share of the inputs (0 < sample < 1; or a whole number of them), chosen
        with `seed`: the Counts are an estimate (params["estimate"]), keep the per-image table, and
        their weights() carry bootstrap confidence intervals.
    seed : int, default 0
        The seed of the random choice `sample` makes.
    shard : (int, int) or str, optional
        (i, N) or "i/N": count only the i-th of N contiguous shares of the inputs, balanced by
        bytes (a job array's task); `fastweights merge` adds the shares' Counts.
    client : distributed.Client, optional
        Count on this Dask cluster, files only (`fastweights.backends.dask`).
    comm : mpi4py communicator, optional
        E.g. `MPI.COMM_WORLD`, the program running on each of its ranks: each rank counts a share
        of the files, and every rank returns the Counts of them all (`fastweights.backends.mpi`).
    device : {None, "cpu", "cuda", "auto"}, default None
        Where arrays are counted (`fastweights.backends.placement`): None the CPU, and device
        arrays (CuPy, PyTorch CUDA tensors) on their GPU; "cpu"; "cuda" (numba-cuda: arrays, and
        the arrays read from files, on the GPU); "auto" (the GPU when one is usable). What counted
        is in params["device"].
    class_names : list of str, str or os.PathLike, optional
        The name of each class, kept in `Counts.class_names` (saved with the Counts, shown in
        tables, CSV, charts and exports): a list of str; a built-in list, "cityscapes" (19
        trainIds), "voc" (21), "camvid" (SegNet's 11) or "ade20k" (150, as mmsegmentation);
        or a names file (one name per line, or lines "id name ...";
        `fastweights.model.class_names`). Default: the names of a built-in `colormap`, if any.
        A number of names other than the number of classes counted is a warning. Names never
        change the counts (nor a checkpoint's or the cache's validity).
    label_map : dict, sequence, array, str or os.PathLike, optional
        Source label -> class, applied to each image's counts (docs/label-maps.md): a dict
        {source: target}, a look-up table (a list or 1-D integer array, index = source label), a
        JSON file holding either, "cityscapes" (labelIds to the 19 trainIds, the rest ignored) or
        "compact" (the labels met, ascending, become classes 0..K-1; their ids are in
        `Counts.label_ids`). A target equal to an ignore_index value is ignored; a label the map
        does not name is an error unless it is an ignore_index value. num_classes is of the targets.
    reduce_zero_label : bool, default False
        mmsegmentation's convention (after label_map): 0 ignored, k -> k - 1, 255 ignored; labels
        outside 0..255 are an error. Recorded, with label_map, in params.
    storage_options : dict, optional
        For URLs: handed to fsspec as it is (e.g. {"anon": True}, {"profile": "x"},
        {"client_kwargs": {"endpoint_url": "http://minio:9000"}}); needs `pip install
        "fastweights[remote]"` (gcsfs for gs://, adlfs for az://). Never saved with the Counts, a
        checkpoint or the cache; objects are known there by URL, size and ETag (or version).
    drop_behind : bool, default False
        Drop the pages of each local file from the page cache once they are counted
        (posix_fadvise DONTNEED; Linux and other POSIX systems), so that a count over more data
        than memory does not push the files the machine is otherwise using out of the cache.
        Files counted this way are cold for the next reader, even if they were cached before.
        Never changes the counts.

    Returns
    -------
    Counts
        The per-class statistics of every input counted (of the shard's inputs with `shard`), and
        the physical volume of each class where the inputs have a voxel size (`Counts.volumes`).

    Warns
    -----
    UserWarning
        The inputs have more than one voxel size: `Counts.volumes` accounts for each image's own
        size, and `Counts.voxel_sizes` lists them.

    Raises
    ------
    fastweights.errors.InputError
        An input cannot be counted (a damaged file, a negative or out-of-range label...), with
        on_error="raise": the first bad input in input order, named in the message.
    FileNotFoundError
        A path, folder, pattern, URL or bucket that names nothing.
    PermissionError
        A URL whose listing is denied (an object whose reading is denied is an InputError).
    ValueError, TypeError
        A keyword out of its range or of the wrong type, named in the message (also client= and
        comm= together).
    fastweights.errors.Interrupted
        SIGINT or SIGTERM during a count with `checkpoint`, once the checkpoint is written.
    fastweights.errors.DeviceUnavailable
        device="cuda" and no GPU can count here (a RuntimeError naming what is missing).
    ImportError
        A format, `client`, `comm` or `device` needs an optional package that is not installed;
        the message gives the pip command that installs it.

    Warns
    -----
    UserWarning
        Once, at the end of the count: label 255 counted as a class beside a few classes only, or
        masks of 0 and 255 only, with neither ignore_index nor num_classes (255 most likely marks
        void pixels: ignore_index=255 leaves it out, num_classes=256 keeps it as a class); a
        sample without num_classes (the classes it missed are not known); a number of class_names
        other than the number of classes counted; inputs skipped with on_error="skip". Per input:
        float labels, all integral, counted as integers.
    """
    # Every keyword but these three is a setting, and Settings.build takes each by name: an option
    # added to one and not the other fails at once (tests/engine/test_settings.py).
    keywords = dict(locals())
    for name in ("inputs", "client", "comm"):
        del keywords[name]
    settings = Settings.build(**keywords)
    if client is not None and comm is not None:
        raise ValueError("client= and comm=: count on a Dask cluster or across MPI ranks, not both")
    if client is not None:
        counts = dask.count(inputs, settings, client)
    elif comm is not None:
        on_ranks = mpi.count(inputs, settings, comm, root=None)
        assert on_ranks is not None  # without a root, every rank has them
        counts = on_ranks
    else:
        counts = local.count(inputs, settings)
    review(counts, settings)
    # Renumbered once, at the end: the shares of threads, tasks and ranks add by label id.
    return counts.compacted() if settings.label_map is not None and settings.label_map.compact else counts
