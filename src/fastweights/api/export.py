"""Counts and weights in the forms other tools take: tensors and arguments for PyTorch, Keras,
segmentation_models_pytorch, MONAI and mmsegmentation; JSON and CSV; the text each framework's
configuration takes. A framework is imported only by the function that needs it, when called.

What each expects (and the traps):
- PyTorch `CrossEntropyLoss(weight=)` / `NLLLoss(weight=)`: a float tensor of C weights on the
  logits' device (`torch_weight`).
- `BCEWithLogitsLoss(pos_weight=)`: negatives / positives per class, broadcast against the target;
  for (N, C, H, W) targets it must be (C, 1, 1), or it lines up with W (`torch_pos_weight`).
- Keras: `class_weight=` does not work for segmentation targets; weights go per pixel through
  `sample_weight` (`keras_sample_weight` makes the map; `keras_class_weight` the dict).
- segmentation_models_pytorch Dice / Jaccard / Focal losses: `class_weights=` a list; the loss is
  sum(w_c * loss_c) / sum(w_c), so the scale of the weights does not matter (`smp_class_weights`).
- MONAI `DiceLoss` / `DiceCELoss(weight=)`: multiplies each class's loss by its weight without
  renormalising, and without class 0 when include_background=False (`monai_weights` drops it and
  scales the rest to mean 1, so the loss keeps its usual size).
- mmsegmentation: `class_weight=` a list in the config, or a path to a .npy / .json file
  (`mmseg_class_weight`).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..base._optional import MissingDependency
from ..model.counts import Counts

__all__ = [
    "counts_csv",
    "counts_json",
    "keras_class_weight",
    "keras_sample_weight",
    "keras_text",
    "mmseg_class_weight",
    "mmseg_text",
    "monai_weights",
    "save_torch_weight",
    "smp_class_weights",
    "torch_pos_weight",
    "torch_sampler",
    "torch_text",
    "torch_weight",
    "weights_csv",
    "weights_json",
]


def _share(counts: Counts) -> np.ndarray:
    return counts.pixels / counts.n_pixels if counts.n_pixels else np.zeros(counts.num_classes)


def _name(names: Sequence[str], c: int) -> str:
    return names[c] if c < len(names) else ""


def counts_json(
    counts: Counts,
    weights: np.ndarray | None = None,
    scheme: str = "",
    options: Any = None,
    names: Sequence[str] | None = None,
) -> str:
    """The Counts as JSON, in the file format `Counts.load` reads, with the weights beside them.

    `fastweights count --format json` and `fastweights weights --format json` both print this
    document: the Counts file, and with weights a "weights" member, as `weights_json` writes it.

    Parameters
    ----------
    counts : Counts
    weights : ndarray, optional
        Weights to add under "weights", with the scheme and options that made them.
    scheme : str, default ""
        The weights' scheme.
    options : mapping, optional
        The weights' options, the keywords of `Counts.weights` (normalize, absent, clip, the
        scheme's parameters).
    names : sequence of str, optional
        The class names written (default: `counts.class_names`).

    Returns
    -------
    str
        One line of JSON: the keys of `Counts.to_dict`, and "weights": {"scheme": ..., "options":
        {...}, "values": [...]} when weights are given.
    """
    data = counts.to_dict()
    if names is not None:
        data["class_names"] = list(names)
    if weights is not None:
        data["weights"] = _weights_entry(weights, scheme, options)
    return json.dumps(data)


def counts_csv(counts: Counts, weights: np.ndarray | None = None, names: Sequence[str] | None = None) -> str:
    """The per-class table as CSV.

    Parameters
    ----------
    counts : Counts
    weights : ndarray, optional
        Adds a weight column.
    names : sequence of str, optional
        Class names, by class id (default: `counts.class_names`); classes past its end get an
        empty name.

    Returns
    -------
    str
        A header and one row per class: class[, label], name, pixels, share, images[, volume_mm3 (or
        volume_mm2) when `counts.volumes` is there][, weight]; "label" (the original label of each
        class) for Counts of label_map="compact".
    """
    if names is None:
        names = counts.class_names
    labels = counts.label_ids
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    volumes = counts.volumes
    volume = [] if volumes is None else [f"volume_{counts.volume_unit}".replace("³", "3").replace("²", "2")]
    writer.writerow(
        [
            "class",
            *(["label"] if labels is not None else []),
            *("name", "pixels", "share", "images"),
            *volume,
            *(["weight"] if weights is not None else []),
        ]
    )
    share = _share(counts)
    for c in range(counts.num_classes):
        row: list[object] = [c, *([int(labels[c])] if labels is not None else [])]
        row += [_name(names, c), int(counts.pixels[c]), f"{share[c]:.9g}", int(counts.images[c])]
        if volumes is not None:
            row.append(repr(float(volumes[c])))
        if weights is not None:
            row.append(repr(float(weights[c])))
        writer.writerow(row)
    return out.getvalue()


def weights_json(weights: np.ndarray, scheme: str, options: Any = None) -> str:
    """The weights alone as JSON: the "weights" member of `counts_json`'s document.

    Parameters
    ----------
    weights : ndarray
        One weight per class.
    scheme : str
        The scheme that made them.
    options : mapping, optional
        The options that made them (the keywords of `Counts.weights`).

    Returns
    -------
    str
        One line of JSON: {"scheme": ..., "options": {...}, "values": [...]}, and for an
        estimate's weights "interval": {"level": ..., "low": [...], "high": [...]} (null for a
        class the sample never saw).
    """
    return json.dumps(_weights_entry(weights, scheme, options))


def _weights_entry(weights: np.ndarray, scheme: str, options: Any) -> dict[str, Any]:
    entry = {"scheme": scheme, "options": dict(options or {}), "values": [float(w) for w in weights]}
    if getattr(weights, "low", None) is not None:  # an estimate's: its bootstrap interval (null: never seen)
        entry["interval"] = {
            "level": float(weights.level),  # type: ignore[attr-defined]
            **{
                bound: [None if np.isnan(b) else float(b) for b in getattr(weights, bound)] for bound in ("low", "high")
            },
        }
    return entry


def weights_csv(weights: np.ndarray, names: Sequence[str] = ()) -> str:
    """The weights as CSV.

    Parameters
    ----------
    weights : ndarray
        One weight per class.
    names : sequence of str, default ()
        Class names, by class id; classes past its end get an empty name.

    Returns
    -------
    str
        A header and one row per class: class, name, weight (exact float repr).
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["class", "name", "weight"])
    for c, weight in enumerate(weights):
        writer.writerow([c, _name(names, c), repr(float(weight))])
    return out.getvalue()


