"""Class-weight schemes for segmentation losses, computed from exact per-class pixel counts.

Notation used throughout: n_c is the pixel count of class c; a class is *present* when
n_c > 0 and only present classes take part in a scheme; N = sum of n_c; f_c = n_c / N;
K = number of present classes; C = number of classes (len(pixels)).

Counts are converted to float64 only for the arithmetic: ratios of counts beyond 2**53 lose
a few ulps, never overflow, and no count is ever summed in an integer type that could wrap.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable, Iterable
from typing import Any, Literal, Optional, Union

import numpy as np
import numpy.typing as npt

__all__ = [
    "SCHEMES",
    "SCHEME_PARAMS",
    "Absent",
    "Normalize",
    "Scheme",
    "check_level",
    "check_options",
    "class_weights",
    "pos_weight",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Scheme = Literal["inverse", "balanced", "median", "enet", "sqrt", "effective", "log"]
Normalize = Optional[Literal["sum", "mean", "max"]]
Absent = Union[float, Literal["max", "error"]]  # what a class with no pixels gets
Clip = Union[None, float, tuple[Optional[float], Optional[float]]]

SCHEMES: dict[Scheme, str] = {
    "inverse": "N / n_c: classic inverse class frequency 1 / f_c.",
    "balanced": "N / (K * n_c): King & Zeng 2001; scikit-learn compute_class_weight('balanced').",
    "median": (
        "median(freq) / freq_c with freq_c = n_c / pixels of the images containing c: "
        "median frequency balancing, Eigen & Fergus ICCV 2015; SegNet."
    ),
    "enet": "1 / ln(k + f_c), k=1.02 (ERFNet/ESPNet use 1.10): Paszke et al. 2016 (ENet).",
    "sqrt": "1 / sqrt(f_c): square-root frequency, Mahajan et al. ECCV 2018.",
    "effective": (
        "(1 - beta) / (1 - beta**n_c) normalised to sum K, beta = 1 - 1/N by default: "
        "effective number of samples, Cui et al. CVPR 2019."
    ),
    "log": ("ln(N / n_c), or max(1, ln(mu * N / n_c)) with mu given (Keras recipe, mu=0.15): nnU-Net discussions."),
}

# The keywords each scheme takes besides the options every scheme shares (absent, normalize, clip).
SCHEME_PARAMS: dict[str, tuple[str, ...]] = {
    "inverse": (),
    "balanced": (),
    "median": ("median_of",),
    "enet": ("k",),
    "sqrt": (),
    "effective": ("beta",),
    "log": ("mu",),
}

_NORMALIZE = ("sum", "mean", "max")
_ABSENT_POLICIES: tuple[Literal["max", "error"], ...] = ("max", "error")

# float64 nearest to the largest uint64: integral floats beyond it are not pixel counts, and
# admitting them would let the sum N overflow to inf.
_MAX_COUNT = 2.0**64


def class_weights(
    pixels: npt.ArrayLike,
    image_pixels: npt.ArrayLike | None,
    scheme: Scheme = "median",
    *,
    absent: Absent = 0.0,
    normalize: Normalize = None,
    clip: Clip = None,
    **params: object,
) -> FloatArray:
    """Per-class loss weights (float64, length C) from per-class pixel counts.

    ``pixels[c]`` is the pixel count of class c; ``image_pixels[c]`` the total pixels of the
    images containing class c (used by ``median`` only; may be None for the other schemes).
    ``scheme`` is a key of SCHEMES; ``params`` are its parameters (``k`` for enet, ``beta``
    for effective, ``mu`` for log, ``median_of`` for median).

    The scheme's weights for present classes are then, in order: normalised (``normalize``:
    None, "sum" so the vector sums to C, "mean" so present classes average 1, "max" so the
    largest is 1), clipped (``clip``: an upper bound or a (low, high) pair, either may be
    None), and absent classes filled (``absent``: a finite number >= 0, "max" for the largest
    present weight, or "error"). The result never holds inf or NaN.
    """
    counts = _as_counts(pixels, "pixels")
    low, high, absent, scheme_params = _parse_options(scheme, absent, normalize, clip, params, counts.size)
    image_counts: FloatArray | None = None
    if image_pixels is not None:
        image_counts = _as_counts(image_pixels, "image_pixels")
        _check_image_counts(image_counts, counts)
    elif scheme == "median":
        raise ValueError("scheme 'median' needs image_pixels, got None")

    present = counts > 0
    _check_present(present, absent)
    if not present.any():
        return np.full(counts.shape, absent, dtype=np.float64)

    n = counts[present]
    if scheme == "median":
        assert image_counts is not None  # checked above: median needs image_pixels
        weights = _median(n, image_counts[present], _median_mask(scheme_params["median_of"], present))
    else:
        weights = _SCHEME_FUNCTIONS[scheme](n, **scheme_params)
    if not np.all(np.isfinite(weights)):
        raise ValueError(
            f"scheme {scheme!r} gave non-finite weights for classes "
            f"{np.flatnonzero(present)[~np.isfinite(weights)].tolist()}"
        )
    weights = _normalize(weights, normalize, counts.size)
    if low is not None or high is not None:
        weights = np.clip(weights, low, high)
    return _fill_absent(weights, present, absent)


def check_options(
    scheme: Scheme = "median",
    *,
    absent: Absent = 0.0,
    normalize: Normalize = None,
    clip: Clip = None,
    level: float = 0.95,
    **params: object,
) -> None:
    """Raises the ValueError or TypeError `Counts.weights` would raise for these options, before
    any count exists (the command line checks its flags before counting). What depends on the
    counts is left to `class_weights`: median_of's ids against the classes, absent="error"."""
    _parse_options(scheme, absent, normalize, clip, params, None)
    check_level(level)


