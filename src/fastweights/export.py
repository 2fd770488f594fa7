"""Counts and weights in the forms other tools read: JSON, CSV, and the text each framework's
configuration takes. Frameworks are imported only by the functions that need them."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._optional import MissingDependency
from .counts import Counts

__all__ = [
    "counts_csv",
    "counts_json",
    "keras_text",
    "mmseg_text",
    "save_mmseg_class_weight",
    "save_torch_weight",
    "torch_text",
    "weights_csv",
    "weights_json",
]


def _share(counts: Counts) -> np.ndarray:
    return counts.pixels / counts.n_pixels if counts.n_pixels else np.zeros(counts.num_classes)


def _name(names: Sequence[str], c: int) -> str:
    return names[c] if c < len(names) else ""


def counts_json(counts: Counts, weights: np.ndarray | None = None, scheme: str = "", options: Any = None) -> str:
    """The Counts file format (`Counts.load` reads it back), with the weights shown beside it."""
    data = counts.to_dict()
    if weights is not None:
        data["weights"] = {"scheme": scheme, **(options or {}), "values": [float(w) for w in weights]}
    return json.dumps(data)


def counts_csv(counts: Counts, weights: np.ndarray | None = None, names: Sequence[str] = ()) -> str:
    """One row per class: class, name, pixels, share, images[, weight]."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["class", "name", "pixels", "share", "images", *(["weight"] if weights is not None else [])])
    share = _share(counts)
    for c in range(counts.num_classes):
        row = [c, _name(names, c), int(counts.pixels[c]), f"{share[c]:.9g}", int(counts.images[c])]
        if weights is not None:
            row.append(repr(float(weights[c])))
        writer.writerow(row)
    return out.getvalue()


def weights_json(weights: np.ndarray, scheme: str, options: Any = None) -> str:
    return json.dumps({"scheme": scheme, **(options or {}), "weights": [float(w) for w in weights]})


def weights_csv(weights: np.ndarray, names: Sequence[str] = ()) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["class", "name", "weight"])
    for c, weight in enumerate(weights):
        writer.writerow([c, _name(names, c), repr(float(weight))])
    return out.getvalue()


def _floats(weights: np.ndarray) -> str:
    return ", ".join(repr(float(w)) for w in weights)


def torch_text(weights: np.ndarray) -> str:
    """A line to paste before `CrossEntropyLoss(weight=weight)`."""
    return f"weight = torch.tensor([{_floats(weights)}], dtype=torch.float32)"


def keras_text(weights: np.ndarray) -> str:
    """Keras' class_weight: {class id: weight}."""
    return "class_weight = {" + ", ".join(f"{c}: {float(w)!r}" for c, w in enumerate(weights)) + "}"


def mmseg_text(weights: np.ndarray) -> str:
    """The line for an mmsegmentation loss config (`loss_decode=dict(..., class_weight=[...])`)."""
    return f"class_weight=[{_floats(weights)}]"


def save_torch_weight(path: str | os.PathLike, weights: np.ndarray) -> None:
    """A float32 tensor saved with torch.save (load it with torch.load)."""
    try:
        import torch  # type: ignore[import-not-found]
    except ImportError as error:
        raise MissingDependency(
            f"{os.fspath(path)}: saving a .pt tensor needs PyTorch, which is not installed (pip install torch); "
            "without -o, --format torch prints a line to paste instead"
        ) from error
    torch.save(torch.tensor(np.asarray(weights, np.float32)), os.fspath(path))


def save_mmseg_class_weight(path: str | os.PathLike, weights: np.ndarray) -> None:
    """The file mmsegmentation's class_weight accepts: a .npy array or a .json list."""
    path = os.fspath(path)
    if path.endswith(".npy"):
        np.save(path, np.asarray(weights, np.float32))
    elif path.endswith(".json"):
        with open(path, "w", encoding="utf-8") as file:
            json.dump([float(w) for w in weights], file)
    else:
        raise ValueError(f"{path}: mmsegmentation reads class weights from a .npy or a .json file")
