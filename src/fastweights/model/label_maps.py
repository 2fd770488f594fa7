"""Label maps: source label -> target class, applied to each image's tally (never to its pixels).

`resolve_label_map` turns count()'s `label_map=` and `reduce_zero_label=` into one `LabelMap`: a
dict, a look-up table (a sequence or 1-D integer array, index = source label), a JSON file holding
either, or a built-in name ("cityscapes", "compact"); reduce_zero_label=True is mmsegmentation's
convention (0 ignored, k -> k - 1, 255 stays ignored). The engine folds the tally of every image
through `LabelMap.lookup`, so each statistic is exactly that of the mapped masks. "compact" is no
per-image fold: the classes met are renumbered 0..K-1 once the count is done (`Counts.compacted`).
Lives on the `model` floor so that the engine (which folds) and Counts (which records) share it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

__all__ = ["BUILTIN_MAPS", "CITYSCAPES_TRAIN_IDS", "LabelMap", "LabelMapSpec", "resolve_label_map"]

LabelMapSpec = Union[None, str, "os.PathLike[str]", Mapping[Any, Any], Sequence[int], np.ndarray]

# Cityscapes (id, trainId) of cityscapesScripts' cityscapesscripts/helpers/labels.py: labelIds 0-33
# and -1 (license plate) to the 19 training classes; trainId 255 and -1 are left out of training.
CITYSCAPES_TRAIN_IDS = (
    (0, 255), (1, 255), (2, 255), (3, 255), (4, 255), (5, 255), (6, 255), (7, 0), (8, 1), (9, 255),
    (10, 255), (11, 2), (12, 3), (13, 4), (14, 255), (15, 255), (16, 255), (17, 5), (18, 255), (19, 6),
    (20, 7), (21, 8), (22, 9), (23, 10), (24, 11), (25, 12), (26, 13), (27, 14), (28, 15), (29, 255),
    (30, 255), (31, 16), (32, 17), (33, 18), (-1, -1),
)  # fmt: skip
_CITYSCAPES_IGNORED = (255, -1)
BUILTIN_MAPS = ("cityscapes", "compact")
# mmsegmentation's LoadAnnotations reads masks as uint8: reduce_zero_label maps 0..255 only.
_REDUCE_SOURCES = 256
_REDUCE_IGNORED = 255


@dataclass(frozen=True, eq=False)
class LabelMap:
    """A resolved label map: for each named source label (ascending), its target class, or that
    its pixels are ignored. Plain arrays and tuples: it pickles (Dask and MPI send it in Settings)."""

    given: str | tuple[tuple[int, int], ...] | None  # what was asked for: a built-in name, a table, or None
    reduce_zero_label: bool
    sources: np.ndarray  # int64, ascending, distinct
    targets: np.ndarray  # int64: the class of each source (meaningless where ignored)
    ignored: np.ndarray  # bool: the source's pixels are ignored
    num_classes: int | None  # the classes its targets make (None: inferred from the labels seen)

    @property
    def compact(self) -> bool:
        """The classes met are renumbered 0..K-1 at the end of the count."""
        return self.given == "compact"

    @property
    def folds(self) -> bool:
        """Each image's tally goes through the table (everything but a plain "compact")."""
        return not self.compact or self.reduce_zero_label

    def describe(self) -> str | list[list[int]] | None:
        """`given` as JSON: the built-in name, or [[source, target], ...]."""
        if self.given is None or isinstance(self.given, str):
            return self.given
        return [list(pair) for pair in self.given]

    def identity(self) -> dict[str, Any]:
        """What a checkpoint or a cache must agree on: the map as asked for and as resolved."""
        return {
            "label_map": self.describe(),
            "reduce_zero_label": self.reduce_zero_label,
            "resolved": [self.sources.tolist(), np.where(self.ignored, -1, self.targets).tolist()],
        }

    def bounds(self) -> tuple[int, int]:
        """The range [lo, hi) of the source labels it names."""
        return int(self.sources[0]), int(self.sources[-1]) + 1

    def lookup(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each label: (its target, whether its pixels are ignored, whether the map names it)."""
        where = np.minimum(np.searchsorted(self.sources, values), self.sources.size - 1)
        named = self.sources[where] == values
        return self.targets[where], self.ignored[where] & named, named

    def unnamed(self, name: str, label: int, pixels: int) -> str:
        """The message of a label the map does not name."""
        if self.given in (None, "compact"):  # the labels of reduce_zero_label
            return (
                f"{name}: label {label} ({pixels} pixels) is outside 0..255, the labels reduce_zero_label maps "
                "(mmsegmentation reads masks as uint8, which would wrap it); pass ignore_index="
                f"{label} to leave it out"
            )
        shown = f"the {self.given} label map" if isinstance(self.given, str) else "label_map"
        return (
            f"{name}: label {label} ({pixels} pixels) is not in {shown}; add it to the map, or pass "
            f"ignore_index={label} to leave it out"
        )


def resolve_label_map(
    spec: object, reduce_zero_label: object, ignore_index: tuple[int, ...], num_classes: int | None, max_classes: int
) -> LabelMap | None:
    """The LabelMap of count()'s `label_map` and `reduce_zero_label` (None when neither is asked
    for). Targets equal to an ignore_index value are ignored; the others must be classes in
    [0, num_classes) (or [0, max_classes)). With both, the map comes first and reduce_zero_label
    after it, as in mmsegmentation's LoadAnnotations."""
    if not isinstance(reduce_zero_label, (bool, np.bool_)):
        raise TypeError(f"reduce_zero_label={reduce_zero_label!r}: expected True or False")
    reduce = bool(reduce_zero_label)
    if spec is None and not reduce:
        return None
    given, pairs, own_ignored = _table(spec)
    if given == "compact" and num_classes is not None:
        raise ValueError(
            "label_map='compact' and num_classes: compact numbers the classes met 0..K-1; pass one or the other"
        )
    if given == "compact" and not reduce:
        none = np.zeros(0, np.int64)
        return LabelMap(given, False, none, none, np.zeros(0, bool), None)
    if given in (None, "compact"):  # reduce_zero_label alone (or before compact's renumbering)
        pairs = [(label, label) for label in range(_REDUCE_SOURCES)]
    sources = np.array([source for source, _ in pairs], np.int64)
    targets = np.array([target for _, target in pairs], np.int64)
    ignored = np.isin(targets, own_ignored)
    if reduce:
        targets, ignored = _reduce_zero_label(targets, ignored, spec)
    # ignore_index is of the final targets (and of the labels the map does not name)
    ignored |= np.isin(targets, ignore_index)
    limit = max_classes if num_classes is None else num_classes
    bad = ~ignored & ((targets < 0) | (targets >= limit))
    # reduce_zero_label alone names every uint8 label: a target past num_classes is an error of the
    # image whose label it is (classify names it), not of the map (ADE20K: num_classes=150)
    if bad.any() and given is not None:
        source, target = int(sources[bad][0]), int(targets[bad][0])
        expected = f"below num_classes={num_classes}" if num_classes is not None else f"in [0, {max_classes})"
        raise ValueError(
            f"label_map: label {source} maps to {target}, not a class id {expected}; "
            "map it to an ignore_index value to leave it out"
        )
    kept = targets[~ignored]
    return LabelMap(
        given,
        reduce,
        sources,
        targets,
        ignored,
        None if given in (None, "compact") or not kept.size else int(kept.max()) + 1,
    )