def check_level(level: object) -> float:
    """The confidence level of an estimate's intervals, in (0, 1)."""
    value = _real(level, "level")
    if not 0.0 < value < 1.0:
        raise ValueError(f"level={level!r}: expected a confidence level between 0 and 1, e.g. 0.95")
    return value


def _parse_options(
    scheme: object, absent: object, normalize: object, clip: object, params: dict[str, object], num_classes: int | None
) -> tuple[float | None, float | None, Absent, dict[str, Any]]:
    """(clip low, clip high, absent, the scheme's parameters), each checked; median_of's ids
    against num_classes when it is known."""
    if not isinstance(scheme, str) or scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; valid schemes: {', '.join(SCHEMES)}")
    unexpected = sorted(set(params) - set(SCHEME_PARAMS[scheme]))
    if unexpected:
        accepted = ", ".join(SCHEME_PARAMS[scheme]) or "none"
        raise TypeError(
            f"scheme {scheme!r} got unexpected parameter(s) {', '.join(unexpected)}; it accepts: {accepted}"
        )
    if normalize is not None and (not isinstance(normalize, str) or normalize not in _NORMALIZE):
        raise ValueError(f"normalize={normalize!r}: expected None, 'sum', 'mean' or 'max'")
    low, high = _parse_clip(clip)
    return low, high, _parse_absent(absent), _parse_params(scheme, params, num_classes)


def pos_weight(pixels: npt.ArrayLike, *, absent: Absent = 0.0) -> FloatArray:
    """``pos_weight`` for BCEWithLogitsLoss: negatives / positives, float64.

    Two classes are read as a binary mask (class 1 positive) and give shape (1,):
    [n_0 / n_1]. Otherwise each class is one-vs-rest, (N - n_c) / n_c, shape (C,).
    A class with no positives gets ``absent`` (a finite number >= 0, "max" or "error").
    """
    counts = _as_counts(pixels, "pixels")
    absent = _parse_absent(absent)
    if counts.size == 2:
        if counts[1] == 0:
            if isinstance(absent, str):
                raise ValueError(f"class 1 has no pixels, so no positive weight (absent={absent!r})")
            return np.array([absent], dtype=np.float64)
        return np.array([counts[0] / counts[1]])

    present = counts > 0
    _check_present(present, absent)
    if not present.any():
        return np.full(counts.shape, absent, dtype=np.float64)
    # Sum the other classes rather than compute N - n_c: that difference loses the rest
    # entirely when one class outnumbers all the others by more than 2**53.
    before = np.concatenate(([0.0], np.cumsum(counts)[:-1]))
    after = np.concatenate((np.cumsum(counts[::-1])[::-1][1:], [0.0]))
    negatives = before + after
    return _fill_absent(negatives[present] / counts[present], present, absent)


def _inverse(n: FloatArray) -> FloatArray:
    return float(n.sum()) / n


