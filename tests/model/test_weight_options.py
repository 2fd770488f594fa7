"""The options of class_weights around a scheme: absent classes, normalize and clip, median_of, and
the errors that name a wrong argument (the formulas themselves: test_weights.py)."""

import math

import numpy as np
import pytest

from fastweights.model.weights import SCHEMES, check_options, class_weights

# Small example used by the hand-computed tests: N = 1000, f = [0.6, 0.3, 0.1], K = 3,
# class 3 absent.
PIXELS = np.array([600, 300, 100, 0], dtype=np.uint64)
# freq = n / image_pixels = [0.6, 0.5, 0.25]; median 0.5.
IMAGE_PIXELS = np.array([1000, 600, 400, 200], dtype=np.uint64)


def weights(scheme, pixels=PIXELS, image_pixels=IMAGE_PIXELS, **kwargs):
    return class_weights(pixels, image_pixels, scheme, **kwargs)


# --- absent classes ------------------------------------------------------------------------


def test_absent_default_is_zero():
    assert weights("inverse")[3] == 0.0


def test_absent_float():
    np.testing.assert_allclose(weights("inverse", absent=2.5), [5 / 3, 10 / 3, 10.0, 2.5])


def test_absent_max_takes_largest_after_normalize_and_clip():
    assert weights("inverse", absent="max")[3] == 10.0
    w = weights("inverse", absent="max", normalize="mean", clip=1.5)
    np.testing.assert_allclose(w, [1 / 3, 2 / 3, 1.5, 1.5])


def test_absent_error_lists_classes():
    with pytest.raises(ValueError, match=r"\[1, 3\]"):
        class_weights([5, 0, 2, 0], None, "inverse", absent="error")


def test_absent_error_passes_when_all_present():
    np.testing.assert_allclose(class_weights([1, 3], None, "inverse", absent="error"), [4, 4 / 3])


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_all_absent_numeric(scheme):
    w = class_weights([0, 0, 0], [0, 0, 0], scheme, absent=1.5)
    np.testing.assert_array_equal(w, [1.5, 1.5, 1.5])
    np.testing.assert_array_equal(class_weights([0, 0], [0, 0], scheme), [0.0, 0.0])


@pytest.mark.parametrize("absent", ["max", "error"])
def test_all_absent_policy_raises(absent):
    with pytest.raises(ValueError, match="no class has any pixels"):
        class_weights([0, 0, 0], None, "inverse", absent=absent)


@pytest.mark.parametrize("absent", [-1.0, math.inf, math.nan, "min", "MAX"])
def test_bad_absent_value(absent):
    with pytest.raises(ValueError, match="absent"):
        weights("inverse", absent=absent)


@pytest.mark.parametrize("absent", [None, [1.0], True])
def test_bad_absent_type(absent):
    with pytest.raises(TypeError, match="absent"):
        weights("inverse", absent=absent)


# --- normalize and clip --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("normalize", "expected"),
    [
        # inverse = [5/3, 10/3, 10] sums to 15: "sum" scales by C / 15 = 4 / 15
        ("sum", [4 / 9, 8 / 9, 8 / 3, 0.0]),
        # mean over present classes is 5
        ("mean", [1 / 3, 2 / 3, 2.0, 0.0]),
        ("max", [1 / 6, 1 / 3, 1.0, 0.0]),
    ],
)
def test_normalize(normalize, expected):
    w = weights("inverse", normalize=normalize)
    np.testing.assert_allclose(w, expected, rtol=1e-12)


def test_normalize_sum_counts_absent_classes_in_c():
    assert weights("balanced", normalize="sum").sum() == pytest.approx(4.0)
    assert weights("balanced", normalize="sum", absent="max").sum() > 4.0


@pytest.mark.parametrize(
    ("clip", "expected"),
    [
        (5, [5 / 3, 10 / 3, 5.0, 0.0]),
        ((2, None), [2.0, 10 / 3, 10.0, 0.0]),
        ((None, 5.0), [5 / 3, 10 / 3, 5.0, 0.0]),
        ((2, 5), [2.0, 10 / 3, 5.0, 0.0]),
        ((None, None), [5 / 3, 10 / 3, 10.0, 0.0]),
    ],
)
def test_clip(clip, expected):
    np.testing.assert_allclose(weights("inverse", clip=clip), expected, rtol=1e-12)


def test_clip_applies_after_normalize_and_not_to_absent():
    # normalize="max" gives [1/6, 1/3, 1]; the lower bound then lifts 1/6; absent stays 0
    w = weights("inverse", normalize="max", clip=(0.25, None))
    np.testing.assert_allclose(w, [0.25, 1 / 3, 1.0, 0.0], rtol=1e-12)


@pytest.mark.parametrize("clip", [(5, 2), (-1, None), (None, math.inf), (math.nan, 1)])
def test_bad_clip_value(clip):
    with pytest.raises(ValueError, match="clip"):
        weights("inverse", clip=clip)


@pytest.mark.parametrize("clip", ["5", (1, 2, 3), ("a", 2)])
def test_bad_clip_type(clip):
    with pytest.raises(TypeError, match="clip"):
        weights("inverse", clip=clip)


@pytest.mark.parametrize("normalize", ["l2", "Sum", 1, True])
def test_bad_normalize(normalize):
    with pytest.raises(ValueError, match="normalize"):
        weights("inverse", normalize=normalize)


def test_normalize_all_zero_log_weights_raises():
    # One class holds every pixel: ln(N / n) = 0, which cannot be scaled to sum, mean or max 1.
    np.testing.assert_array_equal(class_weights([0, 7], None, "log"), [0.0, 0.0])
    with pytest.raises(ValueError, match="every present weight is 0"):
        class_weights([0, 7], None, "log", normalize="max")