def _floats(weights: np.ndarray) -> str:
    return ", ".join(repr(float(w)) for w in weights)


def torch_text(weights: np.ndarray) -> str:
    """A line to paste before `CrossEntropyLoss(weight=weight)`.

    Parameters
    ----------
    weights : ndarray
        One weight per class.

    Returns
    -------
    str
        `weight = torch.tensor([...], dtype=torch.float32)`.
    """
    return f"weight = torch.tensor([{_floats(weights)}], dtype=torch.float32)"


def keras_text(weights: np.ndarray) -> str:
    """Keras' per-pixel `sample_weight` recipe for masks, as lines of Python.

    Keras' `class_weight=` is no way to weight the classes of masks: Keras 2 refuses targets of
    more than 2 dims ("`class_weight` not supported for 3+ dimensional targets.", in
    `_make_class_weight_map_fn` of keras/engine/data_adapter.py), and Keras 3 takes the argmax of
    the target's last axis as each sample's class (`class_weight_to_sample_weights` in
    keras/src/trainers/data_adapters/data_adapter_utils.py, `make_class_weight_map_fn` in
    tf_dataset_adapter.py), which for a (N, H, W) mask is the column of its largest label. The
    weights reach the loss per pixel instead, as the third element of each (x, y, sample_weight).

    Parameters
    ----------
    weights : ndarray
        One weight per class.

    Returns
    -------
    str
        Comments, then `weights = np.array([...], dtype=np.float32)` and
        `sample_weight = weights[y]` (y: a batch of integer masks), runnable as they are.
    """
    return "\n".join(
        [
            "# Keras: class_weight= does not weight masks (Keras 2 refuses targets of more than 2 dims,",
            "# Keras 3 reads the argmax of their last axis); weight each pixel through sample_weight,",
            "# the third element of each (x, y, sample_weight) batch.",
            "import numpy as np",
            "",
            f"weights = np.array([{_floats(weights)}], dtype=np.float32)",
            "sample_weight = weights[y]  # y: integer masks, e.g. (N, H, W); model.fit(x, y, sample_weight=...)",
            "# tf.data: dataset.map(lambda x, y: (x, y, tf.gather(weights, y)))",
            "# labels to leave out (255...): fastweights.export.keras_sample_weight(weights, ignore_index=255)",
        ]
    )


