"""`Settings`: every choice of one count, checked once, where `count()` receives them.

`fastweights.count` hands its keywords to `Settings.build`, which checks each one (a wrong one is a
ValueError or TypeError naming the argument) and resolves it (a colormap name to its colours, "i/N"
to (i, N)); every engine and backend below takes the one frozen `Settings` from there (Dask and MPI
send it to their workers and ranks), so an option is written once: in count's signature, here,
and, where it has one, in its command-line flag.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Optional, TypeVar, Union

import numpy as np

from ..io.colormaps import Colormap, ColormapSpec, UnknownColor, resolve_colormap
from ..io.images import ReadOptions
from ..kernels._tally import label_bounds
from ..model.class_names import ClassNamesSpec, resolve_class_names
from ..model.label_maps import LabelMap, LabelMapSpec, resolve_label_map
from .progress import ProgressSpec
from .shards import parse_shard

__all__ = ["MAX_CLASSES", "DeviceChoice", "OnError", "Settings", "UnknownColor", "default_threads"]

# A class id this large would make the per-class arrays hundreds of megabytes: almost surely not
# a class but an instance id or garbage.
MAX_CLASSES = 1 << 24

OnError = Literal["raise", "skip"]
DeviceChoice = Optional[Literal["cpu", "cuda", "auto"]]
ON_ERROR: tuple[OnError, ...] = ("raise", "skip")
UNKNOWN_COLORS: tuple[UnknownColor, ...] = ("error", "ignore")
DEVICES: tuple[DeviceChoice, ...] = (None, "cpu", "cuda", "auto")
Choice = TypeVar("Choice")
Sample = Union[float, int, None]


def default_threads() -> int:
    """The CPUs this process may run on (launchers like srun and mpiexec narrow this)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Settings:
    """One count's settings, checked and resolved (the meaning of each is in `fastweights.count`)."""

    num_classes: int | None = None
    ignore_index: tuple[int, ...] = ()  # sorted, each once
    threads: int | None = None  # None: as many as the process may use (on Dask: the worker's threads)
    per_image: bool = False
    stack_axis: int | None = None
    colormap: Colormap | None = None  # with unknown_color in it
    allow_lossy: bool = False
    on_error: OnError = "raise"
    progress: ProgressSpec = False
    checkpoint: str | None = None
    checkpoint_every: float = 60.0
    cache: str | None = None
    sample: Sample = None
    seed: int = 0
    shard: tuple[int, int] | None = None
    device: DeviceChoice = None
    class_names: tuple[str, ...] | None = None  # None: not given (a built-in colormap's names, if any)
    label_map: LabelMap | None = None  # with reduce_zero_label folded in
    reduce_zero_label: bool = False
    # Handed to fsspec as they are, for URLs; never in a checkpoint, the cache or the Counts (they may hold secrets).
    storage_options: dict[str, Any] | None = None
    drop_behind: bool = False

    @classmethod
    def build(
        cls,
        *,
        num_classes: object,
        ignore_index: object,
        threads: object,
        per_image: object,
        stack_axis: object,
        colormap: ColormapSpec,
        unknown_color: object,
        allow_lossy: object,
        on_error: object,
        progress: ProgressSpec,
        checkpoint: str | os.PathLike[str] | None,
        checkpoint_every: object,
        cache: str | os.PathLike[str] | None,
        sample: object,
        seed: object,
        shard: object,
        device: object,
        class_names: ClassNamesSpec,
        label_map: LabelMapSpec,
        reduce_zero_label: object,
        storage_options: object,
        drop_behind: object,
    ) -> Settings:
        """The Settings of `count()`'s keywords (every one of them, by name), each checked."""
        classes, ignore = _check_num_classes(num_classes), _check_ignore(ignore_index)
        resolved = resolve_label_map(label_map, reduce_zero_label, ignore, classes, MAX_CLASSES)
        return cls(
            num_classes=classes,
            ignore_index=ignore,
            threads=_check_threads(threads),
            per_image=bool(per_image) or sample is not None,  # the bootstrap of an estimate resamples images
            stack_axis=_check_stack_axis(stack_axis),
            colormap=resolve_colormap(colormap, _check_choice("unknown_color", unknown_color, UNKNOWN_COLORS)),
            allow_lossy=bool(allow_lossy),
            on_error=_check_choice("on_error", on_error, ON_ERROR),
            progress=progress,
            checkpoint=None if checkpoint is None else os.fspath(checkpoint),
            checkpoint_every=_check_seconds(checkpoint_every),
            cache=None if cache is None else os.fspath(cache),
            sample=_check_sample(sample),
            seed=_check_seed(seed),
            shard=None if shard is None else parse_shard(shard) if isinstance(shard, str) else _check_shard(shard),
            device=_check_choice("device", device, DEVICES),
            class_names=resolve_class_names(class_names),
            label_map=resolved,
            reduce_zero_label=resolved is not None and resolved.reduce_zero_label,
            storage_options=_check_storage_options(storage_options),
            drop_behind=bool(drop_behind),
        )

    @property
    def workers(self) -> int:
        """The threads this process counts with."""
        return default_threads() if self.threads is None else self.threads

    @property
    def read(self) -> ReadOptions:
        """How the readers turn files into images."""
        return ReadOptions(self.stack_axis, self.colormap, self.allow_lossy, self.drop_behind)

    @property
    def names(self) -> tuple[str, ...]:
        """The names the Counts get: those given, else a built-in colormap's."""
        if self.class_names is not None:
            return self.class_names
        return () if self.colormap is None else self.colormap.class_names

    @property
    def bounds(self) -> tuple[int, int] | None:
        """The range the labels of a valid image lie in, when known: num_classes bounds the classes,
        which a label map's sources are not."""
        if self.label_map is not None and self.label_map.folds:
            lo, hi = self.label_map.bounds()
            return min((lo, *self.ignore_index)), max((hi, *(value + 1 for value in self.ignore_index)))
        return label_bounds(self.num_classes, self.ignore_index)