def _table(spec: object) -> tuple[str | tuple[tuple[int, int], ...] | None, list[tuple[int, int]], tuple[int, ...]]:
    """(what was asked for, the (source, target) pairs ascending by source, the map's own ignored targets)."""
    if spec is None:
        return None, [], ()
    if isinstance(spec, str) and spec.lower() in BUILTIN_MAPS:
        name = spec.lower()
        if name == "cityscapes":
            return name, sorted(CITYSCAPES_TRAIN_IDS), _CITYSCAPES_IGNORED
        return name, [], ()
    if isinstance(spec, (str, os.PathLike)):
        path = os.fspath(spec)
        if not os.path.isfile(path):
            raise ValueError(
                f"label_map={spec!r}: not a built-in map ({', '.join(BUILTIN_MAPS)}) nor a JSON file that exists"
            )
        pairs = _pairs(_load_json(path), f"label_map file {path}", from_json=True)
    elif isinstance(spec, (Mapping, Sequence, np.ndarray)):
        pairs = _pairs(spec, "label_map", from_json=False)
    else:
        raise TypeError(
            f"label_map={spec!r}: expected a dict {{source: target}}, a look-up table (a list or 1-D integer "
            f"array), a JSON file or a built-in name ({', '.join(BUILTIN_MAPS)})"
        )
    return tuple(pairs), pairs, ()


def _pairs(table: Any, what: str, from_json: bool) -> list[tuple[int, int]]:
    if isinstance(table, Mapping):
        items = [
            (_label(key, what, "source", from_json), _label(value, what, "target", False))
            for key, value in table.items()
        ]
    elif isinstance(table, np.ndarray):
        if table.ndim != 1 or table.dtype.kind not in "iu":
            raise TypeError(
                f"{what}: a look-up table must be a 1-D integer array, not {table.dtype} of shape {table.shape}"
            )
        items = list(enumerate(table.tolist()))
    elif isinstance(table, Sequence) and not isinstance(table, (str, bytes)):
        items = [(source, _label(target, what, "target", False)) for source, target in enumerate(table)]
    else:
        raise TypeError(
            f"{what}: expected an object {{source: target}} or a list (a look-up table), not {type(table).__name__}"
        )
    if not items:
        raise ValueError(f"{what}: the map is empty")
    sources = [source for source, _ in items]
    if len(set(sources)) != len(sources):
        twice = next(source for source in sources if sources.count(source) > 1)
        raise ValueError(f"{what}: source label {twice} is given twice")
    return sorted(items)


def _label(value: Any, what: str, role: str, from_text: bool) -> int:
    if from_text and isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise ValueError(f"{what}: {role} label {value!r} is not an integer") from None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what}: {role} label {value!r} is not an integer")
    return int(value)


def _load_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except json.JSONDecodeError as error:
        raise ValueError(f"label_map file {path}: not JSON ({error})") from error


def _reduce_zero_label(targets: np.ndarray, ignored: np.ndarray, spec: object) -> tuple[np.ndarray, np.ndarray]:
    """mmsegmentation's `gt[gt == 0] = 255; gt = gt - 1; gt[gt == 254] = 255` on the targets: 0 and
    255 ignored, k -> k - 1. A target outside 0..255 (which mmseg's uint8 would wrap) is refused."""
    outside = ~ignored & ((targets < 0) | (targets >= _REDUCE_SOURCES))
    if outside.any():
        raise ValueError(
            f"label_map={spec!r} with reduce_zero_label: target {int(targets[outside][0])} is outside 0..255, "
            "the labels reduce_zero_label maps"
        )
    return targets - 1, ignored | (targets == 0) | (targets == _REDUCE_IGNORED)