def mmseg_text(weights: np.ndarray) -> str:
    """The line for an mmsegmentation loss config (`loss_decode=dict(..., class_weight=[...])`).

    Parameters
    ----------
    weights : ndarray
        One weight per class.

    Returns
    -------
    str
        `class_weight=[...]`.
    """
    return f"class_weight=[{_floats(weights)}]"


def save_torch_weight(path: str | os.PathLike[str], weights: np.ndarray) -> None:
    """Saves the weights as a float32 tensor with `torch.save` (load it with `torch.load`).

    Parameters
    ----------
    path : str or os.PathLike
        The .pt file to write.
    weights : ndarray
        One weight per class.

    Raises
    ------
    ImportError
        PyTorch is not installed.
    """
    torch = _torch(f"{os.fspath(path)}: saving a .pt tensor (without -o, --format torch prints a line instead)")
    torch.save(torch.tensor(np.asarray(weights, np.float32)), os.fspath(path))


def mmseg_class_weight(weights: npt.ArrayLike, path: str | os.PathLike[str]) -> None:
    """Writes the file mmsegmentation's `class_weight=` accepts: a .npy array or a .json list.

    Parameters
    ----------
    weights : array_like of float
        One weight per class (e.g. `Counts.weights(...)`).
    path : str or os.PathLike
        Ending in .npy (a float32 array) or .json (a list of floats).

    Raises
    ------
    ValueError
        `path` ends in neither .npy nor .json, or `weights` is not one finite, non-negative
        weight per class.
    """
    path = os.fspath(path)
    values = _class_vector(weights)
    if path.endswith(".npy"):
        np.save(path, values.astype(np.float32))
    elif path.endswith(".json"):
        with open(path, "w", encoding="utf-8") as file:
            json.dump([float(w) for w in values], file)
    else:
        raise ValueError(f"{path}: mmsegmentation reads class weights from a .npy or a .json file")


# ---- PyTorch -----------------------------------------------------------------------------------


def _torch(purpose: str) -> Any:
    try:
        import torch
    except ImportError as error:
        raise MissingDependency(f"{purpose} needs PyTorch, which is not installed (pip install torch)") from error
    return torch


def _class_vector(weights: npt.ArrayLike, name: str = "weights") -> np.ndarray:
    values = np.asarray(weights, np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"{name}: expected one weight per class (a 1-D sequence), got shape {values.shape}")
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError(f"{name}: weights must be finite and not negative")
    return values


def torch_weight(weights: npt.ArrayLike, device: Any = None) -> Any:
    """The weights as a tensor for `CrossEntropyLoss(weight=)` / `NLLLoss(weight=)`.

    Parameters
    ----------
    weights : array_like of float
        One weight per class (e.g. `Counts.weights(...)`).
    device : torch.device or str, optional
        Where the tensor is made (the logits' device); default PyTorch's default device.

    Returns
    -------
    torch.Tensor
        float32, shape (C,).

    Raises
    ------
    ImportError
        PyTorch is not installed.
    ValueError
        `weights` is not one finite, non-negative weight per class (1-D, not empty).
    """
    torch = _torch("torch_weight")
    return torch.as_tensor(_class_vector(weights).astype(np.float32), device=device)