def _check_num_classes(num_classes: object) -> int | None:
    if num_classes is None:
        return None
    if (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, (int, np.integer))
        or not 1 <= num_classes <= MAX_CLASSES
    ):
        raise ValueError(f"num_classes={num_classes!r}: expected an integer from 1 to {MAX_CLASSES}")
    return int(num_classes)


def _check_ignore(ignore_index: object) -> tuple[int, ...]:
    if ignore_index is None:
        return ()
    values = [ignore_index] if isinstance(ignore_index, (int, np.integer)) else ignore_index
    if not isinstance(values, Iterable):
        raise TypeError(f"ignore_index={ignore_index!r}: expected an integer or a list of integers")
    checked = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"ignore_index={ignore_index!r}: {value!r} is not an integer")
        checked.append(int(value))
    return tuple(sorted(set(checked)))


def _check_stack_axis(stack_axis: object) -> int | None:
    if stack_axis is None:
        return None
    if isinstance(stack_axis, bool) or not isinstance(stack_axis, (int, np.integer)):
        raise TypeError(f"stack_axis={stack_axis!r}: expected an integer axis or None")
    return int(stack_axis)


def _check_threads(threads: object) -> int | None:
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads={threads!r}: expected a positive integer")
    return int(threads)


def _check_seconds(every: object) -> float:
    if isinstance(every, bool) or not isinstance(every, (int, float, np.integer, np.floating)) or not every > 0:
        raise ValueError(f"checkpoint_every={every!r}: expected a positive number of seconds")
    return float(every)


def _check_sample(sample: object) -> Sample:
    """A share (0 < sample < 1) or a whole number of inputs (>= 1)."""
    if sample is None:
        return None
    if isinstance(sample, bool) or not isinstance(sample, (int, float, np.integer, np.floating)):
        raise TypeError(f"sample={sample!r}: expected a share (0 < sample < 1) or a number of inputs")
    if isinstance(sample, (int, np.integer)) or sample >= 1:
        if sample != int(sample) or not 1 <= sample:
            raise ValueError(f"sample={sample!r}: expected a share (0 < sample < 1) or a whole number of inputs")
        return int(sample)
    if not sample > 0:
        raise ValueError(f"sample={sample!r}: expected a share (0 < sample < 1) or a number of inputs")
    return float(sample)


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed={seed!r}: expected an integer")
    return int(seed)


def _check_shard(shard: object) -> tuple[int, int]:
    if (
        not isinstance(shard, tuple)
        or len(shard) != 2
        or not all(isinstance(part, int) and not isinstance(part, bool) for part in shard)
    ):
        raise TypeError(f"shard={shard!r}: expected (i, N) or 'i/N'")
    return parse_shard(f"{shard[0]}/{shard[1]}")


def _check_storage_options(options: object) -> dict[str, Any] | None:
    if options is None:
        return None
    if not isinstance(options, Mapping) or not all(isinstance(key, str) for key in options):
        raise TypeError(f"storage_options: expected a dict of fsspec options (str keys), got {type(options).__name__}")
    return dict(options)


def _check_choice(name: str, value: object, choices: tuple[Choice, ...]) -> Choice:
    for choice in choices:
        if value == choice:
            return choice
    raise ValueError(f"{name}={value!r}: expected one of {', '.join(map(repr, choices))}")
