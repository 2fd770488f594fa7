"""The weights of a `Counts`, as its methods: pure functions of its statistics (`weights`,
`sampling`, `estimate`), mixed into the class so that counts.py keeps to the data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import weights as _weights
from .sampling import SamplingScheme, sample_weights
from .weights import Absent, Normalize, Scheme

if TYPE_CHECKING:
    from .per_image import PerImageTable

__all__ = ["WeightMethods"]


class WeightMethods:
    """Class weights, sampling weights and pos_weight of the statistics `Counts` holds."""

    if TYPE_CHECKING:  # what Counts provides

        @property
        def pixels(self) -> np.ndarray: ...
        @property
        def image_pixels(self) -> np.ndarray: ...
        @property
        def per_image_sparse(self) -> PerImageTable | None: ...

        params: dict[str, Any]

    def weights(
        self,
        scheme: Scheme = "median",
        *,
        absent: Absent = 0.0,
        normalize: Normalize = None,
        clip: float | tuple[float | None, float | None] | None = None,
        level: float = 0.95,
        **params: Any,
    ) -> np.ndarray:
        """Class weights by a scheme of `fastweights.SCHEMES`.

        Parameters
        ----------
        scheme : str, default "median"
            A key of `fastweights.SCHEMES`: "inverse", "balanced", "median", "enet", "sqrt",
            "effective" or "log".
        absent : float or {"max", "error"}, default 0.0
            What a class with no pixels gets: a number, the largest weight, or a ValueError.
        normalize : {None, "sum", "mean", "max"}, default None
            None (as published), "sum" (sum = num_classes), "mean" (mean 1), "max" (max 1).
        clip : float or (float or None, float or None), optional
            An upper bound, or a (low, high) pair, applied after normalize.
        level : float, default 0.95
            Of an estimate only: the confidence level of the bootstrap interval.
        **params
            The scheme's own parameters: k for enet, beta for effective, mu for log, median_of
            for median.

        Returns
        -------
        ndarray of float64
            One weight per class, never inf or NaN. Of an estimate (`count(..., sample=...)`), an
            `EstimatedWeights` array: the same values, with `.low` and `.high`, the bounds of a
            `level` bootstrap interval over the sampled images.

        Raises
        ------
        ValueError
            An unknown scheme or normalize, a parameter out of its range (level too, estimate or
            not), absent="error" with a class that has no pixels, or every present weight 0 under
            normalize.
        TypeError
            A parameter the scheme does not take, or one of the wrong type.
        """
        _weights.check_level(level)
        values = _weights.class_weights(
            self.pixels, self.image_pixels, scheme, absent=absent, normalize=normalize, clip=clip, **params
        )
        if not self.is_estimate or self.per_image_sparse is None:
            return values
        from .estimate import estimated_weights

        options = {"normalize": normalize, "clip": clip, **params}
        return estimated_weights(self.per_image_sparse, values, scheme, options, level=level)

    @property
    def is_estimate(self) -> bool:
        """Whether the Counts were made from a random sample of the inputs (`count(..., sample=...)`).

        params["estimate"] says how.
        """
        return "estimate" in self.params

    def sample_weights(self, scheme: SamplingScheme = "repeat_factor", **params: Any) -> np.ndarray:
        """Per-image sampling weights, aligned with `sources`.

        Parameters
        ----------
        scheme : {"repeat_factor", "rare_class"}, default "repeat_factor"
            "repeat_factor" (LVIS) or "rare_class" (DAFormer). See `fastweights.model.sampling`.
        **params
            t=0.001 (repeat_factor); temperature=0.01 (rare_class); min_pixels=1 (the pixels of
            a class an image must hold to count as holding it).

        Returns
        -------
        ndarray of float64
            One weight per image.

        Raises
        ------
        ValueError
            The Counts have no per-image table (count with per_image=True), an unknown scheme or
            a parameter out of its range.
        """
        if self.per_image_sparse is None:
            raise ValueError("sample_weights needs the per-image table: count with per_image=True")
        return sample_weights(self.per_image_sparse, scheme, **params)

    def pos_weight(self, *, absent: Absent = 0.0) -> np.ndarray:
        """Negatives / positives of each class, `BCEWithLogitsLoss(pos_weight=)`.

        Parameters
        ----------
        absent : float or {"max", "error"}, default 0.0
            What a class with no pixels gets, as for `weights`.

        Returns
        -------
        ndarray of float64
            Shape (1,) for binary masks (two classes), else one per class.

        Raises
        ------
        ValueError
            A class with no pixels and absent="error"; for binary masks, class 1 with no pixels
            and absent "max" or "error".
        """
        return _weights.pos_weight(self.pixels, absent=absent)

    def class_weight_dict(self, scheme: Scheme = "median", **options: Any) -> dict[int, float]:
        """The weights as {class id: weight}, the form Keras' `class_weight` takes.

        Parameters
        ----------
        scheme : str, default "median"
            As for `weights`.
        **options
            As for `weights`.

        Returns
        -------
        dict of int to float

        Raises
        ------
        ValueError, TypeError
            As for `weights`.
        """
        return {index: float(value) for index, value in enumerate(self.weights(scheme, **options))}
