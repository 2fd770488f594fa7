"""What a finished count may have got wrong, said once at its end from the classes of its Counts
(so it costs nothing per file): label 255 that most likely marks void pixels, a sample that cannot
know the classes it missed, class names that do not match the classes counted, masks of
several voxel sizes (their volumes are exact, each image at its own size, but worth knowing).

The 255 rule: with no `ignore_index` and no `num_classes`, label 255 present, no label above it and
none from 101 to 254 reads as "a few classes plus void" (VOC, Cityscapes trainIds, ADE20K with
reduce_zero_label): counting 255 as a class makes 256 weights, most of them for empty classes. A data
set of more than 100 classes that uses 255 fills part of that range. Masks holding 0 and 255 only are
ambiguous (binary masks saved as 0/255 are common): the warning names both readings. Either option
(`ignore_index=255`, or `num_classes=256` to count 255 as a class) says what 255 is, and silences it.

A negative label needs no warning: without `ignore_index` it is an InputError that names the
file, the value and `ignore_index=` (classify.py), so -1 never becomes a class.
"""

from __future__ import annotations

import warnings

from ..model.class_names import warn_if_mismatched
from ..model.counts import Counts
from .settings import Settings

__all__ = ["VOID", "review"]

VOID = 255
# Labels from FEW_CLASSES + 1 to 254 absent: the classes are few, and 255 is not one of them.
FEW_CLASSES = 100


def review(counts: Counts, settings: Settings, stacklevel: int = 2) -> None:
    """Warns of what `counts`, counted with `settings`, most likely got wrong; `stacklevel` as
    warnings.warn's, counted from the caller of `review`."""
    level = stacklevel + 1
    if not settings.ignore_index and settings.num_classes is None:
        _void_label(counts, level + 1)
    if settings.sample is not None and settings.num_classes is None:
        drawn = counts.params.get("estimate", {})
        warnings.warn(
            f"fastweights: a sample of {drawn.get('sample', counts.n_images):,} of "
            f"{drawn.get('population', counts.n_images):,} inputs, and no num_classes: the sample cannot know "
            f"the classes it missed, and classes above its largest label ({counts.num_classes - 1}) have no "
            "entry in the counts or the weights; pass num_classes= (the data set's number of classes)",
            UserWarning,
            stacklevel=level,
        )
    if settings.class_names is not None:
        warn_if_mismatched(settings.class_names, counts.num_classes, stacklevel=level)
    sizes = counts.voxel_sizes
    if len(sizes) > 1:
        shown = ", ".join(
            f"{' x '.join(f'{length:g}' for length in size)} mm ({n} images)" for size, n in sizes.items()
        )
        warnings.warn(
            f"fastweights: the masks have {len(sizes)} voxel sizes ({shown}); counts.volumes accounts for "
            "each image's own voxel size, counts.voxel_sizes lists them",
            UserWarning,
            stacklevel=level,
        )


def _void_label(counts: Counts, stacklevel: int) -> None:
    classes, (pixels, _, _) = counts._statistics()
    if counts.num_classes != VOID + 1 or not classes.size or classes[-1] != VOID:
        return
    others = classes[:-1]
    if others.size and others[-1] > FEW_CLASSES:
        return
    void_pixels = f"{int(pixels[-1]):,} pixel{'' if pixels[-1] == 1 else 's'}"
    if not others.size or (others.size == 1 and others[0] == 0):
        message = (
            f"fastweights: the labels are 0 and 255 only ({void_pixels} of 255), counted as classes 0 "
            "and 255 of 256: if these are binary masks saved as 0/255, 255 is the foreground class (its weight "
            "at index 255; pass num_classes=256 to say so); if 255 marks void pixels, pass ignore_index=255 "
            "(--ignore-index 255)"
        )
    else:
        message = (
            f"fastweights: label 255 ({void_pixels}) was counted as class 255, beside classes up to "
            f"{int(others[-1])} only: it most likely marks void pixels, and the weights now have 256 entries, "
            f"{255 - others.size} of them for empty classes; pass ignore_index=255 (--ignore-index 255) to leave "
            "it out, or num_classes=256 to count it as a class"
        )
    warnings.warn(message, UserWarning, stacklevel=stacklevel)