def torch_pos_weight(counts: Counts | npt.ArrayLike, ndim: int = 2, device: Any = None) -> Any:
    """`BCEWithLogitsLoss(pos_weight=)` for targets of shape (N, C, *spatial).

    Parameters
    ----------
    counts : Counts or array_like of float
        Counts (their `pos_weight()`: negatives / positives of each class), or the values.
    ndim : int, default 2
        The targets' spatial dimensions (2 for images, 3 for volumes).
    device : torch.device or str, optional
        Where the tensor is made.

    Returns
    -------
    torch.Tensor
        float32, shape (C, 1, ..., 1) with `ndim` ones, so that it lines up with C and not with
        the last spatial axis.

    Raises
    ------
    ImportError
        PyTorch is not installed.
    ValueError
        `ndim` is not a non-negative int, or the values are not one finite, non-negative weight
        per class.
    """
    torch = _torch("torch_pos_weight")
    if isinstance(ndim, bool) or not isinstance(ndim, int) or ndim < 0:
        raise ValueError(f"ndim={ndim!r}: expected the number of spatial dimensions (2 for images)")
    values = counts.pos_weight() if isinstance(counts, Counts) else _class_vector(counts, "pos_weight")
    shaped = np.asarray(values, np.float32).reshape((-1,) + (1,) * ndim)
    return torch.as_tensor(shaped, device=device)


def torch_sampler(
    weights: npt.ArrayLike, num_samples: int | None = None, *, replacement: bool = True, seed: int | None = None
) -> Any:
    """A `WeightedRandomSampler` over the images of `counts.sample_weights(...)`.

    Parameters
    ----------
    weights : array_like of float
        One weight per image, in `counts.sources` order: build the dataset in that order.
    num_samples : int, optional
        Images drawn per epoch; default as many as there are images.
    replacement : bool, default True
        Draw with replacement.
    seed : int, optional
        Seeds the sampler's own generator; default PyTorch's global one.

    Returns
    -------
    torch.utils.data.WeightedRandomSampler

    Raises
    ------
    ImportError
        PyTorch is not installed.
    ValueError
        `weights` is not one finite, non-negative weight per image (1-D, not empty).
    """
    torch = _torch("torch_sampler")
    values = np.asarray(weights, np.float64)
    if values.ndim != 1 or values.size == 0 or not np.isfinite(values).all() or (values < 0).any():
        raise ValueError("torch_sampler: expected one finite, non-negative weight per image")
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    return torch.utils.data.WeightedRandomSampler(
        torch.as_tensor(values), num_samples or values.size, replacement=replacement, generator=generator
    )


# ---- Keras -------------------------------------------------------------------------------------


def keras_class_weight(weights: npt.ArrayLike) -> dict[int, float]:
    """Keras' `class_weight`, for targets of one class per sample (not masks).

    Parameters
    ----------
    weights : array_like of float
        One weight per class (e.g. `Counts.weights(...)`).

    Returns
    -------
    dict of int to float
        {class id: weight}.

    Raises
    ------
    ValueError
        `weights` is not one finite, non-negative weight per class (1-D, not empty).
    """
    return {index: float(value) for index, value in enumerate(_class_vector(weights))}