# --- median_of -----------------------------------------------------------------------------


def test_median_of_subset():
    # freq = [0.6, 0.5, 0.25]; median of classes 0 and 1 is 0.55
    np.testing.assert_allclose(weights("median", median_of=[0, 1]), [0.55 / 0.6, 1.1, 2.2, 0.0], rtol=1e-12)
    # median of class 2 alone is 0.25
    np.testing.assert_allclose(weights("median", median_of=(np.int64(2),)), [0.25 / 0.6, 0.5, 1.0, 0.0], rtol=1e-12)


def test_median_of_default_is_all_present_classes():
    np.testing.assert_array_equal(weights("median", median_of=[2, 0, 1]), weights("median"))


def test_median_of_absent_class():
    with pytest.raises(ValueError, match="3"):
        weights("median", median_of=[0, 3])


@pytest.mark.parametrize("median_of", [[4], [-1], []])
def test_median_of_bad_ids(median_of):
    with pytest.raises(ValueError, match="median_of"):
        weights("median", median_of=median_of)


@pytest.mark.parametrize("median_of", [[0.5], "01", 3])
def test_median_of_bad_types(median_of):
    with pytest.raises(TypeError):
        weights("median", median_of=median_of)


def test_median_needs_image_pixels():
    with pytest.raises(ValueError, match="image_pixels"):
        class_weights(PIXELS, None, "median")


def test_median_is_the_default_scheme():
    np.testing.assert_array_equal(class_weights(PIXELS, IMAGE_PIXELS), weights("median"))


# --- argument errors -----------------------------------------------------------------------


def test_unknown_scheme_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown scheme 'focal'.*inverse.*effective"):
        weights("focal")


@pytest.mark.parametrize(("scheme", "param"), [("inverse", "k"), ("median", "beta"), ("enet", "mu"), ("log", "k")])
def test_unknown_param_names_param_and_scheme(scheme, param):
    with pytest.raises(TypeError, match=f"'{scheme}'.*{param}"):
        weights(scheme, **{param: 1.5})


@pytest.mark.parametrize(
    ("scheme", "params"),
    [
        ("enet", {"k": 1.0}),
        ("enet", {"k": 0.5}),
        ("enet", {"k": math.inf}),
        ("effective", {"beta": 1.0}),
        ("effective", {"beta": -0.1}),
        ("effective", {"beta": 1 - 1e-17}),  # rounds to 1.0
        ("log", {"mu": 0.0}),
        ("log", {"mu": -1.0}),
    ],
)
def test_bad_param_values(scheme, params):
    with pytest.raises(ValueError, match=next(iter(params))):
        weights(scheme, **params)


def test_bad_param_values_checked_even_when_nothing_is_present():
    with pytest.raises(ValueError, match="k"):
        class_weights([0, 0], None, "enet", k=0.5)


@pytest.mark.parametrize(
    "pixels",
    [[[1, 2], [3, 4]], [], [1, -2, 3], [1.0, 2.5], [1.0, math.nan], [1.0, math.inf], [2.0**65]],
)
def test_bad_pixels_values(pixels):
    with pytest.raises(ValueError, match="pixels"):
        class_weights(pixels, None, "inverse")


@pytest.mark.parametrize("pixels", [["a", "b"], [True, False], [1 + 2j]])
def test_bad_pixels_types(pixels):
    with pytest.raises(TypeError, match="pixels"):
        class_weights(pixels, None, "inverse")


def test_integral_floats_and_python_ints_accepted():
    expected = weights("inverse")
    for pixels in ([600.0, 300.0, 100.0, 0.0], [600, 300, 100, 0], np.array(PIXELS, np.int16)):
        np.testing.assert_array_equal(class_weights(pixels, None, "inverse"), expected)


def test_image_pixels_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        class_weights(PIXELS, IMAGE_PIXELS[:3], "median")


def test_image_pixels_smaller_than_pixels_names_class():
    with pytest.raises(ValueError, match=r"image_pixels\[1\]"):
        class_weights(PIXELS, [1000, 200, 400, 200], "median")


def test_image_pixels_validated_for_every_scheme():
    with pytest.raises(ValueError, match=r"image_pixels\[1\]"):
        class_weights(PIXELS, [1000, 200, 400, 200], "inverse")


# --- check_options: the same checks before any count ---------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "options", "error"),
    [
        ("focal", {}, ValueError),
        ("inverse", {"k": 1.5}, TypeError),
        ("enet", {"k": 0.5}, ValueError),
        ("effective", {"beta": 1.0}, ValueError),
        ("log", {"mu": -1.0}, ValueError),
        ("median", {"median_of": [-1]}, ValueError),
        ("median", {"median_of": []}, ValueError),
        ("inverse", {"clip": (5, 2)}, ValueError),
        ("inverse", {"absent": "min"}, ValueError),
        ("inverse", {"normalize": "l2"}, ValueError),
    ],
)
def test_check_options_raises_what_class_weights_raises(scheme, options, error):
    with pytest.raises(error) as expected:
        weights(scheme, **options)
    with pytest.raises(error) as checked:
        check_options(scheme, **options)
    assert str(expected.value).startswith(str(checked.value))  # without counts, median_of has no range to name


def test_check_options_leaves_what_depends_on_the_counts():
    check_options("median", median_of=[10**6], absent="error", normalize="max", clip=(0.1, None))
    check_options("enet", k=1.1)