def _balanced(n: FloatArray) -> FloatArray:
    return float(n.sum()) / (n.size * n)


def _median(n: FloatArray, image_n: FloatArray, median_mask: BoolArray) -> FloatArray:
    frequency = n / image_n
    return float(np.median(frequency[median_mask])) / frequency


def _enet(n: FloatArray, k: float) -> FloatArray:
    # log1p of (k - 1) + f keeps the digits of f_c that k + f_c would round away.
    return 1.0 / np.log1p((k - 1.0) + n / float(n.sum()))


def _sqrt(n: FloatArray) -> FloatArray:
    return np.sqrt(float(n.sum()) / n)


def _effective(n: FloatArray, beta: float | None) -> FloatArray:
    if beta is None:
        # Pixel counts are in the millions, where every beta of the paper (0.9 .. 0.9999)
        # makes beta**n_c vanish and the weights uniform; 1 - 1/N keeps them informative.
        one_minus_beta = 1.0 / n.sum()
    else:
        one_minus_beta = 1.0 - beta
    if one_minus_beta == 1.0:
        # beta == 0: every class has effective number 1 (and log1p(-1) would be -inf).
        weights = np.ones_like(n)
    else:
        # 1 - beta**n == -expm1(n * log1p(-(1 - beta))), precise even for beta within 1e-12 of 1.
        weights = one_minus_beta / -np.expm1(n * np.log1p(-one_minus_beta))
    return weights * (n.size / float(weights.sum()))


def _log(n: FloatArray, mu: float | None) -> FloatArray:
    ratio = float(n.sum()) / n
    if mu is None:
        return np.log(ratio)
    # ln(mu) + ln(N / n_c) rather than ln(mu * N / n_c): the product may overflow.
    return np.maximum(1.0, math.log(mu) + np.log(ratio))


_SCHEME_FUNCTIONS: dict[str, Callable[..., FloatArray]] = {
    "inverse": _inverse,
    "balanced": _balanced,
    "enet": _enet,
    "sqrt": _sqrt,
    "effective": _effective,
    "log": _log,
}


def _as_counts(values: npt.ArrayLike, name: str) -> FloatArray:
    """Validated float64 copy of a 1-D vector of non-negative integral counts."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} must hold at least one class, got an empty array")
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold integer counts, got dtype {array.dtype}")
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array) | (array != np.floor(array)) | (array > _MAX_COUNT)
        if bad.any():
            c = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name}[{c}] must be an integral count, got {array[c].item()!r}")
    if array.dtype.kind != "u" and (array < 0).any():
        c = int(np.flatnonzero(array < 0)[0])
        raise ValueError(f"{name}[{c}] must be >= 0, got {array[c].item()!r}")
    return array.astype(np.float64)


def _check_image_counts(image_counts: FloatArray, counts: FloatArray) -> None:
    if image_counts.shape != counts.shape:
        raise ValueError(f"image_pixels must have the shape of pixels {counts.shape}, got {image_counts.shape}")
    # Rounding to float64 is monotone, so this never rejects a valid pair of counts.
    smaller = image_counts < counts
    if smaller.any():
        c = int(np.flatnonzero(smaller)[0])
        raise ValueError(
            f"image_pixels[{c}] = {image_counts[c]:.0f} is less than pixels[{c}] = "
            f"{counts[c]:.0f}: the images containing class {c} hold at least its pixels"
        )


def _parse_params(scheme: str, params: dict[str, Any], num_classes: int | None) -> dict[str, Any]:
    """The scheme's parameters, defaults filled in and values checked."""
    if scheme == "median":
        return {"median_of": _parse_median_of(params.get("median_of"), num_classes)}
    if scheme == "enet":
        k = _real(params.get("k", 1.02), "k")
        if not k > 1.0:
            raise ValueError(f"k={k!r}: enet's k must be > 1")
        return {"k": k}
    if scheme == "effective":
        beta = params.get("beta")
        if beta is not None:
            beta = _real(beta, "beta")
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"beta={beta!r}: effective's beta must be in [0, 1)")
        return {"beta": beta}
    if scheme == "log":
        mu = params.get("mu")
        if mu is not None:
            mu = _real(mu, "mu")
            if not mu > 0.0:
                raise ValueError(f"mu={mu!r}: log's mu must be > 0")
        return {"mu": mu}
    return {}