def keras_sample_weight(
    weights: npt.ArrayLike, ignore_index: int | Iterable[int] | None = None
) -> Callable[[Any], Any]:
    """Per-pixel weights for Keras' `sample_weight`, the way class weights reach a segmentation loss.

    Parameters
    ----------
    weights : array_like of float
        One weight per class (e.g. `Counts.weights(...)`).
    ignore_index : int or iterable of int, optional
        Labels whose pixels get weight 0 (e.g. 255), whether or not they have a weight.

    Returns
    -------
    callable
        From a batch of integer label maps to their per-pixel weights (float32): weight[label],
        and 0 for the `ignore_index` labels. A label that has no weight (outside [0, C)) and is
        not ignored raises ValueError naming it (with TensorFlow tensors, InvalidArgumentError
        when the map runs): weighting it 0 would drop pixels from the loss unseen. Takes numpy
        arrays, and TensorFlow tensors (also inside `tf.data.Dataset.map`) when TensorFlow is there.

    Raises
    ------
    ValueError
        `weights` is not one finite, non-negative weight per class (1-D, not empty), or
        `ignore_index` is not integers; (when called) a label with no weight that is not ignored.
    TypeError
        (When called) labels that are not integers.
    """
    table = _class_vector(weights).astype(np.float32)
    ignored = _ignored_labels(ignore_index)
    size = table.size

    def outside(labels: Any) -> str:
        return (
            f"keras_sample_weight: label(s) {labels} have no weight (there are {size}, for labels 0 to "
            f"{size - 1}) and are not in ignore_index={list(ignored)}; pass the labels to leave out as "
            "ignore_index, or one weight per class"
        )

    def weigh(labels: Any) -> Any:
        if type(labels).__module__.startswith("tensorflow"):
            import tensorflow as tf

            ids = tf.cast(labels, tf.int64)
            inside = (ids >= 0) & (ids < size)
            left_out = tf.zeros_like(inside)
            for value in ignored:
                left_out |= ids == value
            bad = ~(inside | left_out)
            check = tf.debugging.Assert(~tf.reduce_any(bad), [outside("below"), tf.boolean_mask(ids, bad)], summarize=8)
            with tf.control_dependencies([check]):
                looked_up = tf.gather(tf.constant(table), tf.clip_by_value(ids, 0, size - 1))
            return tf.where(inside & ~left_out, looked_up, tf.zeros_like(looked_up))
        ids = np.asarray(labels)
        if ids.dtype.kind not in "biu":
            raise TypeError(f"keras_sample_weight: expected integer labels, got {ids.dtype}")
        inside = (ids >= 0) & (ids < size)
        left_out = np.isin(ids, ignored) if ignored else np.zeros(ids.shape, bool)
        bad = ~(inside | left_out)
        if bad.any():
            found = np.unique(ids[bad])
            shown = ", ".join(str(int(v)) for v in found[:8]) + (
                f" ... ({found.size} in all)" if found.size > 8 else ""
            )
            raise ValueError(outside(shown))
        return np.where(inside & ~left_out, table[np.clip(ids, 0, size - 1)], np.float32(0))

    return weigh


def _ignored_labels(ignore_index: int | Iterable[int] | None) -> tuple[int, ...]:
    if ignore_index is None:
        values: list[Any] = []
    elif isinstance(ignore_index, (int, np.integer)):
        values = [ignore_index]
    else:
        values = list(ignore_index)
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in values):
        raise ValueError(f"ignore_index={ignore_index!r}: expected an integer label or several")
    return tuple(int(v) for v in values)


# ---- segmentation_models_pytorch, MONAI ---------------------------------------------------------


def smp_class_weights(weights: npt.ArrayLike) -> list[float]:
    """`class_weights=` of segmentation_models_pytorch's DiceLoss, JaccardLoss and FocalLoss.

    Parameters
    ----------
    weights : array_like of float
        One weight per class (e.g. `Counts.weights(...)`).

    Returns
    -------
    list of float
        The weights as they are (multiclass and multilabel modes): scale-free, the loss divides
        by their sum.

    Raises
    ------
    ValueError
        `weights` is not one finite, non-negative weight per class (1-D, not empty).
    """
    return [float(value) for value in _class_vector(weights)]


def monai_weights(weights: npt.ArrayLike, include_background: bool = True, normalize: bool = True) -> list[float]:
    """`weight=` of MONAI's DiceLoss / DiceCELoss / GeneralizedDiceFocalLoss.

    Parameters
    ----------
    weights : array_like of float
        One weight per class (e.g. `Counts.weights(...)`).
    include_background : bool, default True
        False drops class 0, as MONAI requires with its own include_background=False.
    normalize : bool, default True
        Scale to mean 1 (MONAI multiplies each class's loss by its weight and does not
        renormalise, so the loss keeps its usual size).

    Returns
    -------
    list of float

    Raises
    ------
    ValueError
        `weights` is not one finite, non-negative weight per class, include_background=False
        with fewer than two classes, or normalize with every weight 0.
    """
    values = _class_vector(weights)
    if not include_background:
        if values.size < 2:
            raise ValueError("monai_weights: include_background=False needs at least two classes")
        values = values[1:]
    if normalize:
        if values.sum() == 0:
            raise ValueError("monai_weights: every weight is 0")
        values = values / values.mean()
    return [float(value) for value in values]