def _parse_median_of(median_of: object, num_classes: int | None) -> list[int] | None:
    """Sorted unique class ids from median_of, or None for all present classes; ids checked
    against num_classes when it is known."""
    if median_of is None:
        return None
    if isinstance(median_of, (str, bytes)) or not isinstance(median_of, Iterable):
        raise TypeError(f"median_of={median_of!r}: expected an iterable of class ids")
    given = list(median_of)
    ids = set()
    for class_id in given:
        try:
            c = operator.index(class_id)
        except TypeError:
            raise TypeError(f"median_of={given!r}: {class_id!r} is not an integer class id") from None
        if c < 0 or (num_classes is not None and c >= num_classes):
            limit = "" if num_classes is None else f" (0..{num_classes - 1})"
            raise ValueError(f"median_of={given!r}: {c} is not a class id{limit}")
        ids.add(c)
    if not ids:
        raise ValueError("median_of=[]: expected at least one class id")
    return sorted(ids)


def _median_mask(median_of: list[int] | None, present: BoolArray) -> BoolArray:
    """Mask over the present classes selecting those whose frequencies form the median."""
    if median_of is None:
        return np.ones(int(present.sum()), dtype=bool)
    absent_ids = [c for c in median_of if not present[c]]
    if absent_ids:
        raise ValueError(f"median_of={median_of!r}: classes {absent_ids} have no pixels")
    chosen = np.zeros(present.shape, dtype=bool)
    chosen[median_of] = True
    return chosen[present]


def _normalize(weights: FloatArray, normalize: str | None, num_classes: int) -> FloatArray:
    if normalize is None:
        return weights
    if normalize == "sum":
        scale = float(weights.sum()) / num_classes
    elif normalize == "mean":
        scale = float(weights.mean())
    else:
        scale = float(weights.max())
    if not scale > 0.0:
        raise ValueError(f"cannot normalize={normalize!r}: every present weight is 0")
    return weights / scale


def _parse_clip(clip: object) -> tuple[float | None, float | None]:
    """(low, high) from clip, each a float or None."""
    if clip is None:
        return None, None
    if isinstance(clip, numbers.Real):
        return None, _bound(clip, clip)
    bounds = list(clip) if isinstance(clip, (tuple, list, np.ndarray)) else []
    if len(bounds) != 2:
        raise TypeError(f"clip={clip!r}: expected None, a number or a (low, high) pair")
    low, high = (None if bound is None else _bound(bound, clip) for bound in bounds)
    if low is not None and high is not None and low > high:
        raise ValueError(f"clip={clip!r}: low {low!r} is greater than high {high!r}")
    return low, high


def _bound(value: object, clip: object) -> float:
    bound = _real(value, "clip", clip)
    if bound < 0.0:
        raise ValueError(f"clip={clip!r}: a bound must be >= 0")
    return bound


def _parse_absent(absent: object) -> Absent:
    if isinstance(absent, str):
        for policy in _ABSENT_POLICIES:
            if absent == policy:
                return policy
        raise ValueError(f"absent={absent!r}: expected a number >= 0, 'max' or 'error'")
    value = _real(absent, "absent")
    if value < 0.0:
        raise ValueError(f"absent={value!r}: expected a number >= 0")
    return value


def _check_present(present: BoolArray, absent: Absent) -> None:
    if not present.any() and isinstance(absent, str):
        raise ValueError(f"no class has any pixels, so absent={absent!r} cannot apply")
    if absent == "error" and not present.all():
        raise ValueError(f"classes with no pixels: {np.flatnonzero(~present).tolist()} (absent='error')")


def _fill_absent(weights: FloatArray, present: BoolArray, absent: Absent) -> FloatArray:
    # absent == "error" never reaches the fill: _check_present has raised if a class is absent.
    result = np.empty(present.shape, dtype=np.float64)
    result[present] = weights
    if not present.all():
        result[~present] = weights.max() if absent == "max" else absent
    return result


def _real(value: object, name: str, given: object = None) -> float:
    """value as a finite float; bools are rejected: True/False are never meant as numbers here.
    `given` is the whole argument `value` is part of (a clip pair), shown in the message."""
    shown = value if given is None else given
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}={shown!r}: expected a real number")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name}={shown!r}: expected a finite number")
    return number
